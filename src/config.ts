import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ms from 'ms';
import { z } from 'zod';
import { isIpLiteral, isLoopbackHost, isPublicAddress } from './fetchPolicy/addresses.ts';
import { isNotifySecret } from './notifications/secret.ts';

const DURATION_HINT = 'a duration like 500ms, 30s or 5m';

/** `ms`-style duration string to milliseconds; zero and negatives are refused. */
const duration = (fallback: string) =>
  z
    .string()
    .trim()
    .default(fallback)
    .transform((value, ctx) => {
      const parsed = /^\d+(\.\d+)?$/.test(value) ? Number(value) : ms(value as ms.StringValue);
      if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed <= 0) {
        ctx.addIssue({ code: 'custom', message: `expected ${DURATION_HINT}, got "${value}"` });
        return z.NEVER;
      }
      return Math.round(parsed);
    });

/** `N/duration` (`20/10s`): at most N provider calls in any window of that length. */
const rateLimit = (fallback: string) =>
  z
    .string()
    .trim()
    .default(fallback)
    .transform((value, ctx) => {
      const match = /^(\d+)\s*\/\s*(\S+)$/.exec(value);
      const requests = match ? Number(match[1]) : NaN;
      const windowMs = match ? ms(match[2] as ms.StringValue) : NaN;
      if (!(requests > 0) || typeof windowMs !== 'number' || !(windowMs > 0)) {
        ctx.addIssue({ code: 'custom', message: `expected requests/duration like 20/10s, got "${value}"` });
        return z.NEVER;
      }
      return { requests, windowMs };
    });

const portNumber = z.coerce.number().int().min(0).max(65535);
const port = (fallback: number) => portNumber.default(fallback);
const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((value) => (value ? value : undefined));
const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  kib: 1024,
  mb: 1e6,
  mib: 1024 ** 2,
  gb: 1e9,
  gib: 1024 ** 3,
};

/** A byte count: `16777216`, `16MiB`, `500kb`. */
const byteSize = (fallback: string) =>
  z
    .string()
    .trim()
    .default(fallback)
    .transform((value, ctx) => {
      const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value);
      const unit = BYTE_UNITS[match?.[2]?.toLowerCase() ?? 'x'];
      const bytes = match && unit ? Math.floor(Number(match[1]) * unit) : NaN;
      if (!(bytes > 0)) {
        ctx.addIssue({ code: 'custom', message: `expected a size like 16MiB or 500kb, got "${value}"` });
        return z.NEVER;
      }
      return bytes;
    });

/** Comma-separated http(s) origins, each normalized to `scheme://host[:port]`. */
const originList = z
  .string()
  .optional()
  .transform((text, ctx) => {
    const origins: string[] = [];
    for (const entry of (text ?? '')
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean)) {
      const url = URL.canParse(entry) ? new URL(entry) : undefined;
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
        ctx.addIssue({
          code: 'custom',
          message: `expected http(s) origins separated by commas, got "${entry}"`,
        });
        return z.NEVER;
      }
      origins.push(url.origin);
    }
    return origins;
  });

const httpUrl = z
  .url({ protocol: /^https?$/, error: 'expected an http(s) URL' })
  .transform((url) => url.replace(/\/+$/, ''));

/** This package's name and version: the worker's deployment name and build id by default. */
const PACKAGE = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
};

/**
 * Every environment variable of the contract (DESIGN.md), with its default.
 * The configuration type is inferred from this schema; nothing else declares it.
 */
