import type { Logger } from 'pino';
import { isLoopbackHost } from '../fetchPolicy/addresses.ts';
import { ProviderError, parseRetryAfter, providerErrorType } from './errors.ts';
import { findTextOverLimit } from './inputs.ts';
import { KIND_ROUTES, type TaskKind } from './kinds.ts';
import { parseSnapshot } from './snapshot.ts';
import type { ProviderSnapshot } from './types.ts';

/** Largest provider answer read: a query answer is a few kilobytes; nothing may grow the worker's memory. */
export const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

export interface ProviderClientOptions {
  baseUrl: string;
  apiKey: string;
  /** Accept a plain-http base URL that is not loopback (MUSIC_API_ALLOW_HTTP). */
  allowPlainHttp?: boolean;
  /** Largest answer read; default {@link MAX_ANSWER_BYTES}. */
  maxAnswerBytes?: number;
  /** Per call; the provider is slow at times but never this slow. */
  timeoutMs?: number;
  logger?: Logger;
  /** Counts calls by route and outcome (for metrics). */
  onCall?: (route: string, code: number | 'network', durationMs: number) => void;
}

interface Envelope {
  code?: unknown;
  msg?: unknown;
  data?: unknown;
}

/** The body as text, refused past `maxBytes` (counted as it streams, whatever content-length says). */
async function readCapped(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new Error(`the answer is over ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Typed calls to the provider's submit and query routes, with its errors mapped to types. */
export class ProviderClient {
  private readonly unknownStatuses = new Set<string>();
  private readonly timeoutMs: number;

  /**
   * @throws Error when the base URL is plain http to a host that is not loopback (the key would
   * cross the network in clear) and `allowPlainHttp` is not set
   */
  constructor(private readonly options: ProviderClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 20_000;
    const base = new URL(options.baseUrl);
    if (base.protocol === 'http:' && !isLoopbackHost(base.hostname) && !options.allowPlainHttp) {
      throw new Error(
        `refusing to send the provider key over plain http to ${base.host}: use https, or set MUSIC_API_ALLOW_HTTP=true`,
      );
    }
  }

  /**
   * Submits a task of `kind`; returns the provider's task id.
   * Texts over the documented limits are refused here, before any call, as a 413 would be.
   */
  async submit(kind: TaskKind, input: Record<string, unknown>, callBackUrl: string): Promise<string> {
    const over = findTextOverLimit(input);
    if (over) {
      throw new ProviderError(
        'ProviderRejected',
        413,
        `${over.field} is ${over.length} characters; the limit for this model is ${over.limit}`,
      );
    }
    const route = KIND_ROUTES[kind].submit;
    const data = await this.call(
      route,
      { method: 'POST', body: JSON.stringify({ ...input, callBackUrl }) },
      false,
    );
    const taskId =
      (data as { taskId?: unknown; task_id?: unknown } | null)?.taskId ??
      (data as { task_id?: unknown })?.task_id;
    if (typeof taskId !== 'string' || !taskId) {
      throw new ProviderError('ProviderUnavailable', undefined, `${route} answered without a taskId`);
    }
    return taskId;
  }

  /** The task's current state, whatever drift the route answers with. */
  async query(kind: TaskKind, taskId: string): Promise<ProviderSnapshot> {
    const route = KIND_ROUTES[kind].query;
    const data = await this.call(`${route}?taskId=${encodeURIComponent(taskId)}`, { method: 'GET' }, true);
    if (data === null || data === undefined) {
      throw new ProviderError('ProviderTaskNotFound', undefined, `no data for task ${taskId}`);
    }
    return parseSnapshot(kind, data, (status) => {
      if (this.unknownStatuses.has(status)) return;
      this.unknownStatuses.add(status);
      this.options.logger?.warn({ status, kind, route }, 'provider reported an unknown status; polling on');
    });
  }

  private async call(path: string, init: RequestInit, onQueryRoute: boolean): Promise<unknown> {
    const route = path.split('?')[0]!;
    const started = performance.now();
    let response: Response;
    try {
      response = await fetch(`${this.options.baseUrl}${path}`, {
        ...init,
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          accept: 'application/json',
          ...(init.body ? { 'content-type': 'application/json' } : {}),
        },
        signal: AbortSignal.timeout(this.timeoutMs),
        // A redirect would carry the key to wherever it points: none is followed.
        redirect: 'manual',
      });
    } catch (error) {
      this.options.onCall?.(route, 'network', performance.now() - started);
      const reason = error instanceof Error && error.name === 'TimeoutError' ? 'timed out' : 'unreachable';
      throw new ProviderError('ProviderUnavailable', undefined, `${route} ${reason}`, { cause: error });
    }
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      this.options.onCall?.(route, response.status, performance.now() - started);
      throw new ProviderError(
        'ProviderUnavailable',
        response.status,
        `${route} answered with a redirect (HTTP ${response.status}); the API key is sent to the configured host only`,
      );
    }
    const text = await readCapped(response, this.options.maxAnswerBytes ?? MAX_ANSWER_BYTES).catch(
      (error: unknown) => {
        this.options.onCall?.(route, 'network', performance.now() - started);
        throw new ProviderError('ProviderUnavailable', undefined, `${route}: ${(error as Error).message}`, {
          cause: error,
        });
      },
    );
    let envelope: Envelope | undefined;
    try {
      envelope = text ? (JSON.parse(text) as Envelope) : undefined;
    } catch {
      envelope = undefined;
    }
    // Errors arrive as the HTTP status, as the envelope's code with HTTP 200, or both.
    const envelopeCode = typeof envelope?.code === 'number' ? envelope.code : undefined;
    const code = response.status !== 200 ? response.status : (envelopeCode ?? 200);
    this.options.onCall?.(route, code, performance.now() - started);
    if (code !== 200 || (envelopeCode !== undefined && envelopeCode !== 200)) {
      const effective = code !== 200 ? code : envelopeCode!;
      const message =
        typeof envelope?.msg === 'string' ? envelope.msg : text.slice(0, 200) || response.statusText;
      throw new ProviderError(providerErrorType(effective, onQueryRoute), effective, message, {
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
      });
    }
    if (!envelope)
      throw new ProviderError('ProviderUnavailable', code, `${route} answered with a body that is not JSON`);
    return envelope.data;
  }
}
