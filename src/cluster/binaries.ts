/**
 * The cluster's Go programs, at the versions in `deploy/temporal/VERSION` and
 * `deploy/temporal-ui/VERSION` (what docker-compose.yml pins too): `scripts/setup.sh --cluster`
 * builds them once per user and copies them into `.tools/bin`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './managedProcess.ts';

/** Where the cluster's configuration files live (the ones docker-compose.yml mounts). */
export const deployDir = join(projectRoot, 'deploy');

const readVersion = (file: string) => readFileSync(join(deployDir, file), 'utf8').trim();

/** The Temporal server version every Temporal server of the project runs. */
export const TEMPORAL_SERVER_VERSION = readVersion('temporal/VERSION');
/** The Temporal UI server version of the cluster (and of docker-compose's temporalio/ui image). */
export const TEMPORAL_UI_VERSION = readVersion('temporal-ui/VERSION');

/** Raised when a program is missing; the message names the command that builds it. */
export class ClusterBinaryMissing extends Error {
  override readonly name = 'ClusterBinaryMissing';
}

export type ClusterProgram = 'temporal-server' | 'temporal-sql-tool' | 'temporal-ui-server';

/** The path of a program that setup built, checked to be of the pinned version. */
export function clusterBinary(program: ClusterProgram): string {
  const path = join(projectRoot, '.tools', 'bin', program);
  const wanted = program === 'temporal-ui-server' ? TEMPORAL_UI_VERSION : TEMPORAL_SERVER_VERSION;
  const built = existsSync(`${path}.version`) ? readFileSync(`${path}.version`, 'utf8').trim() : '';
  if (!existsSync(path) || !built.endsWith(`@v${wanted}`)) {
    throw new ClusterBinaryMissing(
      `${program} ${wanted} is not built: run \`npm run setup -- --cluster\` (it builds it with Go, once per user)`,
    );
  }
  return path;
}
