/** Headless Debian Chromium for the browser tests, on a fresh profile each run. */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(
  viewport: { width: number; height: number },
  extraArgs: readonly string[] = [],
): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: \`npm run setup\` installs Debian's chromium (apt-get install -y chromium)`,
    );
  }
  // A fresh profile each run: nothing cached from another run can make the page pass.
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'music-tasks-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
}
