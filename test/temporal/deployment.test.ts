import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ActivityDeps } from '../../src/activities/index.ts';
import type { AssetStore } from '../../src/activities/assetStore.ts';
import { openAssetStore } from '../../src/activities/openAssetStore.ts';
import { deploymentCommand, DeploymentUsageError } from '../../src/cli/deployment.ts';
import type { Config } from '../../src/config.ts';
import { describeDeployment, PromotionRefused } from '../../src/temporal/deployment.ts';
import { callbackUrlFor } from '../../src/webhook/token.ts';
import { musicTaskWorkflowId } from '../../src/workflows/definitions.ts';
import { songCallback } from '../support/callbacks.ts';
import { eventually } from '../support/eventually.ts';
import { FakeProvider, MediaServer } from '../support/fakeProvider.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { startTestWorker, testConfig } from '../support/temporal.ts';

/** Which build's workers ran each provider query and each file store, by task id. */
class BuildLedger {
  readonly queries = new Map<string, string[]>();
  readonly stores = new Map<string, string[]>();

  provider(build: string, provider: FakeProvider): ActivityDeps['provider'] {
    return {
      submit: (kind, input, callbackUrl) => provider.submit(kind, input, callbackUrl),
      query: async (kind, taskId) => {
        this.queries.set(taskId, [...(this.queries.get(taskId) ?? []), build]);
        return provider.query(kind, taskId);
      },
    };
  }

  assets(build: string, store: AssetStore): AssetStore {
    return {
      store: (spec, progress) => {
        const { taskId } = spec;
        this.stores.set(taskId, [...(this.stores.get(taskId) ?? []), build]);
        return store.store(spec, progress);
      },
      read: (path, range) => store.read(path, range),
    };
  }

  builds(taskId: string): string[] {
    return [...new Set([...(this.queries.get(taskId) ?? []), ...(this.stores.get(taskId) ?? [])])];
  }
}

