/**
 * A whole service for one test: the HTTP app listening on a loopback port, a worker on the test's
 * own task queues, and a provider (the simulator, or the test's own fake).
 */
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import type { ActivityDeps } from '../../src/activities/index.ts';
import type { AssetStore } from '../../src/activities/assetStore.ts';
import { openAssetStore } from '../../src/activities/openAssetStore.ts';
import { openCatalog, type Catalog } from '../../src/catalog/openCatalog.ts';
import type { Config } from '../../src/config.ts';
import { ProviderClient } from '../../src/provider/client.ts';
import type { TaskKind } from '../../src/provider/kinds.ts';
import type { TaskView } from '../../src/workflows/state.ts';
import { callbackUrlFor, secretCallbackUrlFor } from '../../src/webhook/token.ts';
import { eventually } from './eventually.ts';
import { startTestWorker, testClient, testConfig } from './temporal.ts';

export interface Stack {
  config: Config;
  app: FastifyInstance;
  apiUrl: string;
  secret: string;
  client: Awaited<ReturnType<typeof testClient>>['client'];
  /** The catalog the worker writes and the app reads (SQLite in DATA_DIR unless DATABASE_URL is set). */
  catalog: Catalog;
  callbackUrl(kind: TaskKind, token?: string | null): string;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /**
   * `POST /v1/tasks`, then (for a submission queued behind the provider budget) its submission
   * until it has a task id. Answers what the POST answered, with the task id filled in.
   */
  submit(body: unknown, timeoutMs?: number): Promise<{ status: number; body: any }>;
  postCallback(kind: TaskKind, body: unknown, token?: string | null): Promise<{ status: number; body: any }>;
  waitForTask(taskId: string, until: (view: TaskView) => boolean, timeoutMs?: number): Promise<TaskView>;
  restartWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  startWorker(): Promise<void>;
  close(): Promise<void>;
}

export interface StackOptions {
  env?: Record<string, string>;
  /** Provider base URL (the simulator), when no fake is handed in. */
  providerUrl?: string;
  provider?: ActivityDeps['provider'];
  /** Origins of the test's own loopback media servers, allowed past the fetch policy. */
  mediaOrigins?: string[];
  /** Replaces the store the configuration names. */
  assets?: AssetStore;
  /** Replaces the catalog the worker records tasks in (the API keeps reading the configured one). */
  workerCatalog?: Catalog;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const config = testConfig({
    POLL_INTERVAL: '1s',
    POLL_MAX_INTERVAL: '2s',
    TASK_DEADLINE: '2m',
    // The provider's own origin may be on loopback; so may a test's media server, when it says so.
    ...(options.providerUrl ? { MUSIC_API_BASE_URL: options.providerUrl, MUSIC_API_KEY: 'test-key' } : {}),
    ...(options.mediaOrigins?.length ? { FETCH_ALLOWED_ORIGINS: options.mediaOrigins.join(',') } : {}),
    ...options.env,
  });
  const secret = config.webhookSecret!;
  const { client, connection } = await testClient(config);
  const catalog = await openCatalog(config);
  const assets = options.assets ?? (await openAssetStore(config));
  const app = await buildApp(config, { client, connection, webhookSecrets: [secret], catalog, assets });
  const apiUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  // The provider must call back the port the app really listens on.
  const callbackUrl = (kind: TaskKind, token: string | null = secret) => {
    const url = secretCallbackUrlFor(apiUrl, kind, token ?? '');
    return token === null ? url.replace(/\?token=.*$/, '') : url;
  };
  const deps: Partial<ActivityDeps> = {
    provider:
      options.provider ??
      new ProviderClient({ baseUrl: options.providerUrl ?? config.provider.baseUrl, apiKey: 'test-key' }),
    assets,
    catalog: options.workerCatalog ?? catalog,
    callbackUrl: (kind, nonce) => callbackUrlFor(apiUrl, kind, secret, nonce),
  };
  let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined = await startTestWorker(config, deps);

  const request = async (method: string, url: string, body?: unknown) => {
    const response = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed as any };
  };

  const stack: Stack = {
    config,
    app,
    apiUrl,
    secret,
    client,
    catalog,
    callbackUrl,
    api: (method, path, body) => request(method, `${apiUrl}${path}`, body),
    postCallback: (kind, body, token) => request('POST', callbackUrl(kind, token), body),
    async submit(body, timeoutMs = 60_000) {
      const answer = await stack.api('POST', '/v1/tasks', body);
      if (answer.status !== 202 || answer.body.status !== 'QUEUED') return answer;
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const shown = await stack.api('GET', `/v1/submissions/${answer.body.idempotencyKey as string}`);
        if (shown.body.status !== 'QUEUED') return { status: answer.status, body: shown.body };
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      throw new Error(
        `submission ${answer.body.idempotencyKey as string} still queued after ${timeoutMs} ms`,
      );
    },
    async waitForTask(taskId, until, timeoutMs = 30_000) {
      const read = await eventually(
        () => stack.api('GET', `/v1/tasks/${taskId}`),
        ({ status, body }) => status === 200 && until(body as TaskView),
        { timeoutMs, intervalMs: 100, what: `task ${taskId} reaching the expected state` },
      );
      return read.body as TaskView;
    },
    async stopWorker() {
      await worker?.stop();
      worker = undefined;
    },
    async startWorker() {
      worker ??= await startTestWorker(config, deps);
    },
    async restartWorker() {
      await stack.stopWorker();
      await stack.startWorker();
    },
    async close() {
      await stack.stopWorker();
      await app.close();
      await connection.close();
      await catalog.close();
    },
  };
  return stack;
}
