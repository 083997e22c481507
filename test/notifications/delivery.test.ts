import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createNotifyActivities, type NotificationDelivery } from '../../src/activities/notify.ts';
import { loadConfig } from '../../src/config.ts';
import { webhookIdFor } from '../../src/notifications/events.ts';
import { notificationPayload } from '../../src/notifications/payload.ts';
import { notifyPolicyFor } from '../../src/notifications/policy.ts';
import { newTaskState, toView } from '../../src/workflows/state.ts';
import { NotifyReceiver } from './receiver.ts';

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

function deliveryTo(url: string): NotificationDelivery {
  const state = newTaskState('abc123', 'music', '2026-12-01T10:00:00.000Z', 'a calm song');
  state.status = 'SUCCESS';
  state.ready = true;
  state.assets = [
    {
      id: 'abc123-a-audio',
      type: 'audio',
      name: 'a.mp3',
      trackId: 'a',
      sourceUrl: 'https://cdn.example/a.mp3',
      path: '/srv/data/assets/abc123/a.mp3',
      bytes: 1234,
      sha256: 'f'.repeat(64),
      contentType: 'audio/mpeg',
      durationSeconds: 3.06,
    },
  ];
  return {
    url,
    webhookId: webhookIdFor('abc123', 'task.ready'),
    payload: notificationPayload('task.ready', state.updatedAt, toView(state, 'music-task-abc123')),
  };
}

function activitiesFor(allowed: string[], extra: { timeoutMs?: number; publicBaseUrl?: string } = {}) {
  const config = loadConfig({
    DATA_DIR: '/nonexistent',
    FETCH_ALLOWED_ORIGINS: allowed.join(','),
    NOTIFY_TIMEOUT: String(extra.timeoutMs ?? 2_000),
  });
  return createNotifyActivities({
    policy: notifyPolicyFor(config),
    secret: SECRET,
    timeoutMs: config.notify.retry.attemptTimeoutMs,
    ...(extra.publicBaseUrl ? { publicBaseUrl: extra.publicBaseUrl } : {}),
  });
}

