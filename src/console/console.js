// The web console: the task list, live from GET /v1/events; a task's timeline, files and lyrics,
// live from GET /v1/tasks/:taskId/events; a form to submit a song. Plain DOM, no build step.

const TOKEN_KEY = 'music_tasks_token';
const PROGRESS = { PENDING: 0.1, TEXT_SUCCESS: 0.35, FIRST_SUCCESS: 0.65, SUCCESS: 0.9 };
const TERMINAL = new Set(['ready', 'failed', 'timed_out', 'cancelled']);
const FAILURES = /FAILED|ERROR|TIMED_OUT|CANCELLED/;

const $ = (id) => document.getElementById(id);
const state = {
  token: sessionStorage.getItem(TOKEN_KEY) ?? '',
  config: { temporalUiUrl: null, namespace: 'default' },
  tasks: new Map(),
  selected: undefined,
  all: undefined,
  detail: undefined,
};

class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(path, init = {}) {
  const headers = { ...(init.body ? { 'content-type': 'application/json' } : {}) };
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  const response = await fetch(path, { ...init, headers });
  const text = await response.text();
  const body = text ? JSON.parse(text) : undefined;
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

/** The token for what cannot send a header (EventSource, audio, images): a cookie of this site only. */
function keepToken(token) {
  state.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  const secure = location.protocol === 'https:' ? '; Secure' : '';
  document.cookie = `${TOKEN_KEY}=${encodeURIComponent(token)}; Path=/; SameSite=Strict${secure}`;
}

function announce(text) {
  $('announcer').textContent = text;
}

function seconds(ms) {
  const whole = Math.max(0, Math.round(ms / 1000));
  return whole >= 60 ? `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s` : `${whole}s`;
}

function element(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

// ---- the task list ----

function phaseOf(task) {
  if (task.ready) return 'ready';
  return task.status;
}

function progressOf(task) {
  if (task.ready) return 1;
  if (task.assetsStored) return 0.95;
  return PROGRESS[task.status] ?? (FAILURES.test(task.status) ? 1 : 0.1);
}

function waitingText(task) {
  if (!task.providerCall) return '';
  const waited = Date.now() - Date.parse(task.providerCall.queuedAt);
  return waited < 1000
    ? ''
    : `waiting for the provider's budget (${task.providerCall.purpose}, ${seconds(waited)})`;
}

function upsertTask(fields) {
  const task = state.tasks.get(fields.taskId) ?? {
    taskId: fields.taskId,
    kind: 'music',
    status: 'PENDING',
    ready: false,
    callbacks: 0,
    duplicates: 0,
    polls: 0,
    added: Date.now(),
  };
  Object.assign(task, fields);
  state.tasks.set(task.taskId, task);
  renderTask(task);
  return task;
}

function renderTask(task) {
  const list = $('task-list');
  let item = document.getElementById(`task-${task.taskId}`);
  if (!item) {
    item = element('li', { id: `task-${task.taskId}`, 'data-task-id': task.taskId });
    const button = element('button', { type: 'button' });
    button.addEventListener('click', () => selectTask(task.taskId));
    item.append(button);
    // Newest first: a task seen for the first time goes on top.
    if (task.fromList) list.append(item);
    else list.prepend(item);
  }
  const phase = phaseOf(task);
  const button = item.querySelector('button');
  const title = task.title || task.summary || task.taskId;
  const waiting = waitingText(task);
  button.replaceChildren(
    element('span', { class: 'task-title', text: title }),
    element('span', {
      class: `task-phase${task.ready ? ' ready' : FAILURES.test(task.status) ? ' failed' : ''}`,
      'data-testid': 'phase',
      text: phase,
    }),
    element('progress', {
      max: 1,
      value: progressOf(task),
      'aria-label': `${title}: ${phase}`,
    }),
    element(
      'span',
      { class: 'task-facts' },
      element('span', { text: task.kind }),
      element('span', {
        'data-testid': 'callbacks',
        text: `callbacks ${task.callbacks}${task.duplicates ? ` (${task.duplicates} duplicate)` : ''}`,
      }),
      element('span', { 'data-testid': 'polls', text: `polls ${task.polls}` }),
      waiting ? element('span', { class: 'waiting', text: waiting }) : null,
    ),
  );
  button.setAttribute('aria-label', `${title}, ${phase}`);
  item.classList.toggle('selected', state.selected === task.taskId);
  if (state.selected === task.taskId) renderDetailPhase(task);
  $('tasks-empty').hidden = state.tasks.size > 0;
}

function fromEvent(event) {
  const fields = {
    taskId: event.taskId,
    kind: event.kind,
    status: event.status,
    ready: event.ready,
    callbacks: event.callbacks,
    duplicates: event.duplicates,
    polls: event.polls,
    providerCall: event.providerCall,
  };
  if (event.summary) fields.summary = event.summary;
  if (event.type === 'assets') fields.assetsStored = true;
  if (event.error && event.type !== 'poll') fields.error = event.error;
  return fields;
}

function onTaskEvent(event) {
  const known = state.tasks.get(event.taskId);
  // Both streams bring a task's events: each counts once, and never takes the task back.
  if (known && event.seq <= (known.seq ?? 0)) return;
  const task = upsertTask({ ...fromEvent(event), seq: event.seq });
  if (TERMINAL.has(event.type) && !(known && TERMINAL.has(known.lastType))) {
    const title = task.title || task.summary || task.taskId;
    announce(event.type === 'ready' ? `${title} is ready` : `${title}: ${event.type.replace('_', ' ')}`);
  }
  task.lastType = event.type;
}

async function loadTasks() {
  const { tasks } = await api('/v1/tasks?limit=50');
  for (const task of tasks) {
    upsertTask({
      taskId: task.taskId,
      kind: task.kind,
      status: task.status,
      ready: task.ready,
      title: task.title,
      fromList: true,
    });
  }
  // The counts come from each task's view; the open ones first, a few at a time.
  const open = tasks.filter((task) => !task.ready && !FAILURES.test(task.status)).slice(0, 20);
  await Promise.all(
    open.map(async ({ taskId }) => {
      try {
        const view = await api(`/v1/tasks/${encodeURIComponent(taskId)}`);
        upsertTask(fromView(view));
      } catch {
        // shown from the list alone
      }
    }),
  );
}

function fromView(view) {
  return {
    taskId: view.taskId,
    kind: view.kind,
    status: view.status,
    ready: view.ready,
    summary: view.summary,
    callbacks: view.receiptCounts.total,
    duplicates: view.receiptCounts.duplicates,
    polls: view.pollCount,
    providerCall: view.providerCall,
    error: view.error,
    assetsStored: view.assets.length > 0,
  };
}

/** Every task's events: EventSource reconnects by itself with its Last-Event-ID. */
function connectAll() {
  state.all?.close();
  const source = new EventSource('/v1/events');
  state.all = source;
  const connection = $('connection');
  source.onopen = () => {
    connection.textContent = 'live';
    connection.classList.add('live');
  };
  source.onmessage = (message) => onTaskEvent(JSON.parse(message.data));
  source.onerror = () => {
    connection.classList.remove('live');
    connection.textContent = 'reconnecting…';
    if (source.readyState === EventSource.CLOSED) {
      // Refused (an expired id, a token gone): start again from the list.
      setTimeout(() => {
        if (state.all === source) void restart();
      }, 2000);
    }
  };
}

async function restart() {
  try {
    await loadTasks();
    connectAll();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) showAuth();
    else setTimeout(() => void restart(), 3000);
  }
}

// ---- a task in detail ----

function describe(event) {
  switch (event.type) {
    case 'tracking':
      return 'tracking started';
    case 'status':
      return `${event.previous} → ${event.status}`;
    case 'callback':
      return `callback “${event.phase}”${event.duplicate ? ' (duplicate, ignored)' : ''}`;
    case 'provider_call':
      return `${event.purpose === 'confirm' ? 'confirming query' : 'poll'} queued: waiting for the provider's budget`;
    case 'poll':
      return `${event.reason === 'confirm' ? 'confirming query' : 'poll'} answered ${event.answer ?? event.error?.code ?? ''}`;
    case 'assets':
      return `${event.assetCount} files stored (${Math.round(event.bytes / 1024)} KiB)`;
    case 'ready':
      return 'ready';
    case 'failed':
      return `failed: ${event.error?.code} ${event.error?.message ?? ''}`;
    case 'timed_out':
      return `timed out: ${event.error?.message ?? ''}`;
    case 'cancelled':
      return 'cancelled';
    case 'gap':
      return `events ${event.from}–${event.to} are no longer kept`;
    default:
      return event.type;
  }
}

function workflowUrl(workflowId) {
  const base = state.config.temporalUiUrl;
  if (!base) return undefined;
  return `${base}/namespaces/${encodeURIComponent(state.config.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

async function selectTask(taskId, { focus = true } = {}) {
  if (state.selected !== taskId) {
    state.detail?.close();
    state.detail = undefined;
  }
  state.selected = taskId;
  if (location.hash !== `#/tasks/${taskId}`)
    history.replaceState(null, '', `#/tasks/${encodeURIComponent(taskId)}`);
  for (const item of document.querySelectorAll('.task-list li'))
    item.classList.toggle('selected', item.dataset.taskId === taskId);
  $('app').classList.add('with-detail');
  const detail = $('detail');
  detail.hidden = false;
  const task = state.tasks.get(taskId);
  $('detail-heading').textContent = task?.title || task?.summary || taskId;
  $('detail-meta').textContent = `${task?.kind ?? ''} task ${taskId}`;
  const link = $('detail-temporal');
  const url = workflowUrl(`music-task-${taskId}`);
  link.hidden = !url;
  if (url) link.href = url;
  $('detail-timeline').replaceChildren();
  if (focus) $('detail-heading').focus();
  await refreshDetail(taskId);
  if (!state.detail) openTimeline(taskId);
}

function openTimeline(taskId) {
  const source = new EventSource(`/v1/tasks/${encodeURIComponent(taskId)}/events`);
  state.detail = source;
  const timeline = $('detail-timeline');
  source.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (state.selected !== taskId) return;
    timeline.append(
      element(
        'li',
        { 'data-type': event.type },
        element('time', {
          datetime: event.at,
          text: event.at ? new Date(event.at).toLocaleTimeString() : '',
        }),
        document.createTextNode(describe(event)),
      ),
    );
    if (event.type !== 'gap') onTaskEvent(event);
    if (event.type === 'assets' || TERMINAL.has(event.type)) void refreshDetail(taskId);
  };
  // After the terminal event the server ends the stream; the reconnect is answered 204: closed.
  source.onerror = () => undefined;
}

