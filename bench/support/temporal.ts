/**
 * The benchmark's own Temporal: a dev server on a free port (restartable on the same port and
 * SQLite file, so state survives), and one workflow bundle that every bench worker loads.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { MANY_TASK_QUEUES, startDevServer, type DevServer } from '../../src/temporal/devServer.ts';
import { freePort } from '../../test/support/ports.ts';
import { projectRoot } from './processes.ts';

export class BenchTemporal {
  private server: DevServer | undefined;
  restarts = 0;

  private constructor(
    readonly port: number,
    readonly dbFile: string | undefined,
    readonly sqlitePragmas: readonly string[] | undefined,
  ) {}

  /**
   * Starts a dev server; `dbFile` keeps its state across {@link restart}s (undefined: in memory).
   * `sqlitePragmas` replaces startDevServer's default pragmas.
   */
  static async start(dbFile?: string, sqlitePragmas?: readonly string[]): Promise<BenchTemporal> {
    const temporal = new BenchTemporal(await freePort(), dbFile, sqlitePragmas);
    await temporal.begin();
    return temporal;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.server?.process.pid;
  }

  private async begin(): Promise<void> {
    this.server = await startDevServer({
      port: this.port,
      ...(this.dbFile ? { dbFile: this.dbFile } : {}),
      ...(this.sqlitePragmas ? { sqlitePragmas: this.sqlitePragmas } : {}),
      logLevel: 'error',
      // Every bench service polls queues of its own, all in the package's one deployment version.
      dynamicConfig: MANY_TASK_QUEUES,
    });
  }

  /**
   * Stops the server (SIGTERM as an operator would, SIGKILL as a crash) and, after `downtimeMs`,
   * starts it again on the same port and file.
   */
  async restart(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM', downtimeMs = 0): Promise<void> {
    if (signal === 'SIGKILL') this.server?.process.kill('SIGKILL');
    await this.server?.stop();
    this.restarts++;
    await new Promise((resolve) => setTimeout(resolve, downtimeMs));
    await this.begin();
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
  }
}

/** Bundles the workflows once into `dir`; bench workers load the file instead of bundling again. */
export async function bundleWorkflows(dir: string): Promise<string> {
  const bundle = await bundleWorkflowCode({
    workflowsPath: join(projectRoot, 'src', 'workflows', 'index.ts'),
    logger: new DefaultLogger('WARN'),
  });
  const path = join(dir, 'workflow-bundle.js');
  writeFileSync(path, bundle.code);
  return path;
}
