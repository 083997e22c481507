import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type TaskKind } from '../../src/provider/kinds.ts';
import {
  assertShape,
  eventually,
  example,
  startSimulator,
  type SimulatorUnderTest,
} from './simulator-harness.ts';

const CALLBACK = 'http://127.0.0.1:9/webhooks/music?token=t';
/**
 * 150 s of song generation in 4.5 s: PENDING lasts 300 ms and TEXT_SUCCESS 750 ms, long enough
 * for a loaded machine to see each state (at 0.005 PENDING lasted 50 ms and a busy CI run missed it).
 */
const SCALE = 0.03;

describe('task progression seen through the query routes', () => {
  let sim: SimulatorUnderTest;
  before(async () => {
    sim = await startSimulator({ timeScale: SCALE });
  });
  after(() => sim.close());

  test('a song goes PENDING → TEXT_SUCCESS → FIRST_SUCCESS → SUCCESS with the documented shapes', async () => {
    const taskId = await sim.create('music', CALLBACK);
    const seen = new Map<string, any>();
    await eventually(
      async () => {
        const answer = await sim.query('music', taskId);
        if (!seen.has(answer.body.data.status)) seen.set(answer.body.data.status, answer.body);
        return answer.body.data.status === 'SUCCESS';
      },
      20_000,
      'SUCCESS',
    );
    assert.deepEqual([...seen.keys()], ['PENDING', 'TEXT_SUCCESS', 'FIRST_SUCCESS', 'SUCCESS']);

    const pending = seen.get('PENDING').data;
    assert.deepEqual(pending.response, { taskId, sunoData: [] });
    assert.equal(seen.get('TEXT_SUCCESS').data.response.sunoData.length, 0);

    const first = seen.get('FIRST_SUCCESS').data.response.sunoData;
    assert.equal(first.length, 2);
    for (const track of first) {
      assert.equal(track.audioUrl, '');
      assert.equal(track.duration, null);
      assert.match(track.streamAudioUrl, new RegExp(`^${sim.base}/media/${taskId}/stream-[ab]\\.mp3$`));
    }

    const done = seen.get('SUCCESS').data;
    assert.equal(done.errorCode, null);
    assert.equal(done.type, 'chirp-v4-5');
    assert.equal(done.operationType, 'generate');
    assert.equal(done.response.sunoData.length, 2);
    for (const track of done.response.sunoData) {
      assert.match(track.audioUrl, new RegExp(`^${sim.base}/media/${taskId}/audio-[ab]\\.mp3$`));
      assert.equal(typeof track.duration, 'number');
      assert.equal(track.title, 'Summer Breeze');
      assert.equal(track.tags, 'pop, R&B');
    }
    assert.match(done.createTime, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);

    {
      assertShape(seen.get('PENDING'), example('query-task-pending'));
      assertShape(seen.get('TEXT_SUCCESS'), example('query-task-text-success'));
      assertShape(seen.get('FIRST_SUCCESS'), example('query-task-first-success'));
      assertShape(seen.get('SUCCESS'), example('query-task-success'));
    }
  });

  const nonSong: [TaskKind, string, string[]][] = [
    ['lyrics', 'lyrics', []],
    ['vocal-removal', 'vocal-removal', []],
    ['split-stem', 'split-stem', ['$.data.response']],
    ['wav', 'wav', []],
    ['mp4', 'mp4', []],
    ['cover-art', 'cover', []],
  ];
  for (const [kind, name, extraKeysAt] of nonSong) {
    test(`${kind} goes from pending to success with the shapes of query-${name}-*.json`, async () => {
      const taskId = await sim.create(kind, CALLBACK, kind === 'cover-art' ? { taskId: 'progression' } : {});
      const pending = await sim.query(kind, taskId);
      const flag = kind === 'lyrics' ? 'status' : 'successFlag';
      assert.equal(pending.body.data[flag], 'PENDING');
      assert.equal(pending.body.data.response, null);
      const done = await eventually(async () => {
        const answer = await sim.query(kind, taskId);
        return answer.body.data[flag] === 'SUCCESS' && answer.body;
      }, 10_000);
      if (kind === 'lyrics') assert.equal(done.data.type, 'LYRICS');
      if (kind === 'split-stem') {
        for (const stem of ['vocalUrl', 'instrumentalUrl', 'originUrl', 'drumsUrl', 'bassUrl']) {
          assert.match(done.data.response[stem], new RegExp(`^${sim.base}/media/${taskId}/`), stem);
        }
      }
      if (kind === 'cover-art') assert.equal(done.data.response.images.length, 2);
      {
        assertShape(pending.body, example(`query-${name}-pending`));
        assertShape(done, example(`query-${name}-success`), extraKeysAt);
      }
    });
  }

  test('the kinds finish in their own time: wav before split-stem, songs last', async () => {
    const ids = {
      wav: await sim.create('wav', CALLBACK),
      'split-stem': await sim.create('split-stem', CALLBACK),
      music: await sim.create('music', CALLBACK),
    };
    const truths = await Promise.all(Object.values(ids).map((taskId) => sim.truth(taskId)));
    const [wav, stems, song] = truths.map((truth) => truth.schedule.complete as number);
    assert.ok(wav! < stems! && stems! < song!, `${wav} < ${stems} < ${song}`);
    // Scaled: 150 s for the song, its text at 10 s and its first track at 35 s, each within ±10 %.
    const near = (actual: number, unscaledMs: number) =>
      Math.abs(actual - unscaledMs * SCALE) <= unscaledMs * SCALE * 0.1;
    assert.ok(near(song!, 150_000), `song completes at ${song} ms`);
    assert.ok(near(truths[2].schedule.text, 10_000), `text at ${truths[2].schedule.text} ms`);
    assert.ok(near(truths[2].schedule.first, 35_000), `first at ${truths[2].schedule.first} ms`);
  });
});
