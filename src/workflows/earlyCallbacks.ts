import { getExternalWorkflowHandle, isCancellation, log, setHandler } from '@temporalio/workflow';
import {
  callbackSignal,
  earlyCallbackSignal,
  musicTaskWorkflowId,
  type CallbackSignal,
} from './definitions.ts';

/** Early callbacks one submission keeps: the provider sends a few phases, not a stream. */
const EARLY_CALLBACKS_KEPT = 16;

/**
 * Keeps the callbacks that reach a submission before it knows its task id (signal `earlyCallback`),
 * and hands those naming its task on to the task's workflow once it does. Call it first in the
 * workflow; call `handOn` after the task's workflow exists.
 */
export function keepEarlyCallbacks() {
  const early: CallbackSignal[] = [];
  setHandler(earlyCallbackSignal, (signal) => {
    if (early.length < EARLY_CALLBACKS_KEPT) early.push(signal);
  });
  return {
    /** Forwards what was kept for `taskId`; drops callbacks that name any other task. */
    async handOn(taskId: string): Promise<void> {
      const task = getExternalWorkflowHandle(musicTaskWorkflowId(taskId));
      while (early.length) {
        const signal = early.shift()!;
        if (signal.callback.taskId !== taskId) {
          log.warn('dropped an early callback naming another task', {
            taskId,
            named: signal.callback.taskId,
          });
          continue;
        }
        try {
          await task.signal(callbackSignal, signal);
        } catch (error) {
          // The task's workflow closed already (it polled its way to the end): nothing left to inform.
          if (isCancellation(error)) throw error;
          log.warn('could not hand an early callback on', { taskId, error: String(error) });
        }
      }
    },
  };
}
