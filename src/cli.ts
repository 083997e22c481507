/**
 * `music-tasks`: the command-line client of the HTTP API (API_URL, API_TOKEN).
 * Every command takes --json for scripts; errors say what went wrong and what to do, exit 1.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { parseArgs } from 'node:util';
import { ApiError, TasksApi } from './cli/apiClient.ts';
import { isFinal } from './cli/progress.ts';
import { DEPLOYMENT_USAGE, deploymentCommand, DeploymentUsageError } from './cli/deployment.ts';
import { describeTask, taskTable, trackTable } from './cli/render.ts';
import { didYouMean } from './cli/suggest.ts';
import { watchTasks } from './cli/watch.ts';
import { loadConfig } from './config.ts';
import { NOTIFY_SECRET_FILE, resolveNotifySecret } from './notifications/secret.ts';
import {
  FAILURE_STATUSES,
  isTaskKind,
  PROGRESS_STATUSES,
  TASK_KINDS,
  type TaskKind,
} from './provider/kinds.ts';
import type { TaskView } from './workflows/state.ts';

/** How to run this CLI here: through npm in a checkout, by the bin's name when installed. */
const SELF = process.env.npm_lifecycle_event === 'cli' ? 'npm run cli --' : 'music-tasks';

const USAGE = `usage: ${SELF} <command> [options]

commands:
  submit <kind> [--input JSON] [--prompt T] [--title T] [--style T] [--model M]
         [--custom] [--instrumental] [--task-id ID] [--audio-id ID] [--key KEY] [--watch]
  track <taskId> --kind <kind>     track a task submitted elsewhere
  status <taskId>                  the task's state, files and receipts
  watch <taskId...>                live progress until every task is settled
  list [--status S] [--kind K] [--limit N]
  tracks [--q TEXT] [--tag T] [--limit N]   ready tracks and their files' URLs
  download <taskId> [--out DIR]    copies the task's stored files into DIR (default .)
  cancel <taskId>
  ${DEPLOYMENT_USAGE}
  notify-secret                    the whsec_ secret notifications are signed with (NOTIFY_SECRET,
                                   else the one generated into DATA_DIR)

kinds: ${TASK_KINDS.join(', ')}
environment: API_URL (default http://127.0.0.1:3000), API_TOKEN; deployment: TEMPORAL_ADDRESS, WORKER_DEPLOYMENT_NAME; notify-secret: NOTIFY_SECRET, DATA_DIR
every command takes --json`;

const COMMANDS = [
  'submit',
  'track',
  'status',
  'watch',
  'list',
  'tracks',
  'download',
  'cancel',
  'deployment',
  'notify-secret',
] as const;

/** Statuses `list --status` can filter on: the provider's, and the service's own two. */
const STATUSES = [...PROGRESS_STATUSES, ...FAILURE_STATUSES, 'TIMED_OUT', 'CANCELLED'];

/** Words people type for a kind. */
const KIND_ALIASES: Readonly<Record<string, TaskKind>> = {
  song: 'music',
  songs: 'music',
  lyric: 'lyrics',
  stems: 'split-stem',
  video: 'mp4',
};

class UsageError extends Error {}

const options = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  input: { type: 'string' },
  prompt: { type: 'string' },
  title: { type: 'string' },
  style: { type: 'string' },
  model: { type: 'string' },
  custom: { type: 'boolean' },
  instrumental: { type: 'boolean' },
  'task-id': { type: 'string' },
  'audio-id': { type: 'string' },
  key: { type: 'string' },
  kind: { type: 'string' },
  status: { type: 'string' },
  limit: { type: 'string' },
  watch: { type: 'boolean' },
  interval: { type: 'string' },
  q: { type: 'string' },
  tag: { type: 'string' },
  out: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

