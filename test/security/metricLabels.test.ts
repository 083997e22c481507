/** No request can add a metric series: route parameters and methods become labels only when known. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeProvider } from '../support/fakeProvider.ts';
import { startStack, type Stack } from '../support/stack.ts';

/** Distinct series of a metric in Prometheus text. */
const seriesOf = (text: string, metric: string) =>
  new Set(
    text
      .split('\n')
      .filter((line) => line.startsWith(`${metric}{`))
      .map((line) => line.split(' ')[0]),
  );

describe('security: metric labels', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ provider: new FakeProvider() });
  });
  after(() => stack.close());

  it('20 token-less callbacks with made-up kinds add no series', async () => {
    const metrics = async () => (await fetch(`${stack.apiUrl}/metrics`)).text();
    // One of each outcome first, so the series an invalid kind maps to exist already.
    await fetch(`${stack.apiUrl}/webhooks/music/made-up-0`, { method: 'POST' });
    await fetch(`${stack.apiUrl}/webhooks/music/music`, { method: 'POST' });
    await metrics(); // the scrape's own series
    const before = await metrics();
    for (let index = 1; index <= 20; index++) {
      const answer = await fetch(`${stack.apiUrl}/webhooks/music/made-up-${index}?kind=${index}`, {
        method: 'POST',
      });
      assert.equal(answer.status, 401);
    }
    const after = await metrics();
    for (const metric of ['music_webhook_callbacks_total', 'music_http_request_seconds_count']) {
      assert.deepEqual(seriesOf(after, metric), seriesOf(before, metric), metric);
    }
    assert.doesNotMatch(after, /made-up/);
  });
});