export const envSchema = z.object({
  PORT: port(3000),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  PUBLIC_BASE_URL: httpUrl.optional(),
  TEMPORAL_ADDRESS: optionalText,
  TEMPORAL_NAMESPACE: z.string().trim().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().trim().min(1).default('music-tasks'),
  /** Downloads and storage run here, so slow files never delay callbacks and polls. */
  POSTPROCESS_TASK_QUEUE: z.string().trim().min(1).default('music-postprocess'),
  /** How many downloads one worker runs at once. */
  POSTPROCESS_CONCURRENCY: z.coerce.number().int().positive().default(8),
  /** Ports of the embedded dev server (only when TEMPORAL_ADDRESS is unset). */
  TEMPORAL_DEV_PORT: port(7233),
  TEMPORAL_UI_PORT: port(8233),
  /** Where the Temporal UI is, for links to a task's workflow (the console); unset: the embedded one. */
  TEMPORAL_UI_URL: httpUrl.optional(),
  MUSIC_API_BASE_URL: httpUrl.optional(),
  MUSIC_API_KEY: optionalText,
  /** `true`: a plain-http MUSIC_API_BASE_URL that is not loopback is accepted (a private network, the compose simulator). */
  MUSIC_API_ALLOW_HTTP: z
    .enum(['true', 'false', '1', '0'], { error: 'expected true or false' })
    .transform((value) => value === 'true' || value === '1')
    .default(false),
  WEBHOOK_SECRET: z.string().trim().min(16, 'must be at least 16 characters').optional(),
  /** Comma-separated secrets still accepted while callback URLs are rotated to a new one. */
  WEBHOOK_SECRET_PREVIOUS: z.string().optional(),
  /** The provider's limit, shared by every worker of the namespace (PROVIDER.md: about 20 per 10 s). */
  PROVIDER_RATE_LIMIT: rateLimit('20/10s'),
  /** A submission still queued (rate limit, outage) after this long fails with a clear error. */
  SUBMIT_DEADLINE: duration('30m'),
  /** How long `POST /v1/tasks` waits for the provider's task id before answering QUEUED. */
  SUBMIT_WAIT: duration('10s'),
  POLL_INTERVAL: duration('30s'),
  POLL_MAX_INTERVAL: duration('5m'),
  TASK_DEADLINE: duration('30m'),
  DATA_DIR: z.string().trim().min(1).default('./data'),
  API_TOKEN: optionalText,
  /** `true`: the API is meant to be open (no API_TOKEN) on a non-loopback HOST. */
  API_OPEN: z
    .enum(['true', 'false', '1', '0'], { error: 'expected true or false' })
    .transform((value) => value === 'true' || value === '1')
    .default(false),
  /** A comment line on an event stream after this long without an event. */
  EVENTS_HEARTBEAT: duration('15s'),
  /** Event streams one HTTP server holds open at once; more are refused with 503. */
  EVENTS_MAX_STREAMS: z.coerce.number().int().positive().default(5_000),
  /** Serves `/metrics` on this port instead of PORT. */
  METRICS_PORT: portNumber.optional(),
  SIMULATOR_PORT: port(4000),
  /** Where `npm run simulator` listens: loopback unless told otherwise (a container says 0.0.0.0). */
  SIMULATOR_HOST: z.string().trim().min(1).default('127.0.0.1'),
  SIMULATOR_TIME_SCALE: z.coerce.number().positive().max(1000).default(1),
  SIMULATOR_SEED: z.coerce.number().int().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `json` or `pretty`; unset: pretty on a terminal, JSON otherwise. */
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  /** Where finished files are copied: `fs` (DATA_DIR/assets) or `s3` (an S3-compatible bucket). */
  ASSET_STORE: z.enum(['fs', 's3']).default('fs'),
  S3_BUCKET: optionalText,
  /** An S3-compatible endpoint (MinIO, R2, …); unset: AWS S3 itself. */
  S3_ENDPOINT: httpUrl.optional(),
  S3_REGION: z.string().trim().min(1).default('us-east-1'),
  S3_ACCESS_KEY_ID: optionalText,
  S3_SECRET_ACCESS_KEY: optionalText,
  /** `bucket` in the path rather than the host name; unset: on when S3_ENDPOINT is set. */
  S3_FORCE_PATH_STYLE: z
    .enum(['true', 'false', '1', '0'], { error: 'expected true or false' })
    .transform((value) => value === 'true' || value === '1')
    .optional(),
  /** PostgreSQL for the catalog; unset: SQLite at DATA_DIR/catalog.sqlite. */
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'expected a postgres:// URL' }).optional(),
  /** mTLS to a Temporal cluster or Temporal Cloud: PEM files of the client certificate and its key. */
  TEMPORAL_TLS_CERT: optionalText,
  TEMPORAL_TLS_KEY: optionalText,
  /** PEM file of a private CA that signed the Temporal frontend's certificate. */
  TEMPORAL_TLS_CA: optionalText,
  /** Temporal Cloud API key (sent as a bearer token, over TLS). */
  TEMPORAL_API_KEY: optionalText,
  /** Worker Versioning: the deployment every worker of this service belongs to ('.' and ':' are refused). */
  WORKER_DEPLOYMENT_NAME: z
    .string()
    .trim()
    .regex(/^[^.:]+$/, "must not contain '.' or ':'")
    .default(PACKAGE.name),
  /** This build's id (an image tag, a commit); runs started on it finish on it. */
  WORKER_BUILD_ID: z.string().trim().min(1).max(255).default(PACKAGE.version),
  /** The worker's Prometheus endpoint (provider calls, polls, post-processing); unset: off. */
  WORKER_METRICS_PORT: portNumber.optional(),
  /** The Temporal SDK's own worker metrics (Prometheus, served by the SDK runtime); unset: off. */
  WORKER_SDK_METRICS_PORT: portNumber.optional(),
  /** OTLP/HTTP collector base URL; when set, workflows, activities and client calls are traced. */
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional(),
  OTEL_SERVICE_NAME: optionalText,
  /** Origins downloads may reach although they resolve to non-public addresses (the provider's always may). */
  FETCH_ALLOWED_ORIGINS: originList,
  FETCH_MAX_AUDIO_BYTES: byteSize('256MiB'),
  FETCH_MAX_IMAGE_BYTES: byteSize('16MiB'),
  FETCH_MAX_VIDEO_BYTES: byteSize('512MiB'),
  /** A download that sends nothing for this long, or too little (FETCH_MIN_RATE), is stopped. */
  FETCH_IDLE_TIMEOUT: duration('30s'),
  /** Bytes per second a download must keep up, measured over each FETCH_IDLE_TIMEOUT window. */
  FETCH_MIN_RATE: byteSize('4KiB'),
  /** Where terminal events go for tasks that name no `notifyUrl`; unset: nowhere. */
  NOTIFY_URL: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
  /** The Standard Webhooks signing secret; unset: generated once into DATA_DIR. */
  NOTIFY_SECRET: z
    .string()
    .trim()
    .refine(isNotifySecret, 'expected whsec_ followed by base64 of 24 to 64 bytes')
    .optional(),
  /** One delivery attempt, connect to answer. */
  NOTIFY_TIMEOUT: duration('10s'),
  /** The first retry of a failed delivery; each next one waits twice as long, up to the maximum. */
  NOTIFY_RETRY_INTERVAL: duration('30s'),
  NOTIFY_RETRY_MAX_INTERVAL: duration('1h'),
  /** A delivery without a 2xx for this long is given up and recorded on the task as failed. */
  NOTIFY_RETRY_FOR: duration('24h'),
});

