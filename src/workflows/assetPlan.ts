import type { TaskKind } from '../provider/kinds.ts';
import type { TaskResult } from '../provider/types.ts';

/** One provider file to copy into our storage. */
export interface AssetSpec {
  /** Stable across retries and duplicate callbacks: the key that makes storing idempotent. */
  id: string;
  taskId: string;
  kind: TaskKind;
  type: 'audio' | 'image' | 'stem' | 'wav' | 'video' | 'cover';
  name: string;
  trackId?: string;
  sourceUrl: string;
  /** Seconds, when the provider declares a duration. */
  declaredDuration?: number;
}

const safe = (text: string) => text.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);

function extension(url: string, fallback: string): string {
  const match = /\.([A-Za-z0-9]{2,5})(?:$|[?#])/.exec(url);
  return (match?.[1] ?? fallback).toLowerCase();
}

/**
 * A track's part of its files' ids and names: the asset id already starts with the task id, so a
 * track id that repeats it (`<taskId>-a`) is cut to what follows, and a long one (a UUID) to 8.
 */
function trackLabel(taskId: string, trackId: string): string {
  const own = trackId.startsWith(taskId) ? trackId.slice(taskId.length).replace(/^[-_.]+/, '') : trackId;
  return (own || trackId).slice(0, 8);
}

/** Every finished file of a result, in a stable order. Lyrics are data, not files. */
export function planAssets(taskId: string, kind: TaskKind, result: TaskResult): AssetSpec[] {
  const specs: AssetSpec[] = [];
  const add = (
    type: AssetSpec['type'],
    label: string,
    url: string | undefined,
    extra: Partial<AssetSpec> = {},
  ) => {
    if (!url) return;
    const name = `${safe(label)}.${extension(url, type === 'image' || type === 'cover' ? 'png' : 'mp3')}`;
    specs.push({ id: safe(`${taskId}-${label}`), taskId, kind, type, name, sourceUrl: url, ...extra });
  };
  for (const track of result.tracks ?? []) {
    const extra = { trackId: track.id, ...(track.duration ? { declaredDuration: track.duration } : {}) };
    const label = trackLabel(taskId, track.id);
    add('audio', `${label}-audio`, track.audioUrl, extra);
    add('image', `${label}-image`, track.imageUrl, { trackId: track.id });
  }
  for (const [stem, url] of Object.entries(result.stems ?? {})) add('stem', `stem-${stem}`, url);
  add('wav', 'audio-wav', result.wavUrl);
  add('video', 'video', result.videoUrl);
  (result.images ?? []).forEach((url, index) => add('cover', `cover-${index + 1}`, url));
  return specs;
}
