import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type FastifyBaseLogger } from 'fastify';
import { type CallbackPhase } from './faults.ts';
import { type DeliveryRecord, type SimStats } from './stats.ts';
import { type Timers } from './timers.ts';

/** Provider minutes between a failed delivery and the next try (PROVIDER.md: 1, 5, 15 minutes). */
export const REDELIVERY_DELAYS_MS = [60_000, 300_000, 900_000] as const;
/** How long the provider waits for the receiver to answer, before scaling. */
export const CALLBACK_TIMEOUT_MS = 10_000;

export interface Callback {
  taskId: string;
  createdAt: number;
  phase: CallbackPhase;
  url: string;
  body: unknown;
  copy: number;
  forged: boolean;
  premature: boolean;
  /** Set for a callback the store keeps until it is delivered or given up. */
  owedId?: string;
}

/** Where the courier reports what became of an owed callback, so a restart resends it. */
export interface OwedLedger {
  retry(id: string, attempt: number, dueAt: number): void;
  settled(id: string): void;
}

/** POSTs JSON and resolves with the HTTP status; a fresh connection each time, as webhooks do. */
function postJson(url: string, body: unknown, timeoutMs: number, signal: AbortSignal): Promise<number> {
  const payload = Buffer.from(JSON.stringify(body));
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(
      target,
      {
        method: 'POST',
        agent: false,
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
        headers: {
          'content-type': 'application/json',
          'content-length': payload.length,
          'user-agent': 'music-provider-simulator',
        },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

/** How often a restored simulator knocks while the receiver is not listening yet (start-up order). */
const RECEIVER_KNOCK_MS = 1_000;

/** Delivers callbacks and redelivers failed ones on the provider's schedule, scaled. */
export class Courier {
  private inFlight = new AbortController();
  /** Until then a refused connection is tried again in a second, not on the provider's schedule. */
  private waitForReceiverUntil = 0;

  constructor(
    private readonly deps: {
      timers: Timers;
      timeScale: number;
      stats: SimStats;
      log: FastifyBaseLogger;
      owed?: OwedLedger | undefined;
    },
  ) {}

  /** Makes one attempt; a failure schedules the next one. Resolves when this attempt is over. */
  async send(callback: Callback, attempt = 1): Promise<void> {
    const { timers, timeScale, stats, log, owed } = this.deps;
    const { signal } = this.inFlight;
    if (signal.aborted) return;
    const timeoutMs = Math.max(1000, CALLBACK_TIMEOUT_MS * timeScale);
    const record: DeliveryRecord = {
      phase: callback.phase,
      copy: callback.copy,
      attempt,
      forged: callback.forged,
      premature: callback.premature,
      atMs: Date.now() - callback.createdAt,
      status: null,
      error: null,
      delivered: false,
    };
    let refused = false;
    try {
      record.status = await postJson(callback.url, callback.body, timeoutMs, signal);
      record.delivered = record.status >= 200 && record.status < 300;
    } catch (error) {
      record.error = error instanceof Error ? error.message : String(error);
      refused = (error as { code?: string }).code === 'ECONNREFUSED';
    }
    if (signal.aborted) return;
    if (refused && Date.now() < this.waitForReceiverUntil) {
      // The service restarting with us: nothing listens yet, which is no failed delivery.
      timers.after(RECEIVER_KNOCK_MS, () => void this.send(callback, attempt));
      return;
    }
    stats.recordDelivery(callback.taskId, record);
    log.debug({ callback: record, taskId: callback.taskId }, 'callback attempt');
    const settle = () => callback.owedId && owed?.settled(callback.owedId);
    if (record.delivered || callback.forged) return void settle();
    const delay = REDELIVERY_DELAYS_MS[attempt - 1];
    if (delay === undefined) {
      stats.callbacks(callback.taskId).gaveUp++;
      log.info({ taskId: callback.taskId, phase: callback.phase }, 'callback given up');
      return void settle();
    }
    if (callback.owedId) owed?.retry(callback.owedId, attempt + 1, Date.now() + delay * timeScale);
    timers.after(delay * timeScale, () => void this.send(callback, attempt + 1));
  }

  /**
   * For `ms` from now, a callback whose receiver refuses the connection is tried again every
   * second: after a restart the simulator is up before the service it calls back.
   */
  waitForReceiver(ms: number): void {
    this.waitForReceiverUntil = Date.now() + ms;
  }

  /** Aborts the requests in flight (on reset and close); later sends start afresh. */
  abortAll(): void {
    this.inFlight.abort();
    this.inFlight = new AbortController();
  }
}