export type Env = z.infer<typeof envSchema>;

/** Variables whose values a message never shows: keys, tokens, secrets, passwords, URLs that may hold one. */
const SECRET_VARIABLES = /SECRET|TOKEN|KEY|PASSWORD|DATABASE_URL|OTEL_EXPORTER/;

/** Raised when the environment cannot be parsed; the message names each bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function buildConfig(env: Env) {
  if (env.POLL_MAX_INTERVAL < env.POLL_INTERVAL) {
    throw new ConfigError(
      `POLL_MAX_INTERVAL (${env.POLL_MAX_INTERVAL}ms) must not be shorter than POLL_INTERVAL (${env.POLL_INTERVAL}ms)`,
    );
  }
  if (env.MUSIC_API_BASE_URL && !env.MUSIC_API_KEY) {
    throw new ConfigError(
      'MUSIC_API_KEY is required when MUSIC_API_BASE_URL is set (the provider bearer key)',
    );
  }
  if (env.MUSIC_API_BASE_URL && !env.MUSIC_API_ALLOW_HTTP) {
    const base = new URL(env.MUSIC_API_BASE_URL);
    if (base.protocol === 'http:' && !isLoopbackHost(base.hostname)) {
      throw new ConfigError(
        `MUSIC_API_BASE_URL must be https (the API key would cross the network in clear): use https, or set MUSIC_API_ALLOW_HTTP=true on a private network`,
      );
    }
  }
  if (!env.TEMPORAL_TLS_CERT !== !env.TEMPORAL_TLS_KEY) {
    throw new ConfigError(
      'TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (client certificate and its key)',
    );
  }
  const tlsWanted = !!(env.TEMPORAL_TLS_CERT || env.TEMPORAL_TLS_CA || env.TEMPORAL_API_KEY);
  if (env.ASSET_STORE === 's3' && !env.S3_BUCKET) {
    throw new ConfigError('S3_BUCKET is required when ASSET_STORE=s3');
  }
  if (env.NOTIFY_RETRY_MAX_INTERVAL < env.NOTIFY_RETRY_INTERVAL) {
    throw new ConfigError(
      `NOTIFY_RETRY_MAX_INTERVAL (${env.NOTIFY_RETRY_MAX_INTERVAL}ms) must not be shorter than NOTIFY_RETRY_INTERVAL (${env.NOTIFY_RETRY_INTERVAL}ms)`,
    );
  }
  if (env.NOTIFY_URL) {
    const target = new URL(env.NOTIFY_URL);
    const allowed = env.FETCH_ALLOWED_ORIGINS.includes(target.origin);
    if (!allowed && isIpLiteral(target.hostname) && !isPublicAddress(target.hostname)) {
      throw new ConfigError(
        `NOTIFY_URL is a non-public address: add its origin (${target.origin}) to FETCH_ALLOWED_ORIGINS if it is meant to be reached`,
      );
    }
  }
  const dataDir = resolve(env.DATA_DIR);
  return {
    port: env.PORT,
    host: env.HOST,
    publicBaseUrl: env.PUBLIC_BASE_URL ?? `http://${hostForUrl(env.HOST)}:${env.PORT}`,
    temporal: {
      /** True when the service runs its own dev server (TEMPORAL_ADDRESS unset). */
      embedded: !env.TEMPORAL_ADDRESS,
      address: env.TEMPORAL_ADDRESS ?? `127.0.0.1:${env.TEMPORAL_DEV_PORT}`,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      postprocessTaskQueue: env.POSTPROCESS_TASK_QUEUE,
      /** Every provider call runs here, under the fleet's budget (see `providerBudget`). */
      providerTaskQueue: `${env.TEMPORAL_TASK_QUEUE}-provider`,
      postprocessConcurrency: env.POSTPROCESS_CONCURRENCY,
      devPort: env.TEMPORAL_DEV_PORT,
      uiPort: env.TEMPORAL_UI_PORT,
      /** The Temporal UI's address, when known: TEMPORAL_UI_URL, else the embedded dev server's. */
      uiUrl:
        env.TEMPORAL_UI_URL ??
        (env.TEMPORAL_ADDRESS ? undefined : `http://127.0.0.1:${env.TEMPORAL_UI_PORT}`),
      /** Undefined: plaintext (the dev server, a cluster on a private network). */
      tls: tlsWanted
        ? { certPath: env.TEMPORAL_TLS_CERT, keyPath: env.TEMPORAL_TLS_KEY, caPath: env.TEMPORAL_TLS_CA }
        : undefined,
      apiKey: env.TEMPORAL_API_KEY,
      /** The Worker Deployment Version of every worker of this process (src/temporal/deployment.ts). */
      deployment: { deploymentName: env.WORKER_DEPLOYMENT_NAME, buildId: env.WORKER_BUILD_ID },
    },
    provider: {
      /** True when the service runs its own simulator (MUSIC_API_BASE_URL unset). */
      simulated: !env.MUSIC_API_BASE_URL,
      baseUrl: env.MUSIC_API_BASE_URL ?? `http://127.0.0.1:${env.SIMULATOR_PORT}`,
      apiKey: env.MUSIC_API_KEY ?? 'local-simulator-key',
      allowPlainHttp: env.MUSIC_API_ALLOW_HTTP,
    },
    providerBudget: env.PROVIDER_RATE_LIMIT,
    submitDeadlineMs: env.SUBMIT_DEADLINE,
    submitWaitMs: env.SUBMIT_WAIT,
    timing: {
      pollIntervalMs: env.POLL_INTERVAL,
      pollMaxIntervalMs: env.POLL_MAX_INTERVAL,
      taskDeadlineMs: env.TASK_DEADLINE,
    },
    webhookSecret: env.WEBHOOK_SECRET,
    previousWebhookSecrets: (env.WEBHOOK_SECRET_PREVIOUS ?? '')
      .split(',')
      .map((secret) => secret.trim())
      .filter(Boolean),
    dataDir,
    apiToken: env.API_TOKEN,
    apiOpen: env.API_OPEN,
    metricsPort: env.METRICS_PORT,
    events: { heartbeatMs: env.EVENTS_HEARTBEAT, maxStreams: env.EVENTS_MAX_STREAMS },
    simulator: {
      port: env.SIMULATOR_PORT,
      host: env.SIMULATOR_HOST,
      /** Undefined: any non-empty bearer key is accepted. */
      apiKey: env.MUSIC_API_KEY,
      timeScale: env.SIMULATOR_TIME_SCALE,
      seed: env.SIMULATOR_SEED,
    },
    assets: {
      store: env.ASSET_STORE,
      dir: join(dataDir, 'assets'),
      s3: env.S3_BUCKET
        ? {
            bucket: env.S3_BUCKET,
            region: env.S3_REGION,
            endpoint: env.S3_ENDPOINT,
            forcePathStyle: env.S3_FORCE_PATH_STYLE ?? !!env.S3_ENDPOINT,
            accessKeyId: env.S3_ACCESS_KEY_ID,
            secretAccessKey: env.S3_SECRET_ACCESS_KEY,
          }
        : undefined,
    },
    catalog: { databaseUrl: env.DATABASE_URL, sqlitePath: join(dataDir, 'catalog.sqlite') },
    fetch: {
      allowedOrigins: env.FETCH_ALLOWED_ORIGINS,
      maxBytes: {
        audio: env.FETCH_MAX_AUDIO_BYTES,
        image: env.FETCH_MAX_IMAGE_BYTES,
        video: env.FETCH_MAX_VIDEO_BYTES,
      },
      idleTimeoutMs: env.FETCH_IDLE_TIMEOUT,
      minBytesPerSecond: env.FETCH_MIN_RATE,
    },
    notify: {
      /** Default target of terminal events (NOTIFY_URL). */
      url: env.NOTIFY_URL,
      /** Undefined: generated into DATA_DIR (see `resolveNotifySecret`). */
      secret: env.NOTIFY_SECRET,
      retry: {
        attemptTimeoutMs: env.NOTIFY_TIMEOUT,
        initialIntervalMs: env.NOTIFY_RETRY_INTERVAL,
        maximumIntervalMs: env.NOTIFY_RETRY_MAX_INTERVAL,
        giveUpAfterMs: env.NOTIFY_RETRY_FOR,
      },
      /** PUBLIC_BASE_URL as given (not its default): assets in notifications get absolute URLs under it. */
      publicBaseUrl: env.PUBLIC_BASE_URL,
    },
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT,
    observability: {
      workerMetricsPort: env.WORKER_METRICS_PORT,
      sdkMetricsPort: env.WORKER_SDK_METRICS_PORT,
      otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT,
      serviceName: env.OTEL_SERVICE_NAME,
    },
  };
}

