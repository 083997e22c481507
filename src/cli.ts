/**
 * `music-tasks`: the command-line client of the HTTP API (API_URL, API_TOKEN).
 * Every command takes --json for scripts; errors say what went wrong and what to do, exit 1.
 */
import { parseArgs } from 'node:util';
import { ApiError, TasksApi } from './cli/apiClient.ts';
import { watchTasks } from './cli/watch.ts';
import { TASK_KINDS, isTaskKind } from './provider/kinds.ts';
import type { TaskView } from './workflows/state.ts';

const USAGE = `usage: music-tasks <command> [options]

commands:
  submit <kind> [--input JSON] [--prompt T] [--title T] [--style T] [--model M]
         [--custom] [--instrumental] [--task-id ID] [--audio-id ID] [--key KEY] [--watch]
  track <taskId> --kind <kind>     track a task submitted elsewhere
  status <taskId>                  the task's state, assets and receipts
  watch <taskId...>                live progress until every task is settled
  list [--status S] [--kind K] [--limit N]
  cancel <taskId>

kinds: ${TASK_KINDS.join(', ')}
environment: API_URL (default http://127.0.0.1:3000), API_TOKEN
every command takes --json`;

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

function describeTask(view: TaskView): string {
  const lines = [
    `${view.taskId}  ${view.kind}  ${view.status}${view.ready ? '  ready' : ''}`,
    `  workflow   ${view.workflowId}`,
    `  submitted  ${view.submittedAt}`,
    `  callbacks  ${view.receiptCounts.total} (${view.receiptCounts.duplicates} duplicate)`,
    `  polls      ${view.pollCount}${view.nextPollAt ? `, next at ${view.nextPollAt}` : ''}`,
  ];
  if (view.error) lines.push(`  error      ${view.error.code}: ${view.error.message}`);
  for (const asset of view.assets)
    lines.push(`  asset      ${asset.path}  ${asset.bytes} B  sha256 ${asset.sha256.slice(0, 12)}…`);
  for (const lyrics of view.lyrics ?? [])
    lines.push(`  lyrics     ${lyrics.title ?? ''}\n${lyrics.text.replace(/^/gm, '             ')}`);
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 1;
  }
  const api = new TasksApi(
    (process.env.API_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, ''),
    process.env.API_TOKEN,
  );
  const json = values.json ?? false;
  const intervalMs = Number(values.interval ?? 1000);
  const needKind = (kind: string | undefined) => {
    if (!kind || !isTaskKind(kind))
      throw new UsageError(`a kind is required: one of ${TASK_KINDS.join(', ')}`);
    return kind;
  };
  const needIds = (count: 'one' | 'many') => {
    if (!rest.length || (count === 'one' && rest.length > 1))
      throw new UsageError(`${command} takes ${count === 'one' ? 'one task id' : 'task ids'}`);
    return rest;
  };

  switch (command) {
    case 'submit': {
      const kind = needKind(rest[0]);
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
      const tracked = await api.track(taskId!, needKind(values.kind));
      print(
        json,
        tracked,
        () => `tracking ${tracked.kind} task ${tracked.taskId} (workflow ${tracked.workflowId})`,
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
        status: values.status,
        kind: values.kind,
        limit: values.limit ? Number(values.limit) : undefined,
      });
      print(json, { tasks }, () =>
        tasks.length
          ? tasks
              .map(
                (task) =>
                  `${task.taskId.padEnd(16)} ${task.kind.padEnd(13)} ${task.status.padEnd(22)} ${task.ready ? 'ready' : ''}`,
              )
              .join('\n')
          : 'no tasks',
      );
      return 0;
    }
    case 'cancel': {
      const [taskId] = needIds('one');
      const cancelled = await api.cancel(taskId!);
      print(json, cancelled, () => `cancelling ${cancelled.taskId}`);
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
      if (error.status === 404) console.error('hint: `music-tasks list` shows the tracked tasks');
    } else if (
      error instanceof UsageError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      console.error(`error: ${(error as Error).message}\n\n${USAGE}`);
    } else {
      console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    }
    process.exit(1);
  },
);
