import { redactedBody } from './redact.ts';
import { KIND_ROUTES } from '../provider/kinds.ts';
import { stemFile, type Track } from './content.ts';
import { type CallbackPhase } from './faults.ts';
import { type SimTask } from './task.ts';

/** The provider's JSON envelope. */
export interface Envelope {
  code: number;
  msg: string;
  data: unknown;
}

export const envelope = (code: number, msg: string, data: unknown = null): Envelope => ({ code, msg, data });

export const mediaUrl = (task: SimTask, file: string) => `${task.baseUrl}/media/${task.id}/${file}`;

/** "YYYY-MM-DD HH:mm:ss" (UTC), or epoch milliseconds when the task's plan says so. */
function timestamp(task: SimTask, ms: number): string | number {
  return task.plan.epochTimestamps ? ms : new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** Deep camelCase → snake_case of object keys (values, such as the `param` string, are kept). */
export function snakeCaseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeCaseKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`),
      snakeCaseKeys(inner),
    ]),
  );
}

/** A track as the query reports it; before SUCCESS only the stream URL exists. */
function trackView(task: SimTask, track: Track, done: boolean) {
  return {
    id: track.id,
    audioUrl: done ? mediaUrl(task, `audio-${track.label}.mp3`) : '',
    streamAudioUrl: mediaUrl(task, `stream-${track.label}.mp3`),
    imageUrl: mediaUrl(task, track.imageFile),
    prompt: track.prompt,
    modelName: track.modelName,
    title: track.title,
    tags: track.tags,
    createTime: timestamp(task, task.createdAt),
    duration: done ? track.duration : null,
  };
}

function tracksAt(task: SimTask, status: string) {
  if (status !== 'FIRST_SUCCESS' && status !== 'SUCCESS') return [];
  return task.content.tracks.map((track) => trackView(task, track, status === 'SUCCESS'));
}

/** The finished result of a non-song task, camelCase, as the query's `response` holds it. */
function resultView(task: SimTask): Record<string, unknown> {
  switch (KIND_ROUTES[task.kind].result) {
    case 'tracks':
      return { taskId: task.id, sunoData: tracksAt(task, 'SUCCESS') };
    case 'lyrics':
      return {
        taskId: task.id,
        lyricsData: task.content.lyrics.map((lyric) => ({ ...lyric, status: 'complete', errorMessage: '' })),
      };
    case 'stems':
      return Object.fromEntries(
        task.content.stems.map((stem) => [`${stem}Url`, mediaUrl(task, stemFile(stem))]),
      );
    case 'wav':
      return { audioWavUrl: mediaUrl(task, 'audio.wav') };
    case 'video':
      return { videoUrl: mediaUrl(task, 'clip.mp4') };
    case 'images':
      return { images: [mediaUrl(task, 'cover.png'), mediaUrl(task, 'cover.jpeg')] };
  }
}

/** The `data` of a query answer for the task as it stands, with the task's planned drifts. */
export function queryData(task: SimTask): Record<string, unknown> {
  const { result } = KIND_ROUTES[task.kind];
  const done = task.status === 'SUCCESS';
  const common = {
    taskId: task.id,
    param: JSON.stringify(redactedBody(task.body)),
    errorCode: task.failure?.code ?? null,
    errorMessage: task.failure?.error ?? null,
    createTime: timestamp(task, task.createdAt),
  };
  let data: Record<string, unknown>;
  if (result === 'tracks') {
    data = {
      ...common,
      status: task.status,
      type: task.content.modelName,
      operationType: task.kind === 'music' ? 'generate' : task.kind.replace('-', '_'),
      response: { taskId: task.id, sunoData: tracksAt(task, task.status) },
    };
  } else if (result === 'lyrics') {
    data = { ...common, status: task.status, type: 'LYRICS', response: done ? resultView(task) : null };
  } else {
    data = { ...common, successFlag: successFlag(task), response: done ? resultView(task) : null };
  }
  return task.plan.snakeCaseQueries ? (snakeCaseKeys(data) as Record<string, unknown>) : data;
}

/** Stems, WAV, MP4 and cover art report `successFlag`; numeric only says running (0) or done (1). */
function successFlag(task: SimTask): string | number {
  if (!task.plan.numericSuccessFlag || task.failure) return task.status;
  return task.status === 'SUCCESS' ? 1 : 0;
}

const PHASE_MESSAGES: Readonly<Record<CallbackPhase, string>> = {
  text: 'Text generated successfully.',
  first: 'First audio generated successfully.',
  complete: 'All generated successfully.',
  error: 'Generation failed.',
};

/** The body POSTed to the callback URL for a phase; `wrapped` only matters for song and lyrics. */
export function callbackBody(task: SimTask, phase: CallbackPhase, wrapped: boolean): unknown {
  const failure = task.plan.failure;
  if (phase === 'error' && failure) {
    const data = { callbackType: 'error', task_id: task.id, data: null, error: failure.error };
    return envelope(failure.code, failure.msg, data);
  }
  const taskId = task.id;
  const wrap = (inner: object) => (wrapped ? envelope(200, PHASE_MESSAGES[phase], inner) : inner);
  switch (KIND_ROUTES[task.kind].result) {
    case 'tracks': {
      const status = phase === 'complete' ? 'SUCCESS' : phase === 'first' ? 'FIRST_SUCCESS' : 'TEXT_SUCCESS';
      return wrap({ callbackType: phase, task_id: taskId, data: snakeCaseKeys(tracksAt(task, status)) });
    }
    case 'lyrics': {
      const lyrics = task.content.lyrics.map((lyric) => ({
        ...lyric,
        status: 'complete',
        error_message: '',
      }));
      return wrap({ callbackType: 'complete', task_id: taskId, data: lyrics });
    }
    case 'stems':
      return envelope(200, 'vocal Removal generated successfully.', {
        task_id: taskId,
        vocal_removal_info: snakeCaseKeys(resultView(task)),
      });
    case 'wav':
      return envelope(200, 'success', { audioWavUrl: mediaUrl(task, 'audio.wav'), task_id: taskId });
    case 'video':
      return envelope(200, 'MP4 generated successfully.', {
        task_id: taskId,
        video_url: mediaUrl(task, 'clip.mp4'),
      });
    case 'images':
      return envelope(200, 'success', { taskId, ...resultView(task) });
  }
}
