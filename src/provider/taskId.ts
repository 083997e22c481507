/** What a provider task id may look like: the provider issues short tokens, never paths or essays. */
export const TASK_ID_PATTERN = /^[\w.:-]{1,128}$/;

/** Whether `value` could be a task id the provider issued (charset and length). */
export function isProviderTaskId(value: string): boolean {
  return TASK_ID_PATTERN.test(value) && value !== '.' && value !== '..';
}
