/**
 * A child process for the SQLite migration race: opens (and so migrates) each file it is given at
 * the wall-clock time given beside it, so two such processes migrate the same new file at once.
 * argv: a JSON array of [file, epochMs] pairs. Prints `migrated N`, or the error and exits 1.
 */
import { openCatalog } from '../../src/catalog/openCatalog.ts';

const plan = JSON.parse(process.argv[2] ?? '[]') as [string, number][];
let migrated = 0;
try {
  for (const [sqlitePath, at] of plan) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
    const catalog = await openCatalog({ catalog: { databaseUrl: undefined, sqlitePath } });
    await catalog.close();
    migrated += 1;
  }
  console.log(`migrated ${migrated}`);
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
}
