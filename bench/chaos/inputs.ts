import { TASK_KINDS, type TaskKind } from '../../src/provider/kinds.ts';

/**
 * A valid submission of each kind; `n` makes it distinct (cover art is made once per source task,
 * so each one names its own source).
 */
export function submissionFor(kind: TaskKind, n: number): Record<string, unknown> {
  const source = { taskId: `src${String(n).padStart(6, '0')}`, audioId: `audio${n}` };
  switch (kind) {
    case 'music':
      return {
        customMode: true,
        instrumental: false,
        model: 'V4_5',
        prompt: `A calm song about summer, take ${n}`,
        style: 'pop',
        title: `Summer ${n}`,
      };
    case 'extend':
      return { audioId: source.audioId, model: 'V5', defaultParamFlag: false };
    case 'upload-cover':
      return {
        customMode: false,
        instrumental: false,
        model: 'V5',
        prompt: `an acoustic take ${n}`,
        uploadUrl: 'https://example.org/song.mp3',
      };
    case 'lyrics':
      return { prompt: `rain on glass ${n}` };
    case 'mp4':
      return { ...source, author: 'Jane', domainName: 'example.org' };
    case 'cover-art':
      return { taskId: source.taskId };
    case 'vocal-removal':
    case 'split-stem':
    case 'wav':
      return source;
  }
}

/** The kinds in turn: task `n` of a run is of kind `mixedKind(n)`. */
export const mixedKind = (n: number): TaskKind => TASK_KINDS[n % TASK_KINDS.length]!;
