import type { TaskKind } from './kinds.ts';

/**
 * A valid body (without callBackUrl) for every kind's submit route: what the demo submits and the
 * tests start from. The ids of the derived kinds name a song the simulator does not check.
 */
export const SAMPLE_INPUTS: Readonly<Record<TaskKind, Record<string, unknown>>> = {
  music: {
    customMode: true,
    instrumental: false,
    model: 'V4_5',
    prompt: 'A calm song about summer',
    style: 'pop, R&B',
    title: 'Summer Breeze',
  },
  extend: { audioId: 'e231a9c08cad', model: 'V5', defaultParamFlag: false },
  'upload-cover': {
    customMode: false,
    instrumental: false,
    model: 'V5',
    prompt: 'an acoustic take',
    uploadUrl: 'https://example.org/song.mp3',
  },
  lyrics: { prompt: 'rain on glass' },
  'vocal-removal': { taskId: '5c79a1f0be8e', audioId: 'e231a9c08cad' },
  'split-stem': { taskId: '5c79a1f0be8e', audioId: 'e231a9c08cad' },
  wav: { taskId: '5c79a1f0be8e', audioId: 'e231a9c08cad' },
  mp4: { taskId: '5c79a1f0be8e', audioId: 'e231a9c08cad', author: 'Jane', domainName: 'example.org' },
  'cover-art': { taskId: '5c79a1f0be8e' },
};
