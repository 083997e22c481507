import { KIND_ROUTES, type TaskKind } from '../provider/kinds.ts';
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

/**
 * A name safe in a path and an object key, and different for different inputs: letters, digits and
 * `-` stay, every other character becomes `_<hex>_`, so `a/b` and `a_b` never meet and `..` cannot appear.
 */
export const escapeName = (text: string) =>
  text.replace(/[^A-Za-z0-9-]/gu, (char) => `_${char.codePointAt(0)!.toString(16)}_`);

function extension(url: string, fallback: string): string {
  const match = /\.([A-Za-z0-9]{2,5})(?:$|[?#])/.exec(url);
  return (match?.[1] ?? fallback).toLowerCase();
}

/**
 * A track's part of its files' ids and names: the asset id already starts with the task id, so a
 * track id that repeats it (`<taskId>-a`) is cut to what follows. Never truncated: two tracks
 * whose ids differ keep ids that differ.
 */
function trackLabel(taskId: string, trackId: string): string {
  const own = trackId.startsWith(taskId) ? trackId.slice(taskId.length).replace(/^[-_.]+/, '') : trackId;
  return own || trackId;
}

/**
 * Every finished file of a result, in a stable order, from the fields of the kind's own result
 * shape only (a song task never downloads a `videoUrl`). Lyrics are data, not files.
 */
export function planAssets(taskId: string, kind: TaskKind, result: TaskResult): AssetSpec[] {
  const specs: AssetSpec[] = [];
  const shape = KIND_ROUTES[kind].result;
  const add = (
    type: AssetSpec['type'],
    label: string,
    url: string | undefined,
    extra: Partial<AssetSpec> = {},
  ) => {
    if (!url) return;
    const name = `${escapeName(label)}.${extension(url, type === 'image' || type === 'cover' ? 'png' : 'mp3')}`;
    specs.push({
      id: `${escapeName(taskId)}.${escapeName(label)}`,
      taskId,
      kind,
      type,
      name,
      sourceUrl: url,
      ...extra,
    });
  };
  for (const track of shape === 'tracks' ? (result.tracks ?? []) : []) {
    const extra = { trackId: track.id, ...(track.duration ? { declaredDuration: track.duration } : {}) };
    const label = trackLabel(taskId, track.id);
    add('audio', `${label}-audio`, track.audioUrl, extra);
    add('image', `${label}-image`, track.imageUrl, { trackId: track.id });
  }
  if (shape === 'stems')
    for (const [stem, url] of Object.entries(result.stems ?? {})) add('stem', `stem-${stem}`, url);
  if (shape === 'wav') add('wav', 'audio-wav', result.wavUrl);
  if (shape === 'video') add('video', 'video', result.videoUrl);
  if (shape === 'images')
    (result.images ?? []).forEach((url, index) => add('cover', `cover-${index + 1}`, url));
  return specs;
}