async function refreshDetail(taskId) {
  let view;
  try {
    view = await api(`/v1/tasks/${encodeURIComponent(taskId)}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return showAuth();
    $('detail-meta').textContent = `task ${taskId}: ${error.message}`;
    return;
  }
  if (state.selected !== taskId) return;
  const task = upsertTask(fromView(view));
  $('detail-heading').textContent = task.title || view.summary || taskId;
  $('detail-meta').textContent =
    `${view.kind} task ${taskId} · submitted ${new Date(view.submittedAt).toLocaleString()}`;
  renderDetailPhase(task);
  let tracks = [];
  if (view.ready) {
    try {
      const page = await api('/v1/tracks?limit=100');
      tracks = page.tracks.filter((track) => track.taskId === taskId);
    } catch {
      // the files still show, without the catalog's words
    }
  }
  if (state.selected !== taskId) return;
  renderFiles(view, tracks);
  renderLyrics(view, tracks);
}

function renderDetailPhase(task) {
  const waiting = waitingText(task);
  $('detail-progress').replaceChildren(
    element('progress', { max: 1, value: progressOf(task), 'aria-label': `progress: ${phaseOf(task)}` }),
    element('p', {
      'data-testid': 'detail-phase',
      text: `${phaseOf(task)}${task.error ? ` — ${task.error.code}: ${task.error.message}` : ''}${waiting ? ` — ${waiting}` : ''}`,
    }),
  );
}

function renderFiles(view, tracks) {
  const container = $('detail-tracks');
  const groups = new Map();
  for (const asset of view.assets) {
    const key = asset.trackId ?? asset.type;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(asset);
  }
  const figures = [];
  for (const [key, assets] of groups) {
    const track = tracks.find((candidate) => candidate.id === key);
    const title = track?.title ?? (assets[0].trackId ? `Track ${figures.length + 1}` : key);
    const image = assets.find((asset) => asset.type === 'image' || asset.type === 'cover');
    const audio =
      assets.find((asset) => asset.type === 'audio') ??
      assets.find((asset) => asset.type === 'wav' || asset.type === 'stem') ??
      assets.find((asset) => asset.type === 'stream');
    const video = assets.find((asset) => asset.type === 'video');
    figures.push(
      element(
        'figure',
        { class: 'track' },
        image ? element('img', { src: image.url, alt: `Cover art of ${title}`, loading: 'lazy' }) : null,
        element('figcaption', { text: title }),
        audio
          ? element('audio', {
              controls: true,
              preload: 'metadata',
              src: audio.url,
              'aria-label': `Play ${title}`,
            })
          : null,
        video
          ? element('video', { controls: true, preload: 'metadata', src: video.url, width: '100%' })
          : null,
      ),
    );
  }
  container.replaceChildren(...figures);
  $('tracks-empty').hidden = figures.length > 0;
}

function renderLyrics(view, tracks) {
  const container = $('detail-lyrics');
  const texts = [];
  for (const { title, text } of [
    ...(view.lyrics ?? []).map((lyrics) => ({ title: lyrics.title, text: lyrics.text })),
    ...tracks.filter((track) => track.prompt).map((track) => ({ title: track.title, text: track.prompt })),
  ]) {
    // Two takes of one song share their lyrics: show them once.
    if (!texts.some((shown) => shown.text === text)) texts.push({ title, text });
  }
  if (!texts.length) {
    container.replaceChildren(
      element('p', { class: 'empty', text: view.ready ? 'No lyrics.' : 'None yet.' }),
    );
    return;
  }
  container.replaceChildren(
    ...texts
      .flatMap(({ title, text }) => [title ? element('h4', { text: title }) : null, element('pre', { text })])
      .filter(Boolean),
  );
}

function closeDetail() {
  state.detail?.close();
  state.detail = undefined;
  state.selected = undefined;
  $('detail').hidden = true;
  $('app').classList.remove('with-detail');
  history.replaceState(null, '', location.pathname);
  for (const item of document.querySelectorAll('.task-list li')) item.classList.remove('selected');
}

// ---- submitting ----

function songInput(form) {
  const data = new FormData(form);
  const text = (name) => String(data.get(name) ?? '').trim();
  const title = text('title');
  const style = text('style');
  const prompt = text('prompt');
  const instrumental = data.get('instrumental') === 'on';
  const customMode = !!(title || style);
  return {
    customMode,
    instrumental,
    model: text('model') || 'V4_5',
    ...(prompt ? { prompt } : {}),
    ...(customMode ? { title, style } : {}),
  };
}

async function submitSong(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const button = $('submit-button');
  const error = $('submit-error');
  error.textContent = '';
  const input = songInput(form);
  button.disabled = true;
  try {
    let answer = await api('/v1/tasks', { method: 'POST', body: JSON.stringify({ kind: 'music', input }) });
    if (!answer.taskId) {
      announce('Queued behind the provider’s budget; it is sent as soon as the budget allows.');
      while (!answer.taskId) {
        await new Promise((resolve) => setTimeout(resolve, 2000));
        answer = await api(
          answer.submission ?? `/v1/submissions/${encodeURIComponent(answer.idempotencyKey)}`,
        );
        if (answer.status === 'REJECTED' || answer.status === 'FAILED') throw new ApiError(422, answer.error);
      }
    }
    upsertTask({
      taskId: answer.taskId,
      kind: 'music',
      status: 'PENDING',
      title: input.title || input.prompt,
    });
    announce(`Submitted ${input.title || 'the song'}`);
    form.reset();
    await selectTask(answer.taskId);
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 401) return showAuth();
    const problems = failure.body?.problems;
    error.textContent = problems?.length
      ? problems.map((problem) => `${problem.field.replace(/^input\./, '')}: ${problem.message}`).join('; ')
      : failure.message;
  } finally {
    button.disabled = false;
  }
}

// ---- start ----

function showAuth(message = '') {
  state.all?.close();
  state.detail?.close();
  $('app').hidden = true;
  $('auth').hidden = false;
  $('auth-error').textContent = message;
  $('connection').textContent = 'signed out';
  $('token').focus();
}

async function start() {
  try {
    await loadTasks();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      showAuth(state.token ? 'That token was not accepted.' : '');
      return;
    }
    $('connection').textContent = `the API does not answer (${error.message}); retrying`;
    setTimeout(() => void start(), 3000);
    return;
  }
  try {
    state.config = await api('/console/config.json');
  } catch {
    // links to the Temporal UI are left out
  }
  $('auth').hidden = true;
  $('app').hidden = false;
  connectAll();
  const match = /^#\/tasks\/(.+)$/.exec(location.hash);
  if (match) await selectTask(decodeURIComponent(match[1]), { focus: false });
}

$('auth-form').addEventListener('submit', (event) => {
  event.preventDefault();
  keepToken(String(new FormData(event.currentTarget).get('token') ?? '').trim());
  void start();
});
$('submit-form').addEventListener('submit', (event) => void submitSong(event));
$('detail-close').addEventListener('click', closeDetail);
// The waiting times move on their own.
setInterval(() => {
  for (const task of state.tasks.values()) if (task.providerCall) renderTask(task);
}, 1000);
if (state.token) keepToken(state.token);
void start();
