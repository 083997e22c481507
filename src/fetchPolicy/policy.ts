import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction, Socket } from 'node:net';
import { Transform, type Readable } from 'node:stream';
import { isIpLiteral, isPublicAddress } from './addresses.ts';
import { describeUrl, FetchPolicyError } from './errors.ts';

/** The asset families with a byte cap of their own. */
export type AssetFamily = 'audio' | 'image' | 'video';

export interface FetchPolicySettings {
  /** Origins (`scheme://host:port`) that may resolve to non-public addresses: the provider's, and FETCH_ALLOWED_ORIGINS. */
  allowedOrigins: readonly string[];
  maxBytes: Record<AssetFamily, number>;
  /** A window of this length without a byte, or with fewer than `minBytesPerSecond` × its length, stops the download. */
  idleTimeoutMs: number;
  minBytesPerSecond: number;
  /** Redirects followed (by hand, each target checked again). */
  maxRedirects?: number;
}

export interface PolicyResponse {
  status: number;
  headers: IncomingMessage['headers'];
  /** The body as it came over the wire (never decompressed), capped and watched for stalls. */
  body: Readable;
  /** The URL that answered, after redirects. */
  url: string;
}

export const DEFAULT_MAX_REDIRECTS = 5;

const origin = (text: string) => new URL(text).origin;

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string, family: number) => void;
type AllCallback = (error: null, addresses: LookupAddress[]) => void;

const tooLarge = (url: URL, cap: number, family: AssetFamily) =>
  new FetchPolicyError(
    'refused',
    'too_large',
    `${describeUrl(url)} is larger than the ${cap}-byte cap for ${family} files`,
  );

/**
 * The one way the service fetches a URL it was told about (provider files, later notifications).
 * Addresses are checked after DNS resolution and again on the connected socket, so a name that
 * rebinds between the check and the connect cannot reach an internal address.
 */
export class FetchPolicy {
  private readonly allowed: ReadonlySet<string>;
  private readonly maxRedirects: number;

  constructor(readonly settings: FetchPolicySettings) {
    this.allowed = new Set(settings.allowedOrigins.map(origin));
    this.maxRedirects = settings.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  }

  /** Whether `url`'s origin may reach non-public addresses. */
  allowsPrivate(url: URL): boolean {
    return this.allowed.has(url.origin);
  }

  /**
   * GETs `url` under the policy, following redirects by hand.
   * @throws FetchPolicyError `refused` or `failed`; an HTTP error status is returned, not thrown
   */
  async get(url: string, family: AssetFamily, signal?: AbortSignal): Promise<PolicyResponse> {
    let current = this.checkUrl(url);
    for (let hop = 0; ; hop++) {
      const response = await this.request(current, signal);
      const location = response.headers.location;
      if (response.statusCode && response.statusCode >= 300 && response.statusCode < 400 && location) {
        response.destroy();
        if (hop >= this.maxRedirects) {
          throw new FetchPolicyError(
            'refused',
            'redirects',
            `${describeUrl(url)} redirected more than ${this.maxRedirects} times`,
          );
        }
        let next: string;
        try {
          next = new URL(location, current).toString();
        } catch {
          throw new FetchPolicyError(
            'refused',
            'redirects',
            `${describeUrl(current)} redirected to an invalid URL`,
          );
        }
        current = this.checkUrl(next);
        continue;
      }
      const cap = this.settings.maxBytes[family];
      if (Number(response.headers['content-length']) > cap) {
        response.destroy();
        throw tooLarge(current, cap, family);
      }
      return {
        status: response.statusCode ?? 0,
        headers: response.headers,
        body: this.watch(response, family, current),
        url: current.toString(),
      };
    }
  }

