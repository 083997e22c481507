import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CallbackValidationError, parseCallback } from '../../src/provider/callback.ts';
import type { TaskKind } from '../../src/provider/kinds.ts';
import { camelizeKeys, normalizeTimestamp } from '../../src/provider/normalize.ts';
import { parseSnapshot } from '../../src/provider/snapshot.ts';

const example = (name: string): any =>
  JSON.parse(
    readFileSync(join(import.meta.dirname, '..', 'fixtures', 'provider-examples', `${name}.json`), 'utf8'),
  );

/** Every key in snake_case: the drift the provider may answer with anywhere. */
function snakeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [
        key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
        snakeKeys(inner),
      ]),
    );
  }
  return value;
}

describe('parseSnapshot (query answers)', () => {
  it('reads a finished song task with both timestamp drifts', () => {
    const snapshot = parseSnapshot('music', example('query-task-success').data);
    assert.equal(snapshot.status, 'SUCCESS');
    assert.equal(snapshot.terminal, true);
    assert.equal(snapshot.failed, false);
    assert.equal(snapshot.finished, true);
    assert.equal(snapshot.result.tracks?.length, 2);
    assert.equal(
      snapshot.result.tracks?.[0]?.audioUrl,
      'https://cdn.example.com/media/5c79a1f0be8e/audio-a/a.mp3',
    );
    assert.equal(snapshot.result.tracks?.[0]?.duration, 4.08);
    assert.equal(snapshot.result.tracks?.[0]?.createdAt, '2026-11-28T10:00:00.000Z');
    assert.equal(snapshot.result.tracks?.[1]?.createdAt, new Date(1795860000000).toISOString());
  });

  it('reads the snake_case drift into the same snapshot', () => {
    const camel = parseSnapshot('music', example('query-task-success').data);
    const snake = parseSnapshot('music', example('query-task-success-snake-case').data);
    assert.deepEqual(snake, camel);
  });

  it('reads every query example in camelCase and in snake_case alike', () => {
    const cases: [string, TaskKind, string, boolean][] = [
      ['query-task-pending', 'music', 'PENDING', false],
      ['query-task-text-success', 'music', 'TEXT_SUCCESS', false],
      ['query-task-first-success', 'music', 'FIRST_SUCCESS', false],
      ['query-task-generate-audio-failed', 'music', 'GENERATE_AUDIO_FAILED', true],
      ['query-lyrics-pending', 'lyrics', 'PENDING', false],
      ['query-lyrics-success', 'lyrics', 'SUCCESS', true],
      ['query-vocal-removal-pending', 'vocal-removal', 'PENDING', false],
      ['query-vocal-removal-success', 'vocal-removal', 'SUCCESS', true],
      ['query-split-stem-pending', 'split-stem', 'PENDING', false],
      ['query-split-stem-success', 'split-stem', 'SUCCESS', true],
      ['query-wav-pending', 'wav', 'PENDING', false],
      ['query-wav-success', 'wav', 'SUCCESS', true],
      ['query-mp4-pending', 'mp4', 'PENDING', false],
      ['query-mp4-success', 'mp4', 'SUCCESS', true],
      ['query-cover-pending', 'cover-art', 'PENDING', false],
      ['query-cover-success', 'cover-art', 'SUCCESS', true],
    ];
    for (const [name, kind, status, terminal] of cases) {
      const data = example(name).data;
      const snapshot = parseSnapshot(kind, data);
      assert.equal(snapshot.status, status, name);
      assert.equal(snapshot.terminal, terminal, name);
      assert.deepEqual(parseSnapshot(kind, snakeKeys(data)), snapshot, `${name} in snake_case`);
    }
  });

  it('reads each kind of result', () => {
    assert.deepEqual(parseSnapshot('lyrics', example('query-lyrics-success').data).result.lyrics, [
      { text: '[Verse]\nholdout lyric for 9f1e01b7d4a2', title: 'Holdout' },
    ]);
    assert.deepEqual(parseSnapshot('split-stem', example('query-split-stem-success').data).result.stems, {
      origin: 'https://cdn.example.com/media/9f1e03b7d4a2/origin/a.mp3',
      vocal: 'https://cdn.example.com/media/9f1e03b7d4a2/vocal/b.mp3',
      instrumental: 'https://cdn.example.com/media/9f1e03b7d4a2/instrumental/a.wav',
      drums: 'https://cdn.example.com/media/9f1e03b7d4a2/drums/a.mp3',
    });
    assert.equal(
      parseSnapshot('wav', example('query-wav-success').data).result.wavUrl,
      'https://cdn.example.com/media/9f1e04b7d4a2/f/a.wav',
    );
    assert.equal(
      parseSnapshot('mp4', example('query-mp4-success').data).result.videoUrl,
      'https://cdn.example.com/media/9f1e05b7d4a2/f/clip.mp4',
    );
    assert.equal(parseSnapshot('cover-art', example('query-cover-success').data).result.images?.length, 2);
  });

  it('takes successFlag as a number (1 done, 0 running) or a name', () => {
    const data = example('query-wav-success').data;
    assert.equal(parseSnapshot('wav', { ...data, successFlag: 1 }).status, 'SUCCESS');
    assert.equal(parseSnapshot('wav', { ...data, successFlag: 0, response: null }).status, 'PENDING');
    assert.equal(
      parseSnapshot('wav', { ...data, successFlag: 'GENERATE_WAV_FAILED', errorMessage: 'bad' }).failed,
      true,
    );
  });

  it('keeps the failure code and message', () => {
    const snapshot = parseSnapshot('music', example('query-task-generate-audio-failed').data);
    assert.deepEqual(snapshot.error, {
      code: 'GENERATE_AUDIO_FAILED',
      message: 'The prompt contains an artist name.',
    });
  });

  it('treats an unknown status as not terminal and reports it', () => {
    const heard: string[] = [];
    const snapshot = parseSnapshot(
      'music',
      { ...example('query-task-pending').data, status: 'QUEUED_AGAIN' },
      (s) => heard.push(s),
    );
    assert.equal(snapshot.terminal, false);
    assert.equal(snapshot.failed, false);
    assert.deepEqual(heard, ['QUEUED_AGAIN']);
  });

  it('does not trust SUCCESS without the finished files', () => {
    const data = example('query-task-first-success').data;
    assert.equal(parseSnapshot('music', { ...data, status: 'SUCCESS' }).finished, false);
  });
});

