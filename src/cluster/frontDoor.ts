/**
 * The cluster's load balancer: one public address in front of the HTTP replicas, as a real
 * deployment puts one in front of its servers. Requests are spread over the replicas (undici's
 * BalancedPool through @fastify/reply-from); a request that a dead replica refused is sent to
 * another, and so is a callback or a read whose replica died while answering (both are safe to
 * repeat: the workflow dedupes callbacks). Bodies pass through byte for byte.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import replyFrom from '@fastify/reply-from';

/** Tries per request: every replica gets a chance before the caller sees a 5xx. */
const RETRIES = 4;
const RETRY_DELAY_MS = 100;
/** The replicas' own limit is what counts; the front door only must not be smaller. */
const BODY_LIMIT = 16 * 1024 * 1024;

/** Connection failures that prove the request never reached a replica. */
const NOT_DELIVERED = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH']);
const DROPPED = new Set(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE']);

function repeatable(method: string, url: string): boolean {
  return method === 'GET' || method === 'HEAD' || url.startsWith('/webhooks/');
}

export interface FrontDoorOptions {
  host: string;
  port: number;
  /** Origins of the HTTP replicas, e.g. `http://127.0.0.1:3001`. */
  replicas: string[];
}

/** Listens on host:port and forwards everything to the replicas; resolves with its URL. */
export async function startFrontDoor(
  options: FrontDoorOptions,
): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT });
  // Forward the bytes as they came: no parsing, no re-encoding (a signature covers the raw body).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  await app.register(replyFrom, {
    base: options.replicas.length === 1 ? options.replicas[0]! : options.replicas,
    undici: { connections: 128, keepAliveTimeout: 4_000 },
  });
  app.all('/*', (request, reply) => {
    const url = request.raw.url ?? '/';
    const body = Buffer.isBuffer(request.body) ? request.body : undefined;
    return reply.from(undefined, {
      // Given as is, or reply-from would re-encode a JSON body from the parsed value.
      ...(body ? { body, contentType: request.headers['content-type'] ?? 'application/octet-stream' } : {}),
      retriesCount: RETRIES,
      retryDelay: ({ err, req, attempt }) => {
        if (!err || attempt >= RETRIES) return null;
        const code = (err as { code?: string }).code ?? '';
        if (NOT_DELIVERED.has(code)) return RETRY_DELAY_MS;
        if (DROPPED.has(code) && repeatable(req.method, url)) return RETRY_DELAY_MS;
        return null;
      },
    });
  });
  const url = await app.listen({ host: options.host, port: options.port });
  return { app, url };
}
