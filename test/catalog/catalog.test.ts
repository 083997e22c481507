import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { sql } from 'kysely';
import { after, before, describe, it } from 'node:test';
import { openCatalog } from '../../src/catalog/openCatalog.ts';
import { migrate, MIGRATIONS } from '../../src/catalog/migrations.ts';
import { openDatabase, type CatalogDb, type CatalogDialect } from '../../src/catalog/database.ts';
import { CatalogCursorInvalid, type Catalog, type CatalogEntry } from '../../src/catalog/types.ts';
import { scratchDir } from '../support/temporal.ts';
import { startPostgres, type PostgresServer } from './postgresServer.ts';

/** A finished song task: two tracks, each with its audio and image. */
function songEntry(taskId: string, overrides: Partial<CatalogEntry> = {}): CatalogEntry {
  const tracks = ['a', 'b'].map((label) => ({
    id: `${taskId}-${label}`,
    title: `Summer ${label === 'a' ? 'Breeze' : 'Rain'} 100%`,
    tags: 'Pop, upbeat',
    prompt: 'a calm song about summer',
    modelName: 'chirp-v4-5',
    duration: 3.06,
  }));
  return {
    taskId,
    kind: 'music',
    status: 'SUCCESS',
    ready: true,
    summary: 'a calm song about summer',
    submittedAt: '2026-01-01T00:00:00.000Z',
    tracks,
    assets: tracks.flatMap((track) => [
      {
        id: `${track.id}-audio`,
        type: 'audio',
        name: `${track.id}-audio.mp3`,
        trackId: track.id,
        sourceUrl: `http://provider.test/${track.id}.mp3`,
        path: `/data/assets/${taskId}/${track.id}-audio.mp3`,
        bytes: 12_315,
        sha256: 'a'.repeat(64),
        contentType: 'audio/mpeg',
        durationSeconds: 3.082,
      },
      {
        id: `${track.id}-image`,
        type: 'image',
        name: `${track.id}-image.png`,
        trackId: track.id,
        sourceUrl: `http://provider.test/${track.id}.png`,
        path: `/data/assets/${taskId}/${track.id}-image.png`,
        bytes: 900,
        sha256: 'b'.repeat(64),
        contentType: 'image/png',
        width: 64,
        height: 64,
      },
    ]),
    ...overrides,
  };
}

interface Backend {
  name: string;
  /** Why this database cannot be tested here; reported as the suite's skip reason. */
  unavailable?: string;
  dialect: CatalogDialect;
  /** Two connections to one new database, as two processes would have. */
  databases(): Promise<[CatalogDb, CatalogDb]>;
  catalog(): Promise<Catalog>;
}

let postgres: PostgresServer | { unavailable: string } | undefined;
const backends: Backend[] = [
  {
    name: 'SQLite',
    dialect: 'sqlite',
    async databases() {
      const sqlitePath = join(scratchDir('sqlite'), 'catalog.sqlite');
      return [openDatabase({ sqlitePath }).db, openDatabase({ sqlitePath }).db];
    },
    catalog: () =>
      openCatalog({
        catalog: { databaseUrl: undefined, sqlitePath: join(scratchDir('sqlite'), 'catalog.sqlite') },
      }),
  },
  {
    name: 'PostgreSQL',
    dialect: 'postgres',
    async databases() {
      const databaseUrl = await (postgres as PostgresServer).createDatabase();
      return [
        openDatabase({ databaseUrl, sqlitePath: '' }).db,
        openDatabase({ databaseUrl, sqlitePath: '' }).db,
      ];
    },
    async catalog() {
      const databaseUrl = await (postgres as PostgresServer).createDatabase();
      return openCatalog({ catalog: { databaseUrl, sqlitePath: '' } });
    },
  },
];

before(async () => {
  postgres = await startPostgres();
  if ('unavailable' in postgres) backends[1]!.unavailable = postgres.unavailable;
});
after(async () => {
  if (postgres && !('unavailable' in postgres)) await postgres.close();
});

