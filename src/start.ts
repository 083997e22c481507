/**
 * `npm start`: the whole system as one supervised group — the embedded Temporal dev server and
 * the simulator when no external ones are configured, then the worker and the HTTP server.
 * Ctrl-C (or SIGTERM) stops every child; a child that dies stops the group with a clear message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { ConfigError, loadConfig, resolveWebhookSecret } from './config.ts';
import { resolveNotifySecret } from './notifications/secret.ts';
import { assertSafeExposure } from './api/exposure.ts';
import { resolveLogFormat } from './observability/logging.ts';
import { KIND_TIMELINES } from './provider/timings.ts';
import { startDevServer, type DevServer } from './temporal/devServer.ts';
import { onShutdown, type Shutdown } from './shutdown.ts';
import { partOutput } from './startOutput.ts';

interface Part {
  name: string;
  stop: () => Promise<void>;
  exited: Promise<number | null>;
}

const srcDir = import.meta.dirname;

let output: ReturnType<typeof partOutput>;

/** Shows a part's output, a line at a time, as {@link partOutput} formats it. */
function showLines(
  part: string,
  streams: [NodeJS.ReadableStream, NodeJS.ReadableStream],
  readyLine?: RegExp,
  onReady?: () => void,
) {
  for (const [index, stream] of streams.entries()) {
    createInterface({ input: stream }).on('line', (line) => {
      if (readyLine?.test(line)) onReady?.();
      const shown = output(part, line, index === 0 ? 'stdout' : 'stderr');
      if (shown !== undefined) process.stdout.write(`${shown}\n`);
    });
  }
}

function runNode(name: string, file: string, env: NodeJS.ProcessEnv, readyLine?: RegExp) {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(srcDir, file)], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  if (!readyLine) markReady();
  showLines(name, [child.stdout!, child.stderr!], readyLine, markReady);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const part: Part = {
    name,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
  return { part, ready };
}

async function waitForHttp(url: string, exited: Promise<number | null>, timeoutMs = 120_000): Promise<void> {
  let dead = false;
  void exited.then(() => (dead = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !dead) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    dead ? `${url}: the process exited before it was ready` : `${url} was not ready within ${timeoutMs} ms`,
  );
}

const parts: Part[] = [];
let stopping = false;

/** Ctrl-C, SIGTERM or a part that died: every part stops, newest first (each is killed after 15 s). */
const shutdown = () =>
  onShutdown(
    'music-tasks',
    async () => {
      stopping = true;
      for (const part of [...parts].reverse()) await part.stop();
      console.log('music-tasks: stopped');
    },
    { delayMs: 90_000 },
  );
let stopper: Shutdown | undefined;

function stopAll(exitCode: number, reason?: string): void {
  if (stopping) return;
  stopping = true;
  if (reason) console.error(`\nmusic-tasks: ${reason}; stopping everything`);
  (stopper ??= shutdown()).stop(exitCode);
}

function watch(part: Part): void {
  parts.push(part);
  void part.exited.then((code) => {
    if (!stopping) stopAll(1, `${part.name} exited unexpectedly (code ${code})`);
  });
}

/** Resolves when nothing listens on the port (so a second `npm start` fails fast and clearly). */
function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

