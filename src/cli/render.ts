import type { TaskView } from '../workflows/state.ts';
import type { TaskSummary, TrackSummary } from './apiClient.ts';

/** `42s`, `5m`, `3h`, `2d`: how long ago, as a list column. */
export function age(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/** `, last answered PENDING` or `, last failed ProviderUnavailable`: why a task is where it is. */
function lastAnswer(view: TaskView): string {
  const last = view.polls.at(-1);
  if (!last) return '';
  return last.error ? `, last failed ${last.error}` : `, last answered ${last.status ?? '?'}`;
}

/** `status`: state, callbacks, polls, the notice or error, stored files with their URLs. */
export function describeTask(view: TaskView): string {
  const lines = [
    `${view.taskId}  ${view.kind}  ${view.status}${view.ready ? '  ready' : ''}`,
    ...(view.summary ? [`  title      ${view.summary}`] : []),
    `  workflow   ${view.workflowId}`,
    `  submitted  ${view.submittedAt}`,
    `  callbacks  ${view.receiptCounts.total} (${view.receiptCounts.duplicates} duplicate)`,
    `  polls      ${view.pollCount}${lastAnswer(view)}${view.nextPollAt ? `, next at ${view.nextPollAt}` : ''}`,
  ];
  if (view.notice) lines.push(`  notice     ${view.notice.code}: ${view.notice.message}`);
  if (view.error) lines.push(`  error      ${view.error.code}: ${view.error.message}`);
  const notification = view.notification;
  if (notification) {
    const outcome = notification.error ? ` (${notification.error.code}: ${notification.error.message})` : '';
    lines.push(`  notified   ${notification.event} to ${notification.url}: ${notification.status}${outcome}`);
  }
  for (const asset of view.assets) {
    lines.push(`  asset      ${asset.path}  ${asset.bytes} B  sha256 ${asset.sha256.slice(0, 12)}…`);
    if (asset.url) lines.push(`             ${asset.url}`);
  }
  for (const lyrics of view.lyrics ?? [])
    lines.push(`  lyrics     ${lyrics.title ?? ''}\n${lyrics.text.replace(/^/gm, '             ')}`);
  return lines.join('\n');
}

/** `list`: a header, then one row per task with its age and title. */
export function taskTable(tasks: TaskSummary[], now = Date.now()): string {
  const rows = tasks.map((task) => [
    task.taskId,
    task.kind,
    task.status,
    task.ready ? 'ready' : '',
    age(task.startedAt, now),
    task.title ?? '',
  ]);
  return table(['TASK', 'KIND', 'STATUS', 'READY', 'AGE', 'TITLE'], rows);
}

/** `tracks`: one row per ready track, then its files' URLs. */
export function trackTable(tracks: TrackSummary[]): string {
  const rows = tracks.map((track) => [
    track.id,
    track.taskId,
    track.title ?? '',
    track.durationSeconds ? `${Math.round(track.durationSeconds)}s` : '',
    track.assets.map((asset) => asset.url).join(' '),
  ]);
  return table(['TRACK', 'TASK', 'TITLE', 'LENGTH', 'FILES'], rows);
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