/** The submit body's `input`, from --input JSON and/or the convenience flags. */
export function buildInput(kind: string, values: Values): Record<string, unknown> {
  let input: Record<string, unknown> = {};
  if (values.input) {
    try {
      input = JSON.parse(values.input) as Record<string, unknown>;
    } catch {
      throw new UsageError('--input must be a JSON object, e.g. --input \'{"prompt":"a calm song"}\'');
    }
  }
  const set = (field: string, value: unknown) => {
    if (value !== undefined) input[field] = value;
  };
  set('prompt', values.prompt);
  set('title', values.title);
  set('style', values.style);
  set('taskId', values['task-id']);
  set('audioId', values['audio-id']);
  if (['music', 'extend', 'upload-cover'].includes(kind)) {
    input.model ??= values.model ?? 'V4_5';
    if (kind !== 'extend') {
      input.customMode ??= values.custom ?? false;
      input.instrumental ??= values.instrumental ?? false;
    }
  }
  return input;
}

function print(json: boolean, value: unknown, human: () => string): void {
  console.log(json ? JSON.stringify(value, null, 2) : human());
}

/** Node's parser, with a "did you mean" for a mistyped option. */
function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    const code = (error as { code?: string }).code;
    const typed = /'(-{1,2}[^']+)'/.exec((error as Error).message)?.[1];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && typed) {
      const name = typed.replace(/^-+/, '').split('=')[0]!;
      throw new UsageError(`unknown option ${typed}${didYouMean(name, Object.keys(options), '--')}`);
    }
    throw new UsageError((error as Error).message);
  }
}