describe('Worker Versioning (real Temporal): runs finish on the build that started them', () => {
  const provider = new FakeProvider();
  const media = new MediaServer();
  const ledger = new BuildLedger();
  const deploymentName = `test-rollout-${randomUUID().slice(0, 8)}`;
  let stack: Stack;
  let configB: Config;
  let workerB: Awaited<ReturnType<typeof startTestWorker>> | undefined;

  before(async () => {
    await media.start();
    const assets = await openAssetStore(testConfig({ FETCH_ALLOWED_ORIGINS: media.url }));
    stack = await startStack({
      provider: ledger.provider('build-a', provider),
      assets: ledger.assets('build-a', assets),
      mediaOrigins: [media.url],
      env: {
        WORKER_DEPLOYMENT_NAME: deploymentName,
        WORKER_BUILD_ID: 'build-a',
        POLL_INTERVAL: '30s',
        POLL_MAX_INTERVAL: '1m',
      },
    });
    configB = {
      ...stack.config,
      temporal: { ...stack.config.temporal, deployment: { deploymentName, buildId: 'build-b' } },
    };
  });
  after(async () => {
    await workerB?.stop();
    await stack.close();
    await media.close();
  });

  const cliEnv = () => ({
    TEMPORAL_ADDRESS: stack.config.temporal.address,
    WORKER_DEPLOYMENT_NAME: deploymentName,
    LOG_LEVEL: 'silent',
  });

  /** The build a run is pinned to, once its first workflow task has completed. */
  async function pinnedBuild(taskId: string): Promise<string> {
    const handle = stack.client.workflow.getHandle(musicTaskWorkflowId(taskId));
    const deadline = Date.now() + 15_000;
    for (;;) {
      const info = (await handle.describe()).raw.workflowExecutionInfo?.versioningInfo;
      const build = info?.deploymentVersion?.buildId;
      if (build) {
        assert.equal(info?.behavior, 1, 'VERSIONING_BEHAVIOR_PINNED');
        return build;
      }
      if (Date.now() > deadline) throw new Error(`run of ${taskId} has no deployment version`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function track(): Promise<string> {
    const taskId = await provider.submit('music');
    assert.equal((await stack.api('PUT', `/v1/tasks/${taskId}`, { kind: 'music' })).status, 201);
    assert.equal((await stack.postCallback('music', songCallback('text', taskId))).status, 200);
    await stack.waitForTask(taskId, (view) => view.status === 'TEXT_SUCCESS');
    return taskId;
  }

  async function finish(taskId: string) {
    const result = media.songResult(taskId);
    provider.set(taskId, 'music', 'SUCCESS', result);
    assert.equal(
      (await stack.postCallback('music', songCallback('complete', taskId, result, true))).status,
      200,
    );
    return stack.waitForTask(taskId, (view) => view.ready);
  }

  async function promote(buildId: string): Promise<void> {
    // B's workers register their task queues as they first poll: the server refuses until all three are.
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        assert.equal(await deploymentCommand(['promote', buildId], true, cliEnv()), 0);
        return;
      } catch (error) {
        if (!(error instanceof PromotionRefused) || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  it('A, the first build, made itself current; B waits for a promotion; A keeps its runs after it', async () => {
    const first = await describeDeployment(stack.client.connection, 'default', deploymentName);
    assert.equal(first?.currentBuildId, 'build-a', 'a first deploy is current by itself');

    const startedOnA = await track();
    assert.equal(await pinnedBuild(startedOnA), 'build-a');

    workerB = await startTestWorker(configB, {
      provider: ledger.provider('build-b', provider),
      assets: ledger.assets('build-b', await openAssetStore(configB)),
      catalog: stack.catalog,
      callbackUrl: (kind, nonce) => callbackUrlFor(stack.apiUrl, kind, stack.secret, nonce),
    });
    assert.equal(workerB.worker.deployment.routing, 'waiting', 'a later build does not take over by itself');
    const beforePromotion = await track();
    assert.equal(await pinnedBuild(beforePromotion), 'build-a', 'new runs go to A until B is promoted');

    await promote('build-b');
    // The routing change is the server's to propagate: on a loaded machine a describe right after
    // the promotion can still show no current version.
    const state = await eventually(
      () => describeDeployment(stack.client.connection, 'default', deploymentName),
      (described) => described?.currentBuildId === 'build-b',
      { what: 'build-b current after its promotion', timeoutMs: 15_000 },
    );
    assert.equal(state?.currentBuildId, 'build-b');

    const startedOnB = await track();
    assert.equal(await pinnedBuild(startedOnB), 'build-b', 'new runs go to B once it is current');

    // A's runs go on to the end on A: signals, the confirming query and the downloads.
    for (const taskId of [startedOnA, beforePromotion]) {
      const view = await finish(taskId);
      assert.equal(view.assets.length, 4);
      assert.equal(await pinnedBuild(taskId), 'build-a');
      assert.deepEqual(ledger.builds(taskId), ['build-a'], `${taskId} ran on A only`);
    }
    const onB = await finish(startedOnB);
    assert.equal(onB.assets.length, 4);
    assert.deepEqual(ledger.builds(startedOnB), ['build-b'], 'B ran its own run, activities included');
  });

  it('promoting a build with no workers is refused, and the current build stays', async () => {
    await assert.rejects(
      deploymentCommand(['promote', 'build-never-started'], true, cliEnv()),
      PromotionRefused,
    );
    const state = await describeDeployment(stack.client.connection, 'default', deploymentName);
    assert.notEqual(state?.currentBuildId, 'build-never-started');
  });

  it('refuses a deployment command it does not know before touching Temporal', async () => {
    await assert.rejects(deploymentCommand(['rollback'], true, cliEnv()), DeploymentUsageError);
    await assert.rejects(deploymentCommand(['promote'], true, cliEnv()), DeploymentUsageError);
  });
});