  /**
   * Checks what can be checked before any lookup: the scheme, and a literal address against the
   * allowed origins (the API refuses a literal private `notifyUrl` with it).
   * @throws FetchPolicyError `refused`
   */
  checkUrl(text: string): URL {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new FetchPolicyError('refused', 'scheme', `not a URL: ${describeUrl(text)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new FetchPolicyError(
        'refused',
        'scheme',
        `${url.protocol} URLs are not fetched (http and https only)`,
      );
    }
    if (!this.allowsPrivate(url) && isIpLiteral(url.hostname) && !isPublicAddress(url.hostname)) {
      throw this.addressRefused(url);
    }
    return url;
  }

  private addressRefused(url: URL): FetchPolicyError {
    return new FetchPolicyError(
      'refused',
      'address',
      `${describeUrl(url)} resolves to a non-public address; add its origin to FETCH_ALLOWED_ORIGINS if it is meant to be reached`,
    );
  }

  /** Resolves every address of the name and refuses the lot when any is non-public. */
  private lookupFor(url: URL): LookupFunction | undefined {
    if (this.allowsPrivate(url)) return undefined;
    return (hostname: string, options: { all?: boolean }, callback: LookupCallback) => {
      dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
        if (error) return callback(error, '', 0);
        if (!addresses.length || addresses.some((entry) => !isPublicAddress(entry.address))) {
          return callback(this.addressRefused(url), '', 0);
        }
        // Node asks for every address when it races IPv4 and IPv6 (autoSelectFamily).
        if (options.all) return (callback as unknown as AllCallback)(null, addresses);
        callback(null, addresses[0]!.address, addresses[0]!.family);
      });
    };
  }

  /**
   * POSTs `body` to `url` under the policy (outbound notifications). No redirect is followed: a
   * 3xx is returned as it is. At most `maxAnswerBytes` of the answer are kept.
   * @throws FetchPolicyError `refused` or `failed`
   */
  async post(
    url: string,
    body: string | Buffer,
    options: { headers?: Record<string, string>; signal?: AbortSignal; maxAnswerBytes?: number } = {},
  ): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
    const target = this.checkUrl(url);
    const response = await this.request(target, options.signal, {
      method: 'POST',
      headers: options.headers,
      body,
    });
    const limit = options.maxAnswerBytes ?? 64 * 1024;
    const kept: Buffer[] = [];
    let size = 0;
    for await (const chunk of response) {
      kept.push((chunk as Buffer).subarray(0, limit - size));
      size += (chunk as Buffer).length;
      // Past the cap the answer is cut off (the socket closed), neither kept nor read to its end.
      if (size >= limit) break;
    }
    return { status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(kept) };
  }

  private request(
    url: URL,
    signal?: AbortSignal,
    send: { method: 'POST'; headers?: Record<string, string>; body: string | Buffer } | undefined = undefined,
  ): Promise<IncomingMessage> {
    const library = url.protocol === 'https:' ? https : http;
    const lookup = this.lookupFor(url);
    return new Promise((resolve, reject) => {
      const request = library.request(url, {
        method: send?.method ?? 'GET',
        // Identity only: compressed bytes would escape the byte cap once decoded.
        headers: { ...send?.headers, 'accept-encoding': 'identity', 'user-agent': 'music-tasks' },
        agent: false,
        ...(lookup ? { lookup } : {}),
        ...(signal ? { signal } : {}),
      });
      request.end(send?.body);
      request.setTimeout(this.settings.idleTimeoutMs, () =>
        request.destroy(
          new FetchPolicyError(
            'failed',
            'idle',
            `${describeUrl(url)} did not answer within ${this.settings.idleTimeoutMs} ms`,
          ),
        ),
      );
      // The address really connected to, checked again: nothing between lookup and connect can swap it.
      request.once('socket', (socket: Socket) => {
        socket.once('connect', () => {
          const remote = socket.remoteAddress;
          if (!this.allowsPrivate(url) && (!remote || !isPublicAddress(remote))) {
            request.destroy(this.addressRefused(url));
          }
        });
      });
      request.once('response', resolve);
      request.once('error', (error) => {
        if (error instanceof FetchPolicyError) return reject(error);
        if (signal?.aborted) return reject(signal.reason instanceof Error ? signal.reason : error);
        const code = (error as NodeJS.ErrnoException).code ?? error.name;
        reject(
          new FetchPolicyError('failed', 'unreachable', `cannot fetch ${describeUrl(url)}: ${code}`, {
            cause: error,
          }),
        );
      });
    });
  }

  /** The body, stopped when it passes the family's cap, goes idle or trickles below the minimum rate. */
  private watch(response: IncomingMessage, family: AssetFamily, url: URL): Readable {
    const { idleTimeoutMs, minBytesPerSecond } = this.settings;
    const cap = this.settings.maxBytes[family];
    const fail = (error: FetchPolicyError) => {
      clearInterval(timer);
      response.destroy(error);
      meter.destroy(error);
    };
    let total = 0;
    let inWindow = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        total += chunk.length;
        inWindow += chunk.length;
        if (total > cap) return done(tooLarge(url, cap, family));
        done(null, chunk);
      },
      flush(done) {
        clearInterval(timer);
        done();
      },
    });
    const needed = Math.ceil((minBytesPerSecond * idleTimeoutMs) / 1000);
    const timer = setInterval(() => {
      if (inWindow === 0) {
        fail(
          new FetchPolicyError('failed', 'idle', `${describeUrl(url)} sent nothing for ${idleTimeoutMs} ms`),
        );
      } else if (inWindow < needed) {
        fail(
          new FetchPolicyError(
            'failed',
            'too_slow',
            `${describeUrl(url)} sent ${inWindow} bytes in ${idleTimeoutMs} ms, below the minimum of ${minBytesPerSecond} bytes/s`,
          ),
        );
      }
      inWindow = 0;
    }, idleTimeoutMs);
    timer.unref();
    // From here the meter judges idleness: the request's own socket timeout would race it and cut
    // the body with a bare "aborted" instead of the meter's reason.
    response.socket?.setTimeout(0);
    meter.once('close', () => {
      clearInterval(timer);
      if (!response.complete) response.destroy();
    });
    response.once('error', (error) => meter.destroy(error));
    response.pipe(meter);
    return meter;
  }
}