for (const backend of backends) {
  describe(`catalog on ${backend.name}`, () => {
    let catalog: Catalog;
    before(async () => {
      if (!backend.unavailable) catalog = await backend.catalog();
    });
    after(async () => catalog?.close());
    // Decided at run time: a missing PostgreSQL shows as a skip with its reason, never silently.
    const test = (name: string, body: () => Promise<void>): void => {
      void it(name, async (context) => {
        if (backend.unavailable) return context.skip(backend.unavailable);
        await body();
      });
    };

    test('migrates once, however many processes start at once', async () => {
      const [first, second] = await backend.databases();
      try {
        // Two SQLite connections in one thread would block each other on the write lock (processes
        // wait it out): they take turns here. PostgreSQL's two connections really race.
        const applied =
          backend.dialect === 'sqlite'
            ? [await migrate(first, 'sqlite'), await migrate(second, 'sqlite')]
            : await Promise.all([migrate(first, 'postgres'), migrate(second, 'postgres')]);
        assert.deepEqual(applied.flat(), Object.keys(MIGRATIONS));
        assert.deepEqual(await migrate(first, backend.dialect), [], 'nothing left to apply');
        const rows = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(
          first,
        );
        assert.deepEqual(
          rows.rows.map((row) => row.name),
          Object.keys(MIGRATIONS),
        );
      } finally {
        await first.destroy();
        await second.destroy();
      }
    });

    test('migrates a new file once when two processes open it at the same moment', async () => {
      if (backend.dialect !== 'sqlite') return;
      // In one process better-sqlite3 would block the thread on the lock; two processes wait it out.
      const dir = scratchDir('sqlite-race');
      const start = Date.now() + 4_000;
      const plan = Array.from({ length: 8 }, (_, index) => [
        join(dir, `race-${index}.sqlite`),
        start + index * 150,
      ]);
      const child = () =>
        new Promise<{ code: number | null; output: string }>((resolve) => {
          const process_ = spawn(
            process.execPath,
            ['--import', 'tsx', join(import.meta.dirname, 'migratingProcess.ts'), JSON.stringify(plan)],
            { stdio: ['ignore', 'pipe', 'pipe'] },
          );
          let output = '';
          process_.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
          process_.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
          process_.once('exit', (code) => resolve({ code, output }));
        });
      const results = await Promise.all([child(), child()]);
      for (const result of results) assert.equal(result.code, 0, result.output);
      for (const [file] of plan) {
        const { db } = openDatabase({ sqlitePath: file as string });
        try {
          const rows = await sql<{ name: string }>`SELECT name FROM kysely_migration`.execute(db);
          assert.deepEqual(
            rows.rows.map((row) => row.name),
            Object.keys(MIGRATIONS),
          );
        } finally {
          await db.destroy();
        }
      }
    });

    test('upserts by provider ids: recording a task again never adds a row', async () => {
      const before = await catalog.countRows();
      await catalog.recordTask(songEntry('upsert1'));
      await Promise.all([catalog.recordTask(songEntry('upsert1')), catalog.recordTask(songEntry('upsert1'))]);
      const renamed = songEntry('upsert1');
      renamed.tracks[0]!.title = 'Winter Song';
      await catalog.recordTask(renamed);
      const after = await catalog.countRows();
      assert.deepEqual(
        {
          tasks: after.tasks - before.tasks,
          tracks: after.tracks - before.tracks,
          assets: after.assets - before.assets,
        },
        { tasks: 1, tracks: 2, assets: 4 },
      );
      const { tracks } = await catalog.listTracks({ q: 'winter song', limit: 10 });
      assert.deepEqual(
        tracks.map((track) => track.id),
        ['upsert1-a'],
      );
    });

    test('keeps each asset with its media facts', async () => {
      await catalog.recordTask(songEntry('facts1'));
      const image = await catalog.getAsset('facts1-a-image');
      assert.deepEqual(image, {
        id: 'facts1-a-image',
        taskId: 'facts1',
        trackId: 'facts1-a',
        type: 'image',
        name: 'facts1-a-image.png',
        sourceUrl: 'http://provider.test/facts1-a.png',
        path: '/data/assets/facts1/facts1-a-image.png',
        bytes: 900,
        sha256: 'b'.repeat(64),
        contentType: 'image/png',
        width: 64,
        height: 64,
      });
      assert.equal((await catalog.getAsset('facts1-b-audio'))?.durationSeconds, 3.082);
      assert.equal(await catalog.getAsset('no-such-asset'), undefined);
    });

    test('lists ready tracks only, found by text or whole tag, case-insensitively', async () => {
      await catalog.recordTask(songEntry('search1'));
      await catalog.recordTask(songEntry('notready1', { ready: false }));
      const ids = async (query: { q?: string; tag?: string }) =>
        (await catalog.listTracks({ ...query, limit: 100 })).tracks
          .map((track) => track.id)
          .filter((id) => id.startsWith('search1') || id.startsWith('notready1'));
      assert.deepEqual(await ids({}), ['search1-b', 'search1-a']);
      assert.deepEqual(await ids({ q: 'BREEZE' }), ['search1-a']);
      assert.deepEqual(await ids({ q: 'calm song' }), ['search1-b', 'search1-a'], 'the prompt is searched');
      assert.deepEqual(await ids({ q: '100%' }), ['search1-b', 'search1-a'], '% is text');
      assert.deepEqual(await ids({ q: '1_0' }), [], '_ is text');
      assert.deepEqual(await ids({ tag: 'UPBEAT' }), ['search1-b', 'search1-a']);
      assert.deepEqual(await ids({ tag: 'up' }), [], 'a tag matches whole');
      const [track] = (await catalog.listTracks({ q: 'breeze', limit: 1 })).tracks;
      assert.deepEqual(track?.tags, ['pop', 'upbeat']);
      assert.deepEqual(track?.assets.map((asset) => asset.type).sort(), ['audio', 'image']);
    });

    test('pages through every ready track once, with a cursor', async () => {
      for (const taskId of ['page1', 'page2', 'page3']) await catalog.recordTask(songEntry(taskId));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await catalog.listTracks({ limit: 4, ...(cursor ? { cursor } : {}) });
        assert.ok(page.tracks.length <= 4);
        seen.push(...page.tracks.map((track) => track.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor && pages < 50);
      assert.equal(new Set(seen).size, seen.length, 'no track twice');
      assert.equal(
        seen.length,
        (await catalog.countRows()).tracks - 2,
        'every ready track (not the 2 unready)',
      );
      assert.ok(pages >= 2);
      await assert.rejects(catalog.listTracks({ limit: 4, cursor: 'not-a-cursor' }), CatalogCursorInvalid);
    });
  });
}
