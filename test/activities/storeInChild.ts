/**
 * A worker process reduced to one download: stores the spec given as JSON in argv with the store
 * the environment names. Tests SIGKILL it half-way to prove that a crash leaves nothing behind.
 */
import { openAssetStore } from '../../src/activities/openAssetStore.ts';
import { loadConfig } from '../../src/config.ts';
import type { AssetSpec } from '../../src/workflows/assetPlan.ts';

const spec = JSON.parse(process.argv[2] ?? '{}') as AssetSpec;
const store = await openAssetStore(loadConfig(process.env));
const stored = await store.store(spec);
process.stdout.write(JSON.stringify(stored));
