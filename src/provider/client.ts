import type { Logger } from 'pino';
import { ProviderError, parseRetryAfter, providerErrorType } from './errors.ts';
import { findTextOverLimit } from './inputs.ts';
import { KIND_ROUTES, type TaskKind } from './kinds.ts';
import { parseSnapshot } from './snapshot.ts';
import type { ProviderSnapshot } from './types.ts';

export interface ProviderClientOptions {
  baseUrl: string;
  apiKey: string;
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

/** Typed calls to the provider's submit and query routes, with its errors mapped to types. */
export class ProviderClient {
  private readonly unknownStatuses = new Set<string>();
  private readonly timeoutMs: number;

  constructor(private readonly options: ProviderClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 20_000;
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
      });
    } catch (error) {
      this.options.onCall?.(route, 'network', performance.now() - started);
      const reason = error instanceof Error && error.name === 'TimeoutError' ? 'timed out' : 'unreachable';
      throw new ProviderError('ProviderUnavailable', undefined, `${route} ${reason}`, { cause: error });
    }
    const text = await response.text();
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
