/**
 * `npm run cluster`'s entry refuses a configuration it cannot run before it starts anything, with
 * a message that names the variable (the cluster itself is exercised in cluster.test.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const entry = join(import.meta.dirname, '..', '..', 'src', 'cluster', 'main.ts');

function runCluster(env: Record<string, string>) {
  const dataDir = mkdtempSync(join(tmpdir(), 'cluster-main-'));
  const result = spawnSync(process.execPath, ['--import', 'tsx', entry], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { ...result, dataDir };
}

describe('npm run cluster (refusals)', () => {
  it('refuses an external TEMPORAL_ADDRESS: it runs its own Temporal server', () => {
    const result = runCluster({ TEMPORAL_ADDRESS: '127.0.0.1:7233' });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /runs its own Temporal server: unset TEMPORAL_ADDRESS/);
    assert.deepEqual(readdirSync(result.dataDir), [], 'nothing was created');
  });

  it('names a bad CLUSTER_WORKERS, CLUSTER_SERVERS or CLUSTER_POSTGRES_PORT', () => {
    const result = runCluster({
      CLUSTER_WORKERS: '0',
      CLUSTER_SERVERS: 'two',
      CLUSTER_POSTGRES_PORT: '70000',
    });
    assert.equal(result.status, 1);
    for (const name of ['CLUSTER_WORKERS', 'CLUSTER_SERVERS', 'CLUSTER_POSTGRES_PORT'])
      assert.match(result.stderr, new RegExp(name));
    assert.deepEqual(readdirSync(result.dataDir), [], 'nothing was created');
  });
});
