/**
 * Where each provider call stands in the fleet's provider queue. A leaf module: the workflow
 * sandbox imports it.
 */

/** Why a provider call is made; each has its place in the queue. */
export type CallPurpose = 'confirm' | 'submit' | 'poll';

/**
 * Priority keys on the provider queue (1 runs first; the server's default levels are 1–5): a
 * confirmation has a user's finished result waiting on it, a submission a user's request; timer
 * polls share what is left, oldest first (the queue is FIFO within a level).
 */
export const CALL_PRIORITY: Readonly<Record<CallPurpose, number>> = { confirm: 1, submit: 2, poll: 4 };