describe('parseCallback', () => {
  it('reads bare and wrapped song callbacks alike', () => {
    const bare = parseCallback('music', example('callback-complete-bare'));
    const wrapped = parseCallback('music', example('callback-complete-wrapped'));
    assert.equal(bare.phase, 'complete');
    assert.equal(bare.taskId, '5c79a1f0be8e');
    assert.equal(bare.result.tracks?.length, 2);
    assert.deepEqual(wrapped.result, bare.result);
    assert.equal(wrapped.phase, 'complete');
  });

  it('reads every phase', () => {
    assert.equal(parseCallback('music', example('callback-text-bare')).phase, 'text');
    const first = parseCallback('music', example('callback-first-bare'));
    assert.equal(first.phase, 'first');
    assert.equal(first.result.tracks?.[0]?.audioUrl, undefined);
    assert.equal(
      first.result.tracks?.[0]?.streamAudioUrl,
      'https://cdn.example.com/media/5c79a1f0be8e/stream-a/a.mp3',
    );
  });

  it('reads a failure callback with its code and text', () => {
    const callback = parseCallback('music', example('callback-error'));
    assert.equal(callback.phase, 'error');
    assert.equal(callback.code, 501);
    assert.deepEqual(callback.error, { code: '501', message: 'The prompt contains an artist name.' });
    const failed = parseCallback('music', {
      ...example('callback-error'),
      data: { ...example('callback-error').data, callbackType: 'failed' },
    });
    assert.equal(failed.phase, 'error');
  });

  it('takes a result-carrying callback without callbackType as the completion', () => {
    const cases: [string, TaskKind, string][] = [
      ['callback-lyrics', 'lyrics', 'lyrics'],
      ['callback-vocal-removal', 'vocal-removal', 'stems'],
      ['callback-split-stem', 'split-stem', 'stems'],
      ['callback-wav', 'wav', 'wavUrl'],
      ['callback-mp4', 'mp4', 'videoUrl'],
      ['callback-cover', 'cover-art', 'images'],
    ];
    for (const [name, kind, field] of cases) {
      const callback = parseCallback(kind, example(name));
      assert.equal(callback.phase, 'complete', name);
      assert.ok(callback.result[field as keyof typeof callback.result], `${name} carries ${field}`);
      assert.deepEqual(parseCallback(kind, camelizeKeys(example(name))), callback, `${name} in camelCase`);
    }
    assert.equal(parseCallback('cover-art', example('callback-cover')).taskId, '9f1e06b7d4a2');
    assert.equal(
      parseCallback('split-stem', example('callback-split-stem')).result.stems?.drums,
      'https://cdn.example.com/media/9f1e03b7d4a2/drums/a.mp3',
    );
  });

  const invalid: [string, unknown, RegExp][] = [
    ['an array', [], /body: expected a JSON object/],
    ['a string', 'complete', /body: expected a JSON object/],
    ['no task id', { callbackType: 'complete', data: [] }, /task_id: required/],
    ['a task id of the wrong type', { callbackType: 'text', task_id: { id: 1 }, data: [] }, /body.taskId/],
    [
      'an unknown phase',
      { callbackType: 'halfway', task_id: 'x', data: [] },
      /callbackType: expected one of text, first, complete, error, got "halfway"/,
    ],
    [
      'data that is not a list',
      { callbackType: 'complete', task_id: 'x', data: 'nope' },
      /body.data: expected an array/,
    ],
    [
      'a track without id',
      { callbackType: 'complete', task_id: 'x', data: [{ audio_url: 'u' }] },
      /body.data.0.id/,
    ],
    [
      'no phase and no result',
      { code: 200, msg: 'ok', data: { task_id: 'x' } },
      /no callbackType and no finished/,
    ],
    [
      'a mistyped code',
      { code: 'ok', data: { callbackType: 'text', task_id: 'x', data: [] } },
      /code: expected a number/,
    ],
  ];
  for (const [label, body, message] of invalid) {
    it(`refuses ${label} with a precise message`, () => {
      assert.throws(
        () => parseCallback('music', body),
        (error: unknown) => error instanceof CallbackValidationError && message.test(error.message),
      );
    });
  }
});

describe('normalizeTimestamp', () => {
  it('reads strings, epoch milliseconds and epoch seconds', () => {
    assert.equal(normalizeTimestamp('2026-11-28 10:00:00'), '2026-11-28T10:00:00.000Z');
    assert.equal(normalizeTimestamp(1795860000000), '2026-11-28T10:00:00.000Z');
    assert.equal(normalizeTimestamp(1795860000), '2026-11-28T10:00:00.000Z');
    assert.equal(normalizeTimestamp('garbage'), undefined);
  });
});
