/**
 * The app's side of notifications for tests: a receiver on 127.0.0.1 that verifies every delivery
 * with the `standardwebhooks` library and answers what the test scripts (status codes in turn).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { NotificationPayload } from '../../src/notifications/payload.ts';

export interface Delivery {
  webhookId: string;
  timestamp: string;
  /** The body as `Webhook.verify` parsed it: only verified deliveries are kept here. */
  payload: NotificationPayload;
  status: number;
  headers: IncomingHttpHeaders;
}

export class NotifyReceiver {
  /** Every verified request, whatever it was answered. */
  readonly deliveries: Delivery[] = [];
  /** Requests whose signature did not verify (always answered 401). */
  readonly forged: string[] = [];
  /** Status codes answered to the next requests, in turn; then 204. */
  readonly answers: number[] = [];
  private server: Server | undefined;
  private webhook: Webhook;
  port = 0;

  constructor(secret: string) {
    this.webhook = new Webhook(secret);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/music?app=token`;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Accepted deliveries (answered 2xx). */
  get accepted(): Delivery[] {
    return this.deliveries.filter((delivery) => delivery.status >= 200 && delivery.status < 300);
  }

  /** Listens on `port` (0: any free one; a fixed one brings a stopped receiver back on its URL). */
  async start(port = this.port): Promise<this> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let payload: NotificationPayload;
        try {
          payload = this.webhook.verify(
            body,
            request.headers as Record<string, string>,
          ) as NotificationPayload;
        } catch (error) {
          this.forged.push(String(error));
          response.writeHead(401).end();
          return;
        }
        const status = this.answers.shift() ?? 204;
        this.deliveries.push({
          webhookId: String(request.headers['webhook-id']),
          timestamp: String(request.headers['webhook-timestamp']),
          payload,
          status,
          headers: request.headers,
        });
        response.writeHead(status).end(status >= 300 ? 'not now' : '');
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', resolve);
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Waits until `until` holds of the deliveries so far. */
  async waitFor(until: (deliveries: Delivery[]) => boolean, timeoutMs = 30_000): Promise<Delivery[]> {
    const deadline = Date.now() + timeoutMs;
    while (!until(this.deliveries)) {
      if (Date.now() > deadline) {
        throw new Error(
          `the receiver did not see the expected deliveries in ${timeoutMs} ms: ${JSON.stringify(this.deliveries.map((d) => [d.webhookId, d.status]))}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return this.deliveries;
  }
}
