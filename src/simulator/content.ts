import { KIND_ROUTES, type TaskKind } from '../provider/kinds.ts';
import { type MediaSpec, mp3Duration } from './media.ts';
import { decisionRandom, pickInt } from './seeded.ts';

export interface Track {
  id: string;
  /** Which of the task's two tracks: file names end in it. */
  label: 'a' | 'b';
  duration: number;
  title: string;
  tags: string;
  prompt: string;
  modelName: string;
  imageFile: string;
}

export interface Lyric {
  text: string;
  title: string;
}

/** What a finished task yields, made once at submission from the seed and the submitted body. */
export interface TaskContent {
  modelName: string;
  tracks: Track[];
  lyrics: Lyric[];
  /** Stem names (`vocal`, `drums`, …): each is served as a file and reported as `<name>Url`. */
  stems: string[];
  /** Files served under `/media/<taskId>/`, by file name. */
  media: Map<string, MediaSpec>;
}

const MODEL_NAMES: Readonly<Record<string, string>> = {
  V4: 'chirp-v4',
  V4_5: 'chirp-v4-5',
  V4_5PLUS: 'chirp-v4-5-plus',
  V4_5ALL: 'chirp-v4-5-all',
  V5: 'chirp-v5',
};

const SEPARATED_STEMS = ['origin', 'vocal', 'instrumental'];
const SPLIT_STEMS = [...SEPARATED_STEMS, 'backingVocals', 'drums', 'bass', 'guitar', 'keyboard'];

/** The file a stem is served as: the instrumental comes as WAV, like the provider's example. */
export const stemFile = (stem: string) => (stem === 'instrumental' ? `${stem}.wav` : `${stem}.mp3`);

export function createContent(
  seed: number,
  taskId: string,
  kind: TaskKind,
  body: Record<string, unknown>,
): TaskContent {
  const text = (field: string) => (typeof body[field] === 'string' ? body[field] : '');
  const modelName = MODEL_NAMES[text('model')] ?? 'chirp-v5';
  const title = text('title') || titleFrom(text('prompt'));
  const media = new Map<string, MediaSpec>();
  const audio = (decision: string): MediaSpec => ({
    type: 'mp3',
    // About 2 to 5 seconds: real files, kept small.
    frames: pickInt(seed, taskId, `frames:${decision}`, 80, 190),
  });
  const content: TaskContent = { modelName, tracks: [], lyrics: [], stems: [], media };

  switch (KIND_ROUTES[kind].result) {
    case 'tracks':
      for (const label of ['a', 'b'] as const) {
        const spec = audio(label);
        const imageFile = label === 'a' ? 'image-a.jpeg' : 'image-b.png';
        media.set(`audio-${label}.mp3`, spec).set(`stream-${label}.mp3`, spec);
        media.set(imageFile, label === 'a' ? { type: 'jpeg' } : { type: 'png', rgb: colour(seed, taskId) });
        content.tracks.push({
          id: `${taskId}-${label}`,
          label,
          duration: spec.type === 'mp3' ? mp3Duration(spec.frames) : 0,
          title,
          tags: text('style') || 'pop',
          prompt: text('prompt'),
          modelName,
          imageFile,
        });
      }
      break;
    case 'lyrics':
      content.lyrics.push({ title, text: `[Verse]\n${text('prompt') || 'la la la'}\n\n[Chorus]\n${title}` });
      break;
    case 'stems':
      content.stems = kind === 'split-stem' ? SPLIT_STEMS : SEPARATED_STEMS;
      for (const stem of content.stems) {
        media.set(stemFile(stem), stem === 'instrumental' ? { type: 'wav', seconds: 1 } : audio(stem));
      }
      break;
    case 'wav':
      media.set('audio.wav', { type: 'wav', seconds: 1 });
      break;
    case 'video':
      media.set('clip.mp4', { type: 'mp4' });
      break;
    case 'images':
      media.set('cover.png', { type: 'png', rgb: colour(seed, taskId) }).set('cover.jpeg', { type: 'jpeg' });
      break;
  }
  return content;
}

function titleFrom(prompt: string): string {
  const words = prompt.split(/\s+/).filter(Boolean).slice(0, 4);
  return words.length ? words.map((word) => word[0]?.toUpperCase() + word.slice(1)).join(' ') : 'Untitled';
}

function colour(seed: number, taskId: string): [number, number, number] {
  const random = decisionRandom(seed, taskId, 'colour');
  return [random(), random(), random()].map((part) => 64 + Math.floor(part * 192)) as [
    number,
    number,
    number,
  ];
}
