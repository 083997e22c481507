import { z } from 'zod';
import { KIND_ROUTES, type ResultShape, type TaskKind } from './kinds.ts';
import type { LyricsText, TaskResult, Track } from './types.ts';

/** `audio_wav_url` → `audioWavUrl`; camelCase keys are left as they are. */
export function camelKey(key: string): string {
  return key.replace(/_+([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/** Deep copy with every object key in camelCase: one schema then reads both drifts. */
export function camelizeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelizeKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [camelKey(key), camelizeKeys(inner)]),
    );
  }
  return value;
}

/** `"YYYY-MM-DD HH:mm:ss"` (taken as UTC) or epoch milliseconds → ISO 8601. */
export function normalizeTimestamp(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) {
    return new Date(value < 1e11 ? value * 1000 : value).toISOString();
  }
  if (typeof value !== 'string' || !value.trim()) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return normalizeTimestamp(Number(text));
  const iso = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?$/.test(text) ? `${text.replace(' ', 'T')}Z` : text;
  const parsed = Date.parse(iso);
  return Number.isNaN(parsed) ? undefined : new Date(parsed).toISOString();
}

const optionalString = z
  .union([z.string(), z.number(), z.null()])
  .optional()
  .transform((value) => (value === null || value === undefined || value === '' ? undefined : String(value)));
const optionalUrl = z
  .string({ error: 'expected a URL string' })
  .nullish()
  .transform((value) => value || undefined);
const optionalNumber = z
  .union([z.number(), z.string().regex(/^\s*(\d+(\.\d+)?)?\s*$/, 'expected a number'), z.null()], {
    error: 'expected a number',
  })
  .optional()
  .transform((value) => (value === null || value === undefined || value === '' ? undefined : Number(value)));

const trackSchema = z
  .looseObject({
    id: z.union([z.string(), z.number()]).transform(String),
    audioUrl: optionalUrl,
    streamAudioUrl: optionalUrl,
    imageUrl: optionalUrl,
    sourceAudioUrl: optionalUrl,
    title: optionalString,
    tags: optionalString,
    prompt: optionalString,
    modelName: optionalString,
    duration: optionalNumber,
    createTime: z.unknown().optional(),
  })
  .transform((track): Track =>
    dropUndefined({
      id: track.id,
      audioUrl: track.audioUrl,
      streamAudioUrl: track.streamAudioUrl,
      imageUrl: track.imageUrl,
      title: track.title,
      tags: track.tags,
      prompt: track.prompt,
      modelName: track.modelName,
      duration: track.duration,
      createdAt: normalizeTimestamp(track.createTime),
    }),
  );

const lyricsSchema = z
  .looseObject({ text: z.string(), title: optionalString })
  .transform((lyrics): LyricsText => dropUndefined({ text: lyrics.text, title: lyrics.title }));

const urlList = z.array(z.string().min(1));

/** Stem URLs (`vocalUrl`, `drumsUrl`, …) keyed by stem name (`vocal`, `drums`, …). */
function readStems(source: Record<string, unknown>): Record<string, string> | undefined {
  const stems: Record<string, string> = {};
  for (const [key, value] of Object.entries(source)) {
    const match = /^(\w+?)Url$/.exec(key);
    if (match?.[1] && typeof value === 'string' && value) stems[match[1]] = value;
  }
  return Object.keys(stems).length ? stems : undefined;
}

/**
 * Reads a kind's result from an already camelCased object: a query's `response` or a callback's
 * body. `items` is the callback's `data[]` (tracks or lyrics), when there is one.
 */
export function readResult(
  shape: ResultShape,
  source: Record<string, unknown>,
  items?: unknown,
): TaskResult | z.ZodError {
  const parse = <T>(schema: z.ZodType<T>, value: unknown) => schema.safeParse(value);
  switch (shape) {
    case 'tracks': {
      const list = items ?? source.sunoData ?? source.data ?? [];
      const parsed = parse(z.array(trackSchema), list ?? []);
      return parsed.success ? (parsed.data.length ? { tracks: parsed.data } : {}) : parsed.error;
    }
    case 'lyrics': {
      const list = items ?? source.lyricsData ?? source.data ?? [];
      const parsed = parse(z.array(lyricsSchema), list ?? []);
      return parsed.success ? (parsed.data.length ? { lyrics: parsed.data } : {}) : parsed.error;
    }
    case 'stems': {
      const info = source.vocalRemovalInfo ?? source;
      if (info === null || typeof info !== 'object') return {};
      const stems = readStems(info as Record<string, unknown>);
      return stems ? { stems } : {};
    }
    case 'wav': {
      const url = optionalUrl.safeParse(source.audioWavUrl ?? source.wavUrl);
      return url.success ? dropUndefined({ wavUrl: url.data }) : url.error;
    }
    case 'video': {
      const url = optionalUrl.safeParse(source.videoUrl);
      return url.success ? dropUndefined({ videoUrl: url.data }) : url.error;
    }
    case 'images': {
      if (source.images === undefined || source.images === null) return {};
      const parsed = parse(urlList, source.images);
      return parsed.success ? (parsed.data.length ? { images: parsed.data } : {}) : parsed.error;
    }
  }
}

/** True when a result holds the finished output of its kind (downloadable URLs or text). */
export function isFinishedResult(kind: TaskKind, result: TaskResult): boolean {
  switch (KIND_ROUTES[kind].result) {
    case 'tracks':
      return !!result.tracks?.length && result.tracks.every((track) => !!track.audioUrl);
    case 'lyrics':
      return !!result.lyrics?.length;
    case 'stems':
      return !!result.stems && Object.keys(result.stems).length > 0;
    case 'wav':
      return !!result.wavUrl;
    case 'video':
      return !!result.videoUrl;
    case 'images':
      return !!result.images?.length;
  }
}

export function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, inner]) => inner !== undefined)) as T;
}

/** One line naming the first problem of a schema error, with its path. */
export function describeIssue(error: z.ZodError, prefix: string): string {
  const issue = error.issues[0];
  if (!issue) return `${prefix} is invalid`;
  const path = [prefix, ...issue.path.map(String)].join('.');
  return `${path}: ${issue.message}`;
}
