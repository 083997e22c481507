/**
 * Served assets and their names: `nosniff` on every copy served, and ids, file names and task
 * directories that no two inputs share (nor escape the store).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FileAssetStore } from '../../src/activities/assetStore.ts';
import { fetchPolicyFor } from '../../src/fetchPolicy/index.ts';
import { planAssets } from '../../src/workflows/assetPlan.ts';
import { FakeProvider, MediaServer } from '../support/fakeProvider.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { scratchDir, testConfig } from '../support/temporal.ts';

describe('security: stored assets', () => {
  it('plans ids and names that differ whenever the task or track ids differ', () => {
    const song = (taskId: string, trackIds: string[]) =>
      planAssets(taskId, 'music', {
        tracks: trackIds.map((id) => ({ id, audioUrl: `https://cdn.example/${id}.mp3` })),
      });
    const specs = [
      ...song('t1', ['a/b', 'a_b', 'a.b', 'a-b']),
      ...song('t1-a', ['b']),
      ...song('t1', ['a-b-x']),
    ];
    assert.equal(new Set(specs.map((spec) => spec.id)).size, specs.length, specs.map((s) => s.id).join(' '));
    const names = song('t1', ['a/b', 'a_b', 'a.b']).map((spec) => spec.name);
    assert.equal(new Set(names).size, names.length, names.join(' '));
    for (const name of names) assert.doesNotMatch(name, /\//);
  });

  it('keeps every task directory apart and inside the store', () => {
    const config = testConfig({ DATA_DIR: scratchDir('names') });
    const store = new FileAssetStore(config.assets.dir, fetchPolicyFor(config));
    const paths = ['a/b', 'a_b', 'a.b', '..', '.', 'x'.repeat(300), `${'x'.repeat(300)}y`].map((taskId) =>
      store.pathOf({ taskId, name: 'audio.mp3' }),
    );
    assert.equal(new Set(paths).size, paths.length, paths.join('\n'));
    for (const path of paths) assert.ok(path.startsWith(`${store.root}/`), path);
    for (const path of paths)
      assert.ok(
        path.split('/').every((part) => part.length <= 255),
        path,
      );
  });

  describe('served copies (real stack)', () => {
    const provider = new FakeProvider();
    const media = new MediaServer();
    let stack: Stack;
    before(async () => {
      await media.start();
      stack = await startStack({ provider, mediaOrigins: [media.url], env: { POLL_INTERVAL: '200ms' } });
    });
    after(async () => {
      await stack.close();
      await media.close();
    });

    it('carry X-Content-Type-Options: nosniff', async () => {
      const taskId = await provider.submit('music');
      provider.set(taskId, 'music', 'SUCCESS', media.songResult(taskId));
      await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' });
      const view = await stack.waitForTask(taskId, (task) => task.ready || !!task.error, 30_000);
      assert.equal(view.ready, true, JSON.stringify(view.error));
      const served = await fetch(`${stack.apiUrl}/v1/assets/${encodeURIComponent(view.assets[0]!.id)}`);
      assert.equal(served.status, 200);
      assert.equal(served.headers.get('x-content-type-options'), 'nosniff');
      await served.arrayBuffer();
    });
  });
});
