import { type FastifyInstance } from 'fastify';
import { type Engine } from './engine.ts';
import { CONTENT_TYPES, renderMedia } from './media.ts';
import { envelope } from './shapes.ts';
import { type SimStats } from './stats.ts';

/** The provider's file host: `/media/<taskId>/<file>`, GET and HEAD, no key (URLs are the secret). */
export function mediaRoutes(
  app: FastifyInstance,
  options: { engine: Engine; stats: SimStats },
  done: () => void,
) {
  const { engine, stats } = options;
  app.get<{ Params: { taskId: string; file: string } }>('/media/:taskId/:file', (request, reply) => {
    const { taskId, file } = request.params;
    const spec = engine.tasks.get(taskId)?.content.media.get(file);
    if (!spec) return reply.code(404).send(envelope(404, 'File not found'));
    const bytes = renderMedia(spec);
    if (request.method === 'GET') stats.countDownload(`/media/${taskId}/${file}`);
    return reply
      .header('content-type', CONTENT_TYPES[spec.type])
      .header('content-length', bytes.length)
      .send(bytes);
  });
  done();
}
