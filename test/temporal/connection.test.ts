import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { temporalConnectionOptions } from '../../src/temporal/connection.ts';
import { scratchDir } from '../support/temporal.ts';

describe('Temporal connection options', () => {
  it('are plaintext to the configured address by default', () => {
    assert.deepEqual(temporalConnectionOptions(loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233' })), {
      address: 'temporal:7233',
    });
  });

  it('carry the client certificate, its key and a private CA for mTLS, read from their files', () => {
    const dir = scratchDir('tls');
    const files = { cert: 'CERT PEM', key: 'KEY PEM', ca: 'CA PEM' };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, `${name}.pem`), text);
    const options = temporalConnectionOptions(
      loadConfig({
        TEMPORAL_ADDRESS: 'my-ns.a1b2c.tmprl.cloud:7233',
        TEMPORAL_TLS_CERT: join(dir, 'cert.pem'),
        TEMPORAL_TLS_KEY: join(dir, 'key.pem'),
        TEMPORAL_TLS_CA: join(dir, 'ca.pem'),
      }),
    );
    assert.equal(options.address, 'my-ns.a1b2c.tmprl.cloud:7233');
    assert.equal(options.tls?.clientCertPair?.crt.toString(), 'CERT PEM');
    assert.equal(options.tls?.clientCertPair?.key.toString(), 'KEY PEM');
    assert.equal(options.tls?.serverRootCACertificate?.toString(), 'CA PEM');
    assert.equal('apiKey' in options, false);
  });

  it('send an API key over TLS', () => {
    const options = temporalConnectionOptions(
      loadConfig({ TEMPORAL_ADDRESS: 'us-east-1.aws.api.temporal.io:7233', TEMPORAL_API_KEY: 'key-123' }),
    );
    assert.deepEqual(options, { address: 'us-east-1.aws.api.temporal.io:7233', tls: {}, apiKey: 'key-123' });
  });

  it('name the variable whose file cannot be read, and refuse a certificate without its key', () => {
    const missing = join(scratchDir('tls'), 'nope.pem');
    assert.throws(
      () =>
        temporalConnectionOptions(
          loadConfig({ TEMPORAL_ADDRESS: 't:7233', TEMPORAL_TLS_CERT: missing, TEMPORAL_TLS_KEY: missing }),
        ),
      (error: unknown) =>
        error instanceof ConfigError && error.message.startsWith(`TEMPORAL_TLS_CERT: cannot read ${missing}`),
    );
    assert.throws(
      () => loadConfig({ TEMPORAL_TLS_CERT: missing }),
      /TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together/,
    );
  });
});
