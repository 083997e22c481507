/**
 * The asset pipeline inside a real task: validation failures retried then failing the task,
 * a worker stopped mid-download, and activity retries — each file fetched and catalogued once.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { AssetError } from '../../src/activities/assetErrors.ts';
import type { AssetStore } from '../../src/activities/assetStore.ts';
import { ASSET_INVALID_ATTEMPTS, createActivities } from '../../src/activities/index.ts';
import { encodeMp3, encodePng, mp3Duration } from '../../src/simulator/media.ts';
import type { TaskResult } from '../../src/provider/types.ts';
import type { AssetSpec } from '../../src/workflows/assetPlan.ts';
import type { Catalog, CatalogEntry } from '../../src/catalog/types.ts';
import type { TaskView } from '../../src/workflows/state.ts';
import { songCallback } from '../support/callbacks.ts';
import { FakeProvider } from '../support/fakeProvider.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { MediaSource } from './mediaSource.ts';

/** Ready, or failed for good: a status query no busy worker answered in time is neither. */
const settled = (task: TaskView) => task.ready || (!!task.error && task.error.code !== 'status_unavailable');

/** One file of a task, for the activity-level tests. */
const spec: AssetSpec = {
  id: 't-a-audio',
  taskId: 't',
  kind: 'music',
  type: 'audio',
  name: 'a.mp3',
  sourceUrl: 'http://provider.test/a.mp3',
};

describe('storeAsset: how validation failures retry', () => {
  const failing = (error: AssetError): AssetStore => ({
    store: async () => Promise.reject(error),
    read: async () => Promise.reject(error),
  });
  const run = (error: AssetError, attempt: number) => {
    const activities = createActivities({
      provider: new FakeProvider(),
      assets: failing(error),
      callbackUrl: () => 'http://127.0.0.1/unused',
    });
    return new MockActivityEnvironment({ attempt }).run(activities.storeAssets, {
      taskId: spec.taskId,
      kind: 'music' as const,
      specs: [spec],
    });
  };
  const failure = (type: string, nonRetryable: boolean) => (error: unknown) => {
    assert.ok(error instanceof ApplicationFailure);
    assert.deepEqual([error.type, error.nonRetryable], [type, nonRetryable]);
    return true;
  };

  it(`retries an invalid file until attempt ${ASSET_INVALID_ATTEMPTS}, then stops`, async () => {
    const invalid = new AssetError('AssetInvalid', 'not a valid audio file');
    await assert.rejects(run(invalid, 1), failure('AssetInvalid', false));
    await assert.rejects(run(invalid, ASSET_INVALID_ATTEMPTS - 1), failure('AssetInvalid', false));
    await assert.rejects(run(invalid, ASSET_INVALID_ATTEMPTS), failure('AssetInvalid', true));
  });

  it('never retries a gone file, always retries an unavailable one', async () => {
    await assert.rejects(run(new AssetError('AssetGone', 'HTTP 410'), 1), failure('AssetGone', true));
    await assert.rejects(
      run(new AssetError('AssetUnavailable', 'HTTP 503'), 5),
      failure('AssetUnavailable', false),
    );
  });
});

describe('storeAssets: the catalog write after the files', () => {
  const stored = {
    id: spec.id,
    type: 'audio',
    name: spec.name,
    sourceUrl: spec.sourceUrl,
    path: 'assets/t/a.mp3',
    bytes: 3,
    sha256: 'abc',
  };
  const entry = {
    taskId: 't',
    kind: 'music' as const,
    status: 'SUCCESS',
    ready: true,
    submittedAt: '2026-01-01T00:00:00.000Z',
    tracks: [],
  };
  const withCatalog = (recordTask: Catalog['recordTask'], stores: string[] = []) =>
    createActivities({
      provider: new FakeProvider(),
      assets: {
        store: async (asset) => {
          stores.push(asset.id);
          return stored;
        },
        read: async () => Promise.reject(new Error('unused')),
      },
      catalog: {
        recordTask,
        listTracks: () => Promise.reject(new Error('unused')),
        getAsset: () => Promise.reject(new Error('unused')),
        countRows: () => Promise.reject(new Error('unused')),
        close: () => Promise.resolve(),
      },
      callbackUrl: () => 'http://127.0.0.1/unused',
    });

  it('records the task with the files it stored, once they are all in', async () => {
    const recorded: CatalogEntry[] = [];
    const stores: string[] = [];
    const activities = withCatalog(async (task) => void recorded.push(task), stores);
    const result = await new MockActivityEnvironment().run(activities.storeAssets, {
      taskId: 't',
      kind: 'music' as const,
      specs: [spec],
      catalog: entry,
    });
    assert.deepEqual(result, [stored]);
    assert.deepEqual(stores, [spec.id]);
    assert.deepEqual(recorded, [{ ...entry, assets: [stored] }]);
  });

  it("fails as CatalogFailed with the catalog's message, retried unless the catalog refused for good", async () => {
    const run = (error: Error) =>
      new MockActivityEnvironment().run(withCatalog(() => Promise.reject(error)).storeAssets, {
        taskId: 't',
        kind: 'music' as const,
        specs: [spec],
        catalog: entry,
      });
    const failure = (nonRetryable: boolean, message: string) => (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.deepEqual(
        [error.type, error.nonRetryable, error.message],
        ['CatalogFailed', nonRetryable, message],
      );
      return true;
    };
    await assert.rejects(run(new Error('database is locked')), failure(false, 'database is locked'));
    await assert.rejects(
      run(ApplicationFailure.nonRetryable('the catalog is read-only', 'CatalogReadOnly')),
      failure(true, 'the catalog is read-only'),
    );
  });
});

