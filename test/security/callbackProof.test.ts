/** The signed callback URL's proof, checked statelessly: rotation, tampering, repetition, other kinds. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callbackUrlFor, verifyCallbackQuery } from '../../src/webhook/token.ts';

const CURRENT = 'current-secret-0123456789';
const PREVIOUS = 'previous-secret-0123456789';

/** The query of a callback URL as Fastify's parser hands it over (a repeated name becomes a list). */
function queryOf(url: string): Record<string, unknown> {
  const query: Record<string, unknown> = {};
  for (const [name, value] of new URL(url).searchParams) {
    const seen = query[name];
    query[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return query;
}

describe('security: signed callback URLs', () => {
  const url = callbackUrlFor('https://api.example.com', 'music', CURRENT, 's.key-1');

  it('carries a nonce and its signature, never the secret', () => {
    assert.ok(!url.includes(CURRENT));
    assert.deepEqual(verifyCallbackQuery(queryOf(url), 'music', [CURRENT]), {
      by: 'nonce',
      nonce: 's.key-1',
    });
  });

  it('keeps working while the secret is rotated (WEBHOOK_SECRET_PREVIOUS), and stops once the old one is dropped', () => {
    const old = callbackUrlFor('https://api.example.com', 'music', PREVIOUS, 's.key-2');
    assert.ok(verifyCallbackQuery(queryOf(old), 'music', [CURRENT, PREVIOUS]));
    assert.equal(verifyCallbackQuery(queryOf(old), 'music', [CURRENT]), undefined);
  });

  it('refuses a changed nonce, another route kind, a repeated signature, and no signature', () => {
    const query = queryOf(url);
    assert.equal(verifyCallbackQuery({ ...query, nonce: 's.key-9' }, 'music', [CURRENT]), undefined);
    assert.equal(verifyCallbackQuery(query, 'lyrics', [CURRENT]), undefined);
    assert.equal(
      verifyCallbackQuery({ ...query, sig: [query.sig, query.sig] }, 'music', [CURRENT]),
      undefined,
    );
    assert.equal(verifyCallbackQuery({ nonce: query.nonce }, 'music', [CURRENT]), undefined);
  });

  it("still takes the operator's own ?token=<secret>, and nothing else in its place", () => {
    assert.deepEqual(verifyCallbackQuery({ token: CURRENT }, 'music', [CURRENT]), { by: 'secret' });
    assert.equal(verifyCallbackQuery({ token: 'guess', ...queryOf(url) }, 'music', [CURRENT]), undefined);
    assert.equal(verifyCallbackQuery({ token: [CURRENT, CURRENT] }, 'music', [CURRENT]), undefined);
  });
});
