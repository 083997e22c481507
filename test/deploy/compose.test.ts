import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { envSchema, loadConfig } from '../../src/config.ts';
import { clusterBinary, TEMPORAL_SERVER_VERSION, TEMPORAL_UI_VERSION } from '../../src/cluster/binaries.ts';
import { DEFAULT_TEMPORAL_PORTS, temporalServerEnv } from '../../src/cluster/temporalServer.ts';

const root = join(import.meta.dirname, '..', '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: string[];
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
    // A release sets its build id; unset, the package's version is the build.
    for (const variable of ['WORKER_DEPLOYMENT_NAME', 'WORKER_BUILD_ID'])
      assert.ok(variable in envOf('worker'), `worker passes ${variable} through`);
    assert.equal(loadConfig(envOf('worker')).temporal.deployment.deploymentName, 'music-tasks');
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
    assert.equal(envOf('temporal').TEMPORAL_DB_HOST, 'temporal-db');
    assert.equal(envOf('temporal').TEMPORAL_DB_USER, envOf('temporal-db').POSTGRES_USER);
    assert.equal(envOf('temporal').TEMPORAL_DB_PASSWORD, envOf('temporal-db').POSTGRES_PASSWORD);

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

describe('one Temporal version and configuration for docker-compose and npm run cluster', () => {
  const template = read('deploy/temporal/config/music-tasks.yaml');
  /** Every variable the server configuration reads, with whether it has a default. */
  const templateVariables = new Map(
    [...template.matchAll(/env "([A-Z_]+)"( \| default)?/g)].map(([, name, hasDefault]) => [
      name!,
      !!hasDefault,
    ]),
  );
  const mountOf = (name: string, source: string) =>
    (service(name).volumes ?? []).find((volume) => volume.split(':')[0] === source)?.split(':')[1];

  it('pins the server, its admin tools and the UI to the versions the native cluster builds', () => {
    assert.equal(service('temporal').image, `temporalio/server:${TEMPORAL_SERVER_VERSION}`);
    assert.equal(service('temporal-schema').image, `temporalio/admin-tools:${TEMPORAL_SERVER_VERSION}`);
    assert.equal(service('temporal-ui').image, `temporalio/ui:${TEMPORAL_UI_VERSION}`);
    const setup = read('scripts/setup.sh');
    for (const pkg of ['go.temporal.io/server/cmd/server@v', 'go.temporal.io/server/cmd/tools/sql@v'])
      assert.ok(
        setup.includes(`${pkg}$TEMPORAL_SERVER_VERSION`),
        `setup builds ${pkg} at deploy/temporal/VERSION`,
      );
    assert.match(setup, /TEMPORAL_SERVER_VERSION="\$\(cat deploy\/temporal\/VERSION\)"/);
  });

  it('starts the server from the mounted deploy/temporal configuration, as the native cluster does', () => {
    const mounted = mountOf('temporal', './deploy/temporal');
    assert.ok(mounted, 'deploy/temporal is mounted into the server');
    const args = [...(service('temporal').entrypoint ?? []), ...(service('temporal').command as string[])];
    assert.equal(args[0], 'temporal-server');
    const flag = (name: string) => args[args.indexOf(name) + 1];
    // The configuration directory, inside the mount, is the one the native cluster reads.
    assert.equal(`${flag('--root')}/${flag('--config')}`, `${mounted}/config`);
    assert.ok(existsSync(join(root, 'deploy', 'temporal', 'config', `${flag('--env')}.yaml`)));
    assert.ok(args.includes('--allow-no-auth'));
    const env = envOf('temporal');
    assert.equal(
      env.TEMPORAL_DYNAMIC_CONFIG_FILE,
      `${mounted}/dynamicconfig/music-tasks.yaml`,
      'the server reads the shared dynamic config',
    );
    for (const variable of Object.keys(env))
      assert.ok(templateVariables.has(variable), `${variable} is read by the server configuration`);
    for (const variable of Object.keys(temporalServerEnv(DEFAULT_TEMPORAL_PORTS, 5432)))
      assert.ok(templateVariables.has(variable), `the native cluster's ${variable} is read by it too`);
    const schema = mountOf('temporal-schema', './deploy/temporal');
    const script = (service('temporal-schema').command as string[]).join('\n');
    assert.ok(
      script.includes(`${schema}/schema/postgresql/v12/`),
      'the schema comes from deploy/temporal/schema',
    );
    assert.match(
      script,
      /update-schema[^\n]*\|\| \{ sql setup-schema -v 0\.0/,
      'the base schema only where none is',
    );
  });

  it('renders the defaults of the configuration as the native ports', () => {
    assert.match(template, /^# enable-template$/m);
    for (const [variable, hasDefault] of templateVariables) {
      if (variable !== 'TEMPORAL_METRICS_ADDRESS') assert.ok(hasDefault, `${variable} has a default`);
    }
    assert.ok(template.includes(`TEMPORAL_FRONTEND_PORT" | default "${DEFAULT_TEMPORAL_PORTS.frontend}"`));
    assert.ok(template.includes(`TEMPORAL_HISTORY_PORT" | default "${DEFAULT_TEMPORAL_PORTS.history}"`));
  });

  it('gives every Temporal server the dynamic config the provider rate budget needs, valid for this version', () => {
    const file = join(root, 'deploy', 'temporal', 'dynamicconfig', 'music-tasks.yaml');
    const dynamic = parse(readFileSync(file, 'utf8')) as Record<
      string,
      { value: unknown; constraints?: Record<string, string> }[]
    >;
    assert.deepEqual(dynamic['matching.useNewMatcher'], [{ value: true }]);
    for (const key of ['matching.numTaskqueueReadPartitions', 'matching.numTaskqueueWritePartitions']) {
      assert.deepEqual(
        dynamic[key],
        [{ value: 1, constraints: { taskQueueName: 'music-tasks-provider' } }],
        key,
      );
    }
    // The server's own validator: an unknown key or a wrong type fails here, not at run time.
    const result = spawnSync(clusterBinary('temporal-server'), ['validate-dynamic-config', file], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.doesNotMatch(result.stdout, /error|warning/);
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