describe('asset pipeline in a task (real Temporal, fake provider)', () => {
  let stack: Stack;
  const provider = new FakeProvider();
  const media = new MediaSource();

  before(async () => {
    await media.start();
    stack = await startStack({
      provider,
      mediaOrigins: [media.base],
      env: { POLL_INTERVAL: '30s', POLL_MAX_INTERVAL: '1m' },
    });
  });
  after(async () => {
    await stack.close();
    await media.close();
  });

  /** A song of two tracks whose files `media` serves; `declared` is what the provider says. */
  function song(taskId: string, declared = mp3Duration(117)): TaskResult {
    return {
      tracks: ['a', 'b'].map((label) => ({
        id: `${taskId}-${label}`,
        title: 'Pipeline Song',
        tags: 'test',
        duration: declared,
        audioUrl: media.serve(`/${taskId}/${label}.mp3`, encodeMp3(117), { contentType: 'audio/mpeg' }),
        imageUrl: media.serve(`/${taskId}/${label}.png`, encodePng([9, 99, 199]), {
          contentType: 'image/png',
        }),
      })),
    };
  }

  async function finish(taskId: string, result: TaskResult) {
    assert.equal((await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' })).status, 201);
    provider.set(taskId, 'music', 'SUCCESS', result);
    assert.equal((await stack.postCallback('music', songCallback('complete', taskId, result))).status, 200);
  }

  it(`fails the task with AssetInvalid after ${ASSET_INVALID_ATTEMPTS} attempts when a file stays wrong`, async () => {
    const taskId = await provider.submit('music');
    await finish(taskId, song(taskId, 30));
    const view = await stack.waitForTask(taskId, settled, 60_000);
    assert.equal(view.ready, false);
    assert.equal(view.error?.code, 'AssetInvalid');
    assert.match(view.error?.message ?? '', /plays 3\.\d+ s, the provider declared 30 s.*after 3 attempts/);
    assert.equal(
      media.count(`/${taskId}/a.mp3`) + media.count(`/${taskId}/b.mp3`),
      2 * ASSET_INVALID_ATTEMPTS,
    );
    assert.equal(
      await stack.catalog.getAsset(`${taskId}-a-image`),
      undefined,
      'a failed task is not catalogued',
    );
  });

  it('resumes a download cut by a worker stop: each file stored, fetched and catalogued once', async () => {
    const taskId = await provider.submit('music');
    const result = song(taskId);
    media.serve(`/${taskId}/a.mp3`, encodeMp3(117), { contentType: 'audio/mpeg', stallAfter: 4096 });
    const rowsBefore = await stack.catalog.countRows();
    await finish(taskId, result);
    await media.whenStalled(`/${taskId}/a.mp3`);
    // The other three are stored before the stop: they must not be fetched again after it.
    const dir = join(stack.config.dataDir, 'assets', taskId);
    const manifests = () =>
      existsSync(dir) ? readdirSync(dir).filter((file) => file.endsWith('.json')) : [];
    for (let wait = 0; wait < 300 && manifests().length < 3; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(manifests().length, 3, 'three files stored while the fourth hangs');
    await stack.stopWorker();
    media.release(`/${taskId}/a.mp3`);
    await stack.startWorker();

    const view = await stack.waitForTask(taskId, settled, 60_000);
    assert.equal(view.ready, true, JSON.stringify(view.error));
    assert.equal(view.assets.length, 4);
    assert.deepEqual(
      ['a.mp3', 'a.png', 'b.mp3', 'b.png'].map((file) => media.count(`/${taskId}/${file}`)),
      [2, 1, 1, 1],
      'the interrupted file twice (it was never stored), the stored ones once',
    );
    assert.deepEqual(
      readdirSync(dir).sort(),
      view.assets.flatMap((asset) => [asset.name, `${asset.name}.json`]).sort(),
      'one file (and its manifest) per asset, no partial left',
    );
    const rowsAfter = await stack.catalog.countRows();
    assert.deepEqual(
      [
        rowsAfter.tasks - rowsBefore.tasks,
        rowsAfter.tracks - rowsBefore.tracks,
        rowsAfter.assets - rowsBefore.assets,
      ],
      [1, 2, 4],
    );
  });
});
