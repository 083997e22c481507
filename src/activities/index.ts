/**
 * Activities, the only code that does I/O, in three rooms: provider calls (`provider.ts`, on the
 * provider task queue under the fleet's budget), storage (`storage.ts`, on the post-processing
 * queue) and tracking (`tracking.ts`). Built from their dependencies so tests hand in fakes.
 */
import { providerActivities, type ProviderActivityDeps } from './provider.ts';
import { storageActivities, type StorageActivityDeps } from './storage.ts';
import { trackingActivities, type TrackingActivityDeps } from './tracking.ts';

export { ASSET_INVALID_ATTEMPTS, toFailure } from './failures.ts';

export type ActivityDeps = ProviderActivityDeps & StorageActivityDeps & TrackingActivityDeps;

export function createActivities(deps: ActivityDeps) {
  return { ...providerActivities(deps), ...storageActivities(deps), ...trackingActivities(deps) };
}

export type MusicActivities = ReturnType<typeof createActivities>;
export type { NotifyActivities } from './notify.ts';