/** A whole number option within bounds, or a usage error that says which. */
function wholeNumber(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got "${text}")`);
  }
  return value;
}

function kindOf(command: string, typed: string | undefined): TaskKind {
  if (!typed) throw new UsageError(`${command} needs a kind: one of ${TASK_KINDS.join(', ')}`);
  if (isTaskKind(typed)) return typed;
  const alias = KIND_ALIASES[typed.toLowerCase()];
  const hint = alias ? ` (did you mean ${alias}?)` : didYouMean(typed, TASK_KINDS);
  throw new UsageError(`unknown kind "${typed}"${hint}; kinds: ${TASK_KINDS.join(', ')}`);
}

function statusOf(typed: string | undefined): string | undefined {
  if (typed === undefined) return undefined;
  const status = typed.toUpperCase();
  if (STATUSES.includes(status)) return status;
  throw new UsageError(
    `unknown status "${typed}"${didYouMean(status, STATUSES)}; statuses: ${STATUSES.join(', ')}`,
  );
}

/** Waits a few seconds for the provider's first answer about a task tracked by id. */
async function firstAnswer(api: TasksApi, taskId: string, patienceMs = 8_000): Promise<TaskView | undefined> {
  const deadline = Date.now() + patienceMs;
  for (;;) {
    const view = await api.get(taskId);
    if (view.pollCount > 0 || view.receiptCounts.total > 0 || isFinal(view)) return view;
    if (Date.now() > deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 1;
  }
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new UsageError(`unknown command "${command}"${didYouMean(command, COMMANDS)}`);
  }
  const api = new TasksApi(
    (process.env.API_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, ''),
    process.env.API_TOKEN,
  );
  const json = values.json ?? false;
  const intervalMs = wholeNumber('interval', values.interval, 100, 600_000) ?? 1000;
  const needIds = (count: 'one' | 'many') => {
    if (!rest.length || (count === 'one' && rest.length > 1))
      throw new UsageError(`${command} takes ${count === 'one' ? 'one task id' : 'task ids'}`);
    return rest;
  };

  switch (command) {
    case 'submit': {
      const kind = kindOf('submit', rest[0]);
      const submitted = await api.submit(kind, buildInput(kind, values), values.key, (key) => {
        // stderr: a --json caller's stdout stays one JSON document.
        console.error(
          `queued behind the provider's rate budget (idempotencyKey ${key}); waiting for its task id…`,
        );
      });
      print(
        json,
        submitted,
        () => `submitted ${submitted.kind} task ${submitted.taskId} (workflow ${submitted.workflowId})`,
      );
      if (values.watch) await watchTasks(api, [submitted.taskId], { json, intervalMs });
      return 0;
    }
    case 'track': {
      const [taskId] = needIds('one');
      const tracked = await api.track(taskId!, kindOf('track --kind', values.kind));
      const view = await firstAnswer(api, taskId!);
      const notice = view?.notice ?? (view?.error?.code === 'ProviderTaskNotFound' ? view.error : undefined);
      if (notice) throw new ApiError(404, 'provider_task_not_found', notice.message, view);
      print(json, { ...tracked, ...(view ? { status: view.status } : {}) }, () =>
        [
          `tracking ${tracked.kind} task ${tracked.taskId} (workflow ${tracked.workflowId})`,
          view ? `the provider reports ${view.status}` : 'the provider has not answered yet',
        ].join(': '),
      );
      return 0;
    }
    case 'status': {
      const [taskId] = needIds('one');
      const view = await api.get(taskId!);
      print(json, view, () => describeTask(view));
      return 0;
    }
    case 'watch': {
      const views = await watchTasks(api, needIds('many'), { json, intervalMs });
      return views.every((view) => view.ready) ? 0 : 2;
    }
    case 'list': {
      const { tasks } = await api.list({
        status: statusOf(values.status),
        kind: values.kind === undefined ? undefined : kindOf('list --kind', values.kind),
        limit: wholeNumber('limit', values.limit, 1, 500),
      });
      print(json, { tasks }, () => (tasks.length ? taskTable(tasks) : 'no tasks match'));
      return 0;
    }
    case 'tracks': {
      const page = await api.tracks({
        q: values.q,
        tag: values.tag,
        limit: wholeNumber('limit', values.limit, 1, 100),
      });
      print(json, page, () => (page.tracks.length ? trackTable(page.tracks) : 'no ready tracks yet'));
      return 0;
    }
    case 'download': {
      const [taskId] = needIds('one');
      const view = await api.get(taskId!);
      if (!view.ready) {
        throw new ApiError(
          409,
          'task_not_ready',
          `task ${taskId} is ${view.status}, not ready: its files are not stored yet`,
          view,
        );
      }
      const dir = resolve(values.out ?? '.');
      await mkdir(dir, { recursive: true });
      const saved: { id: string; file: string; bytes: number }[] = [];
      for (const asset of view.assets) {
        if (!asset.url) continue;
        const file = join(dir, asset.name);
        await pipeline(
          Readable.fromWeb((await api.download(asset.url)) as WebReadableStream),
          createWriteStream(file),
        );
        saved.push({ id: asset.id, file, bytes: asset.bytes });
      }
      print(json, { taskId, files: saved }, () =>
        saved.map((entry) => `${entry.file}  ${entry.bytes} B`).join('\n'),
      );
      return 0;
    }
    case 'cancel': {
      const [taskId] = needIds('one');
      try {
        const cancelled = await api.cancel(taskId!);
        print(json, cancelled, () =>
          cancelled.status === 'CANCELLED'
            ? `${cancelled.taskId} was already cancelled: nothing changed`
            : `cancelling ${cancelled.taskId}`,
        );
      } catch (error) {
        // Already finished: nothing to stop, which is what was wanted.
        if (!(error instanceof ApiError && error.code === 'task_already_finished')) throw error;
        print(json, error.body, () => error.message);
      }
      return 0;
    }
    case 'deployment':
      return deploymentCommand(rest, json);
    case 'notify-secret': {
      // Read where the worker reads it (this machine's DATA_DIR), not through the API: a secret
      // is not served over HTTP.
      const config = loadConfig();
      const secret = resolveNotifySecret(config);
      const source = config.notify.secret ? 'NOTIFY_SECRET' : join(config.dataDir, NOTIFY_SECRET_FILE);
      print(json, { secret, source }, () => secret);
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ApiError) {
      console.error(`error: ${error.code}: ${error.message}`);
      if (error.status === 401) console.error('hint: set API_TOKEN to the server’s API_TOKEN');
      if (error.code === 'task_not_found') console.error(`hint: \`${SELF} list\` shows the tracked tasks`);
      if (error.code === 'provider_task_not_found') {
        console.error(
          `hint: check the id and --kind; \`${SELF} status <taskId>\` shows the task, which stops after 3 such answers`,
        );
      }
    } else if (
      error instanceof UsageError ||
      error instanceof DeploymentUsageError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      console.error(
        `error: ${(error as Error).message}\nhint: \`${SELF} --help\` lists the commands and options`,
      );
    } else {
      console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    }
    process.exit(1);
  },
);
