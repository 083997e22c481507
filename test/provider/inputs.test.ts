import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeInput, inputProblems, kindFields } from '../../src/provider/inputs.ts';

describe('what a submission is, in words', () => {
  it('names a task by its title or prompt, else by what it makes from what', () => {
    assert.equal(describeInput({ prompt: 'a calm song', title: 'Summer' }, 'music'), 'Summer');
    assert.equal(describeInput({ audioId: 'trk-1', model: 'V5' }, 'extend'), 'extension of track trk-1');
    assert.equal(
      describeInput({ audioId: 'trk-1', continueAt: 30, model: 'V5' }, 'extend'),
      'extension of track trk-1 from 30 s',
    );
    assert.equal(describeInput({ taskId: 't9', audioId: 'trk-2' }, 'split-stem'), 'stems of track trk-2');
    assert.equal(describeInput({ taskId: 't9' }, 'cover-art'), 'cover art for task t9');
  });

  it('lists every problem of an input at once, each with its field', () => {
    const problems = inputProblems('music', { prompt: 'x', tempo: 'fast' });
    assert.deepEqual(
      problems.map((problem) => problem.field),
      ['input.customMode', 'input.instrumental', 'input.model', 'input.tempo'],
    );
    assert.match(problems.at(-1)!.message, /^not a music field \(fields: customMode, instrumental, model, /);
    assert.deepEqual(inputProblems('lyrics', { prompt: 'rain' }), []);
    assert.deepEqual(kindFields('wav'), { required: ['taskId', 'audioId'], optional: [] });
  });
});
