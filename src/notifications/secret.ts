import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the generated signing secret is kept, under DATA_DIR. */
export const NOTIFY_SECRET_FILE = 'notify-secret';

/** `whsec_` and base64 of 24 to 64 bytes, as Standard Webhooks asks of a symmetric secret. */
export function isNotifySecret(value: string): boolean {
  const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(value);
  if (!match) return false;
  const bytes = Buffer.from(match[1]!, 'base64').length;
  return bytes >= 24 && bytes <= 64;
}

/**
 * The Standard Webhooks signing secret: NOTIFY_SECRET, else one generated on first use and kept in
 * DATA_DIR, so the worker, the CLI (`notify-secret`) and later runs agree on it.
 */
export function resolveNotifySecret(config: { notify: { secret?: string }; dataDir: string }): string {
  if (config.notify.secret) return config.notify.secret;
  const file = join(config.dataDir, NOTIFY_SECRET_FILE);
  const kept = readKept(file);
  if (kept) return kept;
  mkdirSync(config.dataDir, { recursive: true });
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  try {
    // 'wx': when two processes race on first start, the first writer wins and the other re-reads.
    writeFileSync(file, `${secret}\n`, { flag: 'wx', mode: 0o600 });
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readKept(file) ?? secret;
  }
}

function readKept(file: string): string | undefined {
  try {
    const kept = readFileSync(file, 'utf8').trim();
    if (!kept) return undefined;
    if (!isNotifySecret(kept)) {
      throw new Error(`${file} does not hold a whsec_ secret: remove it to generate a new one`);
    }
    return kept;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