export type Config = ReturnType<typeof buildConfig>;
export type TaskTiming = Config['timing'];

/** Parses the environment once. Throws {@link ConfigError} naming every variable that is wrong. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // `NAME=` on a command line means unset, as it does for most tools.
  const given = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''),
  );
  const parsed = envSchema.safeParse(given);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = issue.path.join('.');
      const value = env[name] ?? '';
      const shown = SECRET_VARIABLES.test(name)
        ? `<${value.length} characters, not shown>`
        : JSON.stringify(value);
      return `  ${name}=${shown}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return buildConfig(parsed.data);
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * The secret that callback URLs carry: WEBHOOK_SECRET, else one generated on first use and kept
 * in DATA_DIR so the server, the worker and later runs agree on it.
 */
export function resolveWebhookSecret(config: Pick<Config, 'webhookSecret' | 'dataDir'>): string {
  if (config.webhookSecret) return config.webhookSecret;
  const file = join(config.dataDir, 'webhook-secret');
  try {
    const kept = readFileSync(file, 'utf8').trim();
    if (kept) return kept;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(config.dataDir, { recursive: true });
  const secret = randomBytes(24).toString('base64url');
  try {
    // 'wx': when two processes race on first start, the first writer wins and the other re-reads.
    writeFileSync(file, `${secret}\n`, { flag: 'wx', mode: 0o600 });
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readFileSync(file, 'utf8').trim();
  }
}
