import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { envSchema, loadConfig } from '../../src/config.ts';

const root = join(import.meta.dirname, '..', '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  profiles?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  healthcheck?: { test: string[] };
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const APP_SERVICES = ['worker', 'server', 'simulator'] as const;
const service = (name: string): Service => {
  const found = services[name];
  assert.ok(found, `service ${name}`);
  return found;
};

/** Compose's `${NAME:-default}` with nothing set in the shell: the default. */
const interpolate = (value: string) => value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
const envOf = (name: string): Record<string, string> =>
  Object.fromEntries(
    Object.entries(service(name).environment ?? {}).map(([key, value]) => [key, interpolate(String(value))]),
  );
const healthUrl = (name: string) => /fetch\('([^']+)'\)/.exec(service(name).healthcheck!.test.join(' '))?.[1];
const publishes = (name: string, port: string) =>
  (service(name).ports ?? []).some((mapping) => mapping.split(':').at(-1) === port);

describe('docker-compose.yml', () => {
  it('has the production-like stack, the simulator only under its profile', () => {
    assert.deepEqual(Object.keys(services).sort(), [
      'catalog-db',
      'server',
      'simulator',
      'temporal',
      'temporal-db',
      'temporal-namespace',
      'temporal-schema',
      'temporal-ui',
      'worker',
    ]);
    for (const [name, definition] of Object.entries(services)) {
      assert.deepEqual(
        definition.profiles ?? [],
        name === 'simulator' ? ['simulator'] : [],
        `${name} profiles`,
      );
    }
  });

  it('pins every image it pulls and builds its own', () => {
    for (const [name, definition] of Object.entries(services)) {
      assert.ok(definition.image, `${name} names an image`);
      if (APP_SERVICES.includes(name as (typeof APP_SERVICES)[number])) {
        assert.equal(definition.build, '.', `${name} is built from the Dockerfile`);
        continue;
      }
      assert.match(definition.image, /:\d+\.\d+(\.\d+)?$/, `${name} pins a version: ${definition.image}`);
    }
    assert.match(service('temporal').image!, /^temporalio\/server:/);
    assert.match(service('temporal-schema').image!, /^temporalio\/admin-tools:/);
    assert.equal(service('temporal-schema').image, service('temporal-namespace').image);
    assert.equal(
      service('temporal').image!.split(':')[1],
      service('temporal-schema').image!.split(':')[1],
      'the schema tool matches the server version',
    );
  });

  it('gives the app services only variables the config schema knows, and a config that loads', () => {
    const known = new Set(Object.keys(envSchema.shape));
    for (const name of APP_SERVICES) {
      const env = envOf(name);
      for (const variable of Object.keys(env))
        assert.ok(known.has(variable), `${name}: ${variable} is in envSchema`);
      assert.doesNotThrow(() => loadConfig(env), `${name}'s environment loads`);
    }
    for (const name of ['worker', 'server']) {
      const env = envOf(name);
      for (const variable of [
        'TEMPORAL_ADDRESS',
        'TEMPORAL_NAMESPACE',
        'TEMPORAL_TASK_QUEUE',
        'POSTPROCESS_TASK_QUEUE',
        'MUSIC_API_BASE_URL',
        'MUSIC_API_KEY',
        'PUBLIC_BASE_URL',
        'WEBHOOK_SECRET',
        'DATA_DIR',
        'DATABASE_URL',
        'HOST',
      ])
        assert.ok(variable in env, `${name} sets ${variable}`);
      assert.equal(env.HOST, '0.0.0.0', `${name} listens beyond the container's loopback`);
    }
    assert.equal(envOf('simulator').HOST, '0.0.0.0');
    // The worker and the server must agree on everything that routes a task.
    const worker = loadConfig(envOf('worker'));
    const server = loadConfig(envOf('server'));
    assert.deepEqual(
      [worker.temporal.address, worker.temporal.namespace, worker.temporal.taskQueue, worker.publicBaseUrl],
      [server.temporal.address, server.temporal.namespace, server.temporal.taskQueue, server.publicBaseUrl],
    );
  });

  it('wires addresses to services and ports that exist', () => {
    const worker = loadConfig(envOf('worker'));
    const server = loadConfig(envOf('server'));
    const simulator = loadConfig(envOf('simulator'));
    const [temporalHost, temporalPort] = worker.temporal.address.split(':');
    assert.equal(temporalHost, 'temporal');
    assert.ok(publishes('temporal', temporalPort!));
    assert.equal(envOf('temporal-namespace').TEMPORAL_ADDRESS, worker.temporal.address);
    assert.equal(envOf('temporal-ui').TEMPORAL_ADDRESS, worker.temporal.address);

    const callbacks = new URL(worker.publicBaseUrl);
    assert.equal(callbacks.hostname, 'server', 'the provider calls back the HTTP server');
    assert.equal(Number(callbacks.port), server.port);
    assert.ok(publishes('server', String(server.port)));

    const provider = new URL(worker.provider.baseUrl);
    assert.equal(provider.hostname, 'simulator');
    assert.equal(Number(provider.port), simulator.simulator.port);
    assert.ok(publishes('simulator', String(simulator.simulator.port)));
    assert.equal(
      envOf('simulator').MUSIC_API_KEY,
      envOf('worker').MUSIC_API_KEY,
      'the simulator accepts the key',
    );

    const catalog = new URL(envOf('worker').DATABASE_URL!);
    const catalogDb = envOf('catalog-db');
    assert.equal(catalog.hostname, 'catalog-db');
    assert.equal(catalog.username, catalogDb.POSTGRES_USER);
    assert.equal(catalog.password, catalogDb.POSTGRES_PASSWORD);
    assert.equal(catalog.pathname, `/${catalogDb.POSTGRES_DB}`);
    assert.equal(envOf('temporal').POSTGRES_SEEDS, 'temporal-db');
    assert.equal(envOf('temporal').POSTGRES_PWD, envOf('temporal-db').POSTGRES_PASSWORD);

    assert.ok(worker.observability.workerMetricsPort, 'the worker serves metrics');
    assert.ok(publishes('worker', String(worker.observability.workerMetricsPort)));
    assert.ok(publishes('worker', String(worker.observability.sdkMetricsPort)));
    assert.ok(publishes('temporal-ui', '8080'));
  });

  it('starts things in order, each waiting for what it needs to be healthy or done', () => {
    for (const [name, definition] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(definition.depends_on ?? {})) {
        assert.ok(services[dependency], `${name} depends on an existing ${dependency}`);
        if (condition === 'service_healthy')
          assert.ok(services[dependency].healthcheck, `${dependency} has the healthcheck ${name} waits for`);
        else assert.equal(condition, 'service_completed_successfully', `${name} → ${dependency}`);
      }
    }
    assert.equal(
      service('temporal').depends_on?.['temporal-schema']?.condition,
      'service_completed_successfully',
    );
    assert.equal(service('temporal-schema').depends_on?.['temporal-db']?.condition, 'service_healthy');
    for (const name of ['worker', 'server']) {
      assert.equal(
        service(name).depends_on?.['temporal-namespace']?.condition,
        'service_completed_successfully',
      );
      assert.equal(service(name).depends_on?.['catalog-db']?.condition, 'service_healthy');
    }
    assert.equal(service('worker').depends_on?.simulator?.required, false, 'the simulator is optional');
    for (const name of ['temporal-db', 'temporal', 'catalog-db', ...APP_SERVICES])
      assert.ok(service(name).healthcheck?.test.length, `${name} has a healthcheck`);
  });

  it('checks health where each app service really answers', () => {
    const worker = loadConfig(envOf('worker'));
    const server = loadConfig(envOf('server'));
    const simulator = loadConfig(envOf('simulator'));
    assert.equal(healthUrl('worker'), `http://127.0.0.1:${worker.observability.workerMetricsPort}/metrics`);
    assert.equal(healthUrl('server'), `http://127.0.0.1:${server.port}/readyz`);
    assert.equal(healthUrl('simulator'), `http://127.0.0.1:${simulator.simulator.port}/__sim/faults`);
  });

  it('runs commands that exist in the image, with one data volume shared by the worker and the server', () => {
    const ignored = read('.dockerignore').split('\n').filter(Boolean);
    for (const name of APP_SERVICES) {
      const command = service(name).command as string[];
      assert.deepEqual(command.slice(0, 3), ['node', '--import', 'tsx']);
      assert.ok(existsSync(join(root, command[3]!)), `${command[3]} exists`);
      assert.ok(!ignored.includes(command[3]!.split('/')[0]!), `${command[3]} is in the build context`);
    }
    for (const name of ['worker', 'server']) {
      assert.deepEqual(service(name).volumes, [`music-data:${envOf(name).DATA_DIR}`]);
    }
    assert.ok('music-data' in compose.volumes);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const stages = [...dockerfile.matchAll(/^FROM (\S+) AS (\S+)$/gm)].map(([, image, name]) => ({
    image,
    name,
  }));

  it('builds in stages from pinned Node images of the engine the package needs', () => {
    assert.deepEqual(
      stages.map((stage) => stage.name),
      ['deps', 'runtime'],
    );
    const engine = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    for (const { image } of stages) {
      assert.match(image!, /^node:\d+\.\d+-/, `${image} is pinned to a minor version`);
      assert.equal(
        image!.split(':')[1]!.split('.')[0],
        engine.replace(/\D/g, ''),
        `${image} runs Node ${engine}`,
      );
    }
    assert.match(dockerfile, /^COPY --from=deps .*node_modules/m, 'the runtime takes the built dependencies');
    assert.match(dockerfile, /npm ci --omit=dev/);
  });

  it('runs as a user other than root, with only the data directory writable', () => {
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    const user = /^USER (\S+)$/m.exec(runtime)?.[1];
    assert.ok(user, 'the final stage names a USER');
    assert.notEqual(user, 'root');
    assert.notEqual(user, '0');
    assert.match(runtime, new RegExp(`chown ${user}:${user} /data`));
    assert.match(runtime, /DATA_DIR=\/data/);
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['node_modules', 'data', '.git', '.tools']) assert.ok(ignored.includes(entry), entry);
  });
});
