/**
 * The test's own provider: scripted answers, counted calls, and a loopback media server whose
 * files carry real magic bytes. Unlike the simulator it never moves on its own.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { ProviderError } from '../../src/provider/errors.ts';
import { isFailureStatus, SUCCESS_STATUS, type TaskKind } from '../../src/provider/kinds.ts';
import { isFinishedResult } from '../../src/provider/normalize.ts';
import { encodeMp3, encodePng } from '../../src/simulator/media.ts';
import type { ProviderSnapshot, TaskResult } from '../../src/provider/types.ts';

/** MP3 frames in a song file: 3.06 s, the duration `songResult` declares. */
const SONG_FRAMES = 117;

/** An ID3v2.3 tag with one TXXX frame: makes otherwise identical MP3s differ. */
function id3Tag(description: string, value: string): Buffer {
  const content = Buffer.from(`\x00${description}\x00${value}`, 'latin1');
  const frame = Buffer.alloc(10 + content.length);
  frame.write('TXXX', 0, 'latin1');
  frame.writeUInt32BE(content.length, 4);
  content.copy(frame, 10);
  const header = Buffer.from('ID3\x03\x00\x00', 'latin1');
  const size = frame.length; // syncsafe: 7 bits per byte
  const syncsafe = Buffer.from([(size >> 21) & 0x7f, (size >> 14) & 0x7f, (size >> 7) & 0x7f, size & 0x7f]);
  return Buffer.concat([header, syncsafe, frame]);
}

export class FakeProvider {
  readonly tasks = new Map<
    string,
    { kind: TaskKind; status: string; result: TaskResult; error?: ProviderSnapshot['error'] }
  >();
  readonly queries = new Map<string, number>();
  submits = 0;
  /** Errors the next submits throw, in order. */
  readonly submitErrors: ProviderError[] = [];
  readonly queryErrors: ProviderError[] = [];
  /** How long each query takes to answer (a slow provider). */
  queryDelayMs = 0;
  private nextId = 1;

  /** The callback URL each submitted task was given. */
  readonly callbackUrls = new Map<string, string>();
  /** Runs before a submit answers (a provider whose callback beats its own answer). */
  beforeAnswer: ((taskId: string, callbackUrl: string) => Promise<void>) | undefined;

  async submit(kind: TaskKind, _input?: Record<string, unknown>, callbackUrl = ''): Promise<string> {
    this.submits += 1;
    const error = this.submitErrors.shift();
    if (error) throw error;
    const taskId = `fake${String(this.nextId++).padStart(4, '0')}${randomBytes(3).toString('hex')}`;
    this.tasks.set(taskId, { kind, status: 'PENDING', result: {} });
    this.callbackUrls.set(taskId, callbackUrl);
    await this.beforeAnswer?.(taskId, callbackUrl);
    return taskId;
  }

  async query(kind: TaskKind, taskId: string): Promise<ProviderSnapshot> {
    this.queries.set(taskId, (this.queries.get(taskId) ?? 0) + 1);
    if (this.queryDelayMs) await new Promise((resolve) => setTimeout(resolve, this.queryDelayMs));
    const error = this.queryErrors.shift();
    if (error) throw error;
    const task = this.tasks.get(taskId);
    if (!task) {
      throw new ProviderError('ProviderTaskNotFound', 404, 'Task not found');
    }
    const failed = isFailureStatus(task.status);
    return {
      taskId,
      kind,
      status: task.status,
      terminal: task.status === SUCCESS_STATUS || failed,
      failed,
      result: task.result,
      finished: isFinishedResult(kind, task.result),
      ...(task.error ? { error: task.error } : {}),
    };
  }

  set(
    taskId: string,
    kind: TaskKind,
    status: string,
    result: TaskResult = {},
    error?: ProviderSnapshot['error'],
  ): void {
    this.tasks.set(taskId, { kind, status, result, ...(error ? { error } : {}) });
  }

  queryCount(taskId: string): number {
    return this.queries.get(taskId) ?? 0;
  }
}

/** Serves `/<name>.mp3|.png` with real leading bytes; counts downloads per path. */
export class MediaServer {
  readonly downloads = new Map<string, number>();
  /** Paths that answer 404 (an expired provider file). */
  readonly gone = new Set<string>();
  private server: Server | undefined;
  url = '';

  /** A real, decodable file (the store probes it): 3.06 s of MP3, or a 64×64 PNG, unique per path. */
  static body(path: string): Buffer {
    const seed = createHash('sha256').update(path).digest();
    if (path.endsWith('.png')) return encodePng([seed[0]!, seed[1]!, seed[2]!]);
    return Buffer.concat([id3Tag('seed', seed.toString('hex')), encodeMp3(SONG_FRAMES)]);
  }

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      const path = request.url ?? '/';
      this.downloads.set(path, (this.downloads.get(path) ?? 0) + 1);
      if (this.gone.has(path)) {
        response.writeHead(404).end();
        return;
      }
      const body = MediaServer.body(path);
      response.writeHead(200, {
        'content-type': path.endsWith('.png') ? 'image/png' : 'audio/mpeg',
        'content-length': body.length,
      });
      response.end(body);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  /** A finished song result of two tracks whose files this server serves. */
  songResult(taskId: string): TaskResult {
    return {
      tracks: ['a', 'b'].map((suffix) => ({
        id: `${taskId}-${suffix}`,
        audioUrl: `${this.url}/${taskId}/${suffix}.mp3`,
        streamAudioUrl: `${this.url}/${taskId}/stream-${suffix}.mp3`,
        imageUrl: `${this.url}/${taskId}/${suffix}.png`,
        title: 'Summer Breeze',
        duration: 3.06,
      })),
    };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