async function main(): Promise<void> {
  stopper = shutdown();
  const config = loadConfig();
  // Before anything starts: an open API on a network address is refused here, not by the server later.
  assertSafeExposure(config);
  output = partOutput(resolveLogFormat(config.logFormat), !!process.stdout.isTTY);
  mkdirSync(config.dataDir, { recursive: true });
  const ports: [string, number, string][] = [['PORT', config.port, config.host]];
  if (config.temporal.embedded) {
    ports.push(
      ['TEMPORAL_DEV_PORT', config.temporal.devPort, '127.0.0.1'],
      ['TEMPORAL_UI_PORT', config.temporal.uiPort, '127.0.0.1'],
    );
  }
  if (config.provider.simulated) ports.push(['SIMULATOR_PORT', config.simulator.port, '127.0.0.1']);
  for (const [name, port, host] of ports) {
    if (!(await portFree(port, host))) {
      throw new Error(
        `port ${port} (${name}) is already in use — is another \`npm start\` running? Stop it or set ${name}`,
      );
    }
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    WEBHOOK_SECRET: resolveWebhookSecret(config),
    // Generated once into DATA_DIR when unset; every part signs and shows the same one.
    NOTIFY_SECRET: resolveNotifySecret(config),
    DATA_DIR: config.dataDir,
    // The parts write JSON lines; this process shows them (readably on a terminal).
    LOG_FORMAT: 'json',
  };
  if (config.temporal.embedded) {
    const server: DevServer = await startDevServer({
      port: config.temporal.devPort,
      uiPort: config.temporal.uiPort,
      dbFile: join(config.dataDir, 'temporal.sqlite'),
      namespace: config.temporal.namespace,
      logLevel: 'error',
      output: 'pipe',
    });
    showLines('temporal', [server.process.stdout!, server.process.stderr!]);
    watch({
      name: 'temporal',
      stop: () => server.stop(),
      exited: new Promise((resolve) => server.process.once('exit', resolve)),
    });
    env.TEMPORAL_ADDRESS = server.address;
  }
  if (config.provider.simulated) {
    // Callbacks it owes from before a restart wait (a while) for the server to listen.
    const simulator = runNode('simulator', 'simulator/main.ts', env);
    watch(simulator.part);
    await waitForHttp(`${config.provider.baseUrl}/__sim/faults`, simulator.part.exited);
  }
  const worker = runNode('worker', 'worker.ts', env, /worker polling/);
  watch(worker.part);
  const server = runNode('server', 'server.ts', env);
  watch(server.part);
  const apiUrl = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}`;
  await Promise.all([worker.ready, waitForHttp(`${apiUrl}/readyz`, server.part.exited)]);

  // Last, after every start-up line, so it stays on screen: from here on only events are logged.
  console.log(banner(config, apiUrl));
}

/** What `npm start` prints once everything answers: where each part is and how to try it. */
function banner(config: ReturnType<typeof loadConfig>, apiUrl: string): string {
  const { simulated, baseUrl } = config.provider;
  const scale = config.simulator.timeScale;
  const songSeconds = Math.round(((KIND_TIMELINES.music.at(-1)?.atMs ?? 0) * scale) / 1000);
  const tasksOnly = encodeURIComponent(`WorkflowType="musicTask"`);
  const lines = [
    '',
    'music-tasks is up',
    `  API          ${apiUrl}`,
    `  API docs     ${apiUrl}/docs   (OpenAPI 3.1: ${apiUrl}/openapi.json)`,
    `  Console      ${apiUrl}/   (live tasks, players, a form to submit a song)`,
    config.temporal.embedded
      ? `  Temporal UI  http://127.0.0.1:${config.temporal.uiPort}/namespaces/${config.temporal.namespace}/workflows?query=${tasksOnly}`
      : `  Temporal     ${config.temporal.address} (namespace ${config.temporal.namespace})`,
    simulated
      ? `  Provider     ${baseUrl} (simulator; a song takes ~${songSeconds >= 90 ? `${Math.round(songSeconds / 60)} min` : `${songSeconds} s`})`
      : `  Provider     ${baseUrl}`,
    `  Data         ${config.dataDir}`,
    `  Try it       npm run cli -- submit music --prompt "a calm song about summer" --watch`,
  ];
  if (simulated && scale >= 1) {
    lines.push(`  Faster       SIMULATOR_TIME_SCALE=0.05 npm start   (the simulator 20× faster)`);
  }
  lines.push('  Ctrl-C stops everything.', '');
  return lines.join('\n');
}

main().catch((error: unknown) => {
  const message =
    error instanceof ConfigError ? error.message : error instanceof Error ? error.message : String(error);
  stopAll(1, `could not start: ${message}`);
});
