/** Callback bodies in the provider's documented shapes (PROVIDER.md), for a fake provider's tasks. */
import type { TaskResult } from '../../src/provider/types.ts';

export function songCallback(
  phase: 'text' | 'first' | 'complete',
  taskId: string,
  result: TaskResult = {},
  wrapped = false,
): Record<string, unknown> {
  const data =
    phase === 'text'
      ? []
      : (result.tracks ?? []).map((track) => ({
          id: track.id,
          audio_url: phase === 'complete' ? track.audioUrl : '',
          stream_audio_url: track.streamAudioUrl,
          image_url: track.imageUrl,
          title: track.title,
          duration: phase === 'complete' ? track.duration : null,
        }));
  const body = { callbackType: phase, task_id: taskId, data };
  return wrapped ? { code: 200, msg: 'success', data: body } : body;
}

export function errorCallback(taskId: string, code = 501, error = 'The prompt contains an artist name.') {
  return {
    code,
    msg: 'Audio generation failed.',
    data: { callbackType: 'error', task_id: taskId, data: null, error },
  };
}