async function attempt(
  activities: ReturnType<typeof createNotifyActivities>,
  delivery: NotificationDelivery,
  number = 1,
) {
  const environment = new MockActivityEnvironment({ attempt: number });
  return environment.run<
    [NotificationDelivery],
    { status: number; attempt: number },
    typeof activities.deliverNotification
  >(activities.deliverNotification, delivery);
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await promise.then(
    () => assert.fail('the delivery should have failed'),
    (reason: unknown) => reason,
  );
  assert.ok(error instanceof ApplicationFailure, `an ApplicationFailure, got ${String(error)}`);
  return error;
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('notification delivery (one attempt, no Temporal server)', () => {
  const receiver = new NotifyReceiver(SECRET);
  before(async () => {
    await receiver.start();
  });
  after(async () => {
    await receiver.stop();
  });

  it('signs as Standard Webhooks says: the receiver verifies it with standardwebhooks', async () => {
    const activities = activitiesFor([receiver.origin], { publicBaseUrl: 'https://music.example' });
    const answer = await attempt(activities, deliveryTo(receiver.url));
    assert.equal(answer.status, 204);
    const [delivery] = receiver.deliveries.splice(0);
    assert.ok(delivery, 'one verified delivery');
    assert.equal(delivery.webhookId, 'msg_abc123_ready');
    assert.equal(delivery.headers['content-type'], 'application/json');
    assert.match(String(delivery.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]+=*$/);
    const { type, timestamp, data } = delivery.payload;
    assert.equal(type, 'task.ready');
    assert.equal(timestamp, '2026-12-01T10:00:00.000Z');
    assert.equal(data.taskId, 'abc123');
    assert.equal(data.kind, 'music');
    assert.equal(data.status, 'SUCCESS');
    assert.equal(data.ready, true);
    assert.equal(data.assets[0]?.url, '/v1/assets/abc123-a-audio');
    assert.equal(data.assets[0]?.absoluteUrl, 'https://music.example/v1/assets/abc123-a-audio');
    assert.equal(
      (data.assets[0] as unknown as Record<string, unknown>).path,
      undefined,
      'storage paths stay private',
    );
    assert.equal(receiver.forged.length, 0);
  });

  it('a receiver with another secret refuses it (the signature is really checked)', async () => {
    const other = await new NotifyReceiver(`whsec_${Buffer.alloc(32, 9).toString('base64')}`).start();
    try {
      const failure = await failureOf(attempt(activitiesFor([other.origin]), deliveryTo(other.url)));
      assert.equal(failure.type, 'NotifyRejected');
      assert.match(failure.message, /HTTP 401/);
      assert.equal(other.forged.length, 1);
    } finally {
      await other.stop();
    }
  });

  it('keeps the webhook-id on every attempt, each signed at its own time', async () => {
    receiver.answers.push(500, 503);
    const activities = activitiesFor([receiver.origin]);
    const delivery = deliveryTo(receiver.url);
    for (const number of [1, 2]) {
      const failure = await failureOf(attempt(activities, delivery, number));
      assert.equal(failure.type, 'NotifyRejected');
      assert.equal(failure.nonRetryable, false, 'a 5xx is retried');
    }
    await attempt(activities, delivery, 3);
    const seen = receiver.deliveries.splice(0);
    assert.deepEqual(
      seen.map((entry) => [entry.webhookId, entry.status]),
      [
        ['msg_abc123_ready', 500],
        ['msg_abc123_ready', 503],
        ['msg_abc123_ready', 204],
      ],
    );
    assert.deepEqual(new Set(seen.map((entry) => JSON.stringify(entry.payload))).size, 1, 'one body');
  });

  it('refuses a name that resolves to a non-public address for good, and a literal one', async () => {
    const activities = activitiesFor([]);
    for (const url of [`http://localhost:${receiver.port}/hook`, receiver.url]) {
      const failure = await failureOf(attempt(activities, deliveryTo(url)));
      assert.equal(failure.type, 'NotifyRefused');
      assert.equal(failure.nonRetryable, true, `${url}: never retried`);
    }
    assert.equal(receiver.deliveries.length, 0, 'nothing reached the receiver');
  });

  it('retries a receiver that refuses connections', async () => {
    const gone = await listen(() => undefined);
    await close(gone.server);
    const failure = await failureOf(attempt(activitiesFor([gone.url]), deliveryTo(`${gone.url}/hook`)));
    assert.equal(failure.type, 'NotifyUnreachable');
    assert.equal(failure.nonRetryable, false);
    assert.match(failure.message, /ECONNREFUSED/);
  });

  it('does not follow a redirect: a 3xx fails the attempt and its target is never asked', async () => {
    const target = await new NotifyReceiver(SECRET).start();
    const redirector = await listen((request, response) => {
      request.resume();
      response.writeHead(307, { location: target.url }).end();
    });
    try {
      const failure = await failureOf(
        attempt(activitiesFor([redirector.url, target.origin]), deliveryTo(redirector.url)),
      );
      assert.equal(failure.type, 'NotifyRejected');
      assert.match(failure.message, /HTTP 307 \(redirects are not followed\)/);
      assert.equal(target.deliveries.length, 0);
    } finally {
      await close(redirector.server);
      await target.stop();
    }
  });

  it('stops an attempt the receiver never answers at NOTIFY_TIMEOUT', { timeout: 15_000 }, async () => {
    const silent = await listen((request) => request.resume());
    try {
      const started = Date.now();
      const failure = await failureOf(
        attempt(activitiesFor([silent.url], { timeoutMs: 300 }), deliveryTo(silent.url)),
      );
      assert.equal(failure.type, 'NotifyUnreachable');
      assert.match(failure.message, /did not answer within 300 ms/);
      assert.ok(Date.now() - started < 5_000, 'stopped near its timeout');
    } finally {
      await close(silent.server);
    }
  });

  it('stops an attempt whose answer trickles in at NOTIFY_TIMEOUT', { timeout: 15_000 }, async () => {
    const trickle = await listen((request, response) => {
      request.resume();
      response.writeHead(200);
      const timer = setInterval(() => response.write('.'), 50);
      response.once('close', () => clearInterval(timer));
    });
    try {
      const started = Date.now();
      const failure = await failureOf(
        attempt(activitiesFor([trickle.url], { timeoutMs: 500 }), deliveryTo(trickle.url)),
      );
      assert.equal(failure.type, 'NotifyUnreachable');
      assert.match(failure.message, /did not answer within 500 ms/);
      assert.ok(Date.now() - started < 5_000, 'stopped near its timeout');
    } finally {
      await close(trickle.server);
    }
  });

  it('reads no more of an endless answer than a small cap', { timeout: 15_000 }, async () => {
    let sent = 0;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const endless = await listen((request, response) => {
      request.resume();
      response.writeHead(200, { 'content-type': 'text/plain' });
      const pump = () => {
        while (response.write(chunk)) {
          sent += chunk.length;
          if (sent > 512 * 1024 * 1024) return;
        }
        response.once('drain', pump);
      };
      pump();
      response.once('close', () => response.removeAllListeners('drain'));
    });
    try {
      const answer = await attempt(
        activitiesFor([endless.url], { timeoutMs: 5_000 }),
        deliveryTo(endless.url),
      );
      assert.equal(answer.status, 200);
      assert.ok(sent < 32 * 1024 * 1024, `the answer was cut off early (${sent} bytes sent)`);
    } finally {
      await close(endless.server);
    }
  });
});
