/**
 * The read side of the catalog under `/v1`: ready tracks (`GET /tracks`) and our stored copies
 * (`GET /assets/:assetId`, with ranges so players can seek). Same `API_TOKEN` rule as the task API.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import parseRange from 'range-parser';
import { z } from 'zod';
import { AssetError } from '../activities/assetErrors.ts';
import type { ByteRange } from '../activities/assetStore.ts';
import { openAssetStore } from '../activities/openAssetStore.ts';
import { CatalogCursorInvalid, type CatalogAsset, type CatalogTrack } from '../catalog/types.ts';
import * as contract from '../contract/schemas.ts';
import { HttpError } from '../httpErrors.ts';
import { assetUrl } from '../tasks/views.ts';
import { requireApiToken } from './auth.ts';

/**
 * The single byte range a `Range` header asks for, parsed by `range-parser` (overlapping and
 * adjacent ranges combined). Undefined means "send the whole file": no header, a malformed one, a
 * unit other than bytes, or several disjoint ranges (RFC 9110 lets a server ignore those).
 */
export function parseByteRange(
  header: string | undefined,
  size: number,
): ByteRange | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const ranges = parseRange(size, header, { combine: true });
  if (ranges === -2) return undefined;
  if (ranges === -1) {
    // range-parser 1.3.0 refuses a suffix longer than the file; RFC 9110 §14.1.2 serves it all
    // (fixed upstream in jshttp/range-parser#66, not yet released).
    return size > 0 && /^\s*bytes\s*=\s*-\s*0*[1-9]\d*\s*$/i.test(header)
      ? { start: 0, end: size - 1 }
      : 'unsatisfiable';
  }
  const [only] = ranges;
  if (ranges.type !== 'bytes' || ranges.length !== 1 || !only) return undefined;
  return { start: only.start, end: only.end };
}

const assetIdParams = z.object({
  assetId: z
    .string()
    .trim()
    .min(1)
    .max(1000)
    .regex(/^[\w.:-]+$/, 'letters, digits, . _ : -'),
});

const tracksQuery = z.object({
  q: z.string().trim().min(1).max(200).optional(),
  tag: z.string().trim().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().trim().min(1).max(512).optional(),
});

/** An asset as the library shows it: where to fetch our copy (the schema leaves out where it sits). */
const publicAsset = (asset: CatalogAsset) => ({ ...asset, url: assetUrl(asset.id) });

const publicTrack = (track: CatalogTrack) => ({ ...track, assets: track.assets.map(publicAsset) });

/** Registered under `/v1` by `buildApp`; reads `deps.catalog` and `deps.assets`. */
export async function libraryRoutes(root: FastifyInstance): Promise<void> {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { catalog } = app.deps;
  const assets = app.deps.assets ?? (await openAssetStore(app.config));
  requireApiToken(app);
  const requireCatalog = () => {
    if (!catalog) throw new HttpError(503, 'catalog_unavailable', 'this server runs without a catalog');
    return catalog;
  };

  app.get(
    '/tracks',
    {
      schema: {
        summary: 'Ready tracks',
        description: 'Newest catalogued first; `q` searches title, tags and prompt.',
        tags: ['library'],
        querystring: tracksQuery,
        response: { 200: contract.trackPage, ...contract.errors(400, 401, 503) },
      },
    },
    async (request) => {
      try {
        const page = await requireCatalog().listTracks(request.query);
        return { ...page, tracks: page.tracks.map(publicTrack) };
      } catch (error) {
        if (error instanceof CatalogCursorInvalid) throw new HttpError(400, 'invalid_cursor', error.message);
        throw error;
      }
    },
  );

  app.get(
    '/assets/:assetId',
    {
      schema: {
        summary: 'A stored copy',
        description: 'Our copy of a file, with its probed content type; supports Range and If-None-Match.',
        tags: ['library'],
        params: assetIdParams,
        response: {
          200: z.any().meta({ description: 'the file', type: 'string', format: 'binary' }),
          206: z.any().meta({ description: 'the range asked for', type: 'string', format: 'binary' }),
          304: z.any().meta({ description: 'not modified: the copy you hold is current' }),
          ...contract.errors(400, 401, 404, 416, 503),
        },
      },
    },
    async (request, reply) => {
      const asset = await requireCatalog().getAsset(request.params.assetId);
      if (!asset) throw new HttpError(404, 'asset_not_found', `no stored asset ${request.params.assetId}`);
      const etag = `"${asset.sha256}"`;
      reply
        .header('etag', etag)
        .header('accept-ranges', 'bytes')
        // The declared type is the one we probed: a browser must not guess another (HTML, script).
        .header('x-content-type-options', 'nosniff')
        // Our copy never changes under its id: a client may keep it.
        .header('cache-control', 'private, max-age=31536000, immutable');
      const ifNoneMatch = request.headers['if-none-match'];
      if (ifNoneMatch && (ifNoneMatch === '*' || ifNoneMatch.split(',').some((tag) => tag.trim() === etag))) {
        return reply.code(304).send();
      }
      const ifRange = request.headers['if-range'];
      const range =
        ifRange && ifRange !== etag ? undefined : parseByteRange(request.headers.range, asset.bytes);
      if (range === 'unsatisfiable') {
        return reply
          .code(416)
          .header('content-range', `bytes */${asset.bytes}`)
          .send({ error: 'range_not_satisfiable', message: `the asset has ${asset.bytes} bytes` });
      }
      return sendCopy(reply, asset, range, () => assets.read(asset.path, range));
    },
  );
}

async function sendCopy(
  reply: FastifyReply,
  asset: CatalogAsset,
  range: ByteRange | undefined,
  open: () => Promise<NodeJS.ReadableStream>,
): Promise<FastifyReply> {
  let body;
  try {
    body = await open();
  } catch (error) {
    if (error instanceof AssetError && error.type === 'AssetGone') {
      throw new HttpError(404, 'asset_missing', `asset ${asset.id} is catalogued but its copy is missing`);
    }
    throw error;
  }
  reply.type(asset.contentType);
  if (!range) return reply.header('content-length', asset.bytes).send(body);
  return reply
    .code(206)
    .header('content-range', `bytes ${range.start}-${range.end}/${asset.bytes}`)
    .header('content-length', range.end - range.start + 1)
    .send(body);
}
