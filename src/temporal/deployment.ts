/**
 * Worker Versioning: every worker of a process belongs to one Worker Deployment Version
 * (`WORKER_DEPLOYMENT_NAME` + `WORKER_BUILD_ID`), workflows are pinned to the version that started
 * them, and a version becomes current (receives new runs) either by itself on a first deploy or by
 * an explicit promotion (`music-tasks deployment promote <buildId>`). README, "Rolling out a new build".
 */
import { status as grpcStatus } from '@grpc/grpc-js';
import type { Connection } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { WorkerDeploymentOptions } from '@temporalio/worker';

const { WorkerDeploymentVersionStatus, VersionDrainageStatus } = proto.temporal.api.enums.v1;

/** Options every worker of the process takes: the same version, workflows pinned to it. */
export function workerDeploymentOptions(version: WorkerDeploymentVersion): WorkerDeploymentOptions {
  return { version, useWorkerVersioning: true, defaultVersioningBehavior: 'PINNED' };
}

export type VersionStatus = 'current' | 'ramping' | 'draining' | 'drained' | 'inactive' | 'created';

export interface VersionSummary {
  buildId: string;
  status: VersionStatus;
  /** Drainage as last computed by the server (it refreshes every few minutes). */
  drained?: boolean;
  createdAt?: string;
}

export interface DeploymentState {
  name: string;
  currentBuildId?: string;
  rampingBuildId?: string;
  rampingPercentage: number;
  versions: VersionSummary[];
  conflictToken: Uint8Array;
}

const STATUS_NAMES: Record<number, VersionStatus> = {
  [WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT]: 'current',
  [WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING]: 'ramping',
  [WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING]: 'draining',
  [WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED]: 'drained',
  [WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_INACTIVE]: 'inactive',
  [WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_CREATED]: 'created',
};

const isNotFound = (error: unknown) => (error as { code?: number }).code === grpcStatus.NOT_FOUND;

/**
 * Whether the namespace has the deployment, by listing (a describe of a missing one makes the
 * server log an error, which a clean first start must not show).
 */
async function deploymentExists(
  connection: Pick<Connection, 'workflowService'>,
  namespace: string,
  deploymentName: string,
): Promise<boolean> {
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await connection.workflowService.listWorkerDeployments({
      namespace,
      pageSize: 100,
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    if (page.workerDeployments?.some((deployment) => deployment.name === deploymentName)) return true;
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return false;
}

/** The deployment's routing and versions; undefined when no worker of it has ever polled. */
export async function describeDeployment(
  connection: Pick<Connection, 'workflowService'>,
  namespace: string,
  deploymentName: string,
): Promise<DeploymentState | undefined> {
  if (!(await deploymentExists(connection, namespace, deploymentName))) return undefined;
  let response: proto.temporal.api.workflowservice.v1.DescribeWorkerDeploymentResponse;
  try {
    response = await connection.workflowService.describeWorkerDeployment({ namespace, deploymentName });
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  const info = response.workerDeploymentInfo;
  const routing = info?.routingConfig;
  return {
    name: deploymentName,
    currentBuildId: routing?.currentDeploymentVersion?.buildId || undefined,
    rampingBuildId: routing?.rampingDeploymentVersion?.buildId || undefined,
    rampingPercentage: routing?.rampingVersionPercentage ?? 0,
    versions: (info?.versionSummaries ?? []).map((summary) => ({
      buildId: summary.deploymentVersion?.buildId ?? summary.version ?? '',
      status: STATUS_NAMES[summary.status ?? 0] ?? 'inactive',
      ...(summary.drainageStatus === VersionDrainageStatus.VERSION_DRAINAGE_STATUS_UNSPECIFIED
        ? {}
        : { drained: summary.drainageStatus === VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINED }),
      ...(summary.createTime?.seconds
        ? { createdAt: new Date(Number(summary.createTime.seconds) * 1000).toISOString() }
        : {}),
    })),
    conflictToken: response.conflictToken ?? new Uint8Array(),
  };
}

/** Raised when a promotion is refused; the message says what to do. */
export class PromotionRefused extends Error {
  override readonly name = 'PromotionRefused';
}

/**
 * Makes `buildId` the deployment's current version: new runs go to it, runs pinned to the previous
 * one stay there. The server refuses a build none of whose workers has polled every task queue
 * of the current one (a half-started rollout), unless `allowNoPollers` (a first deploy, set before
 * its workers poll). Returns the build that was current before.
 */
export async function promoteBuild(
  connection: Pick<Connection, 'workflowService'>,
  options: {
    namespace: string;
    deploymentName: string;
    buildId: string;
    identity: string;
    allowNoPollers?: boolean;
    conflictToken?: Uint8Array;
  },
): Promise<string | undefined> {
  try {
    const response = await connection.workflowService.setWorkerDeploymentCurrentVersion({
      namespace: options.namespace,
      deploymentName: options.deploymentName,
      buildId: options.buildId,
      identity: options.identity,
      allowNoPollers: options.allowNoPollers ?? false,
      ...(options.conflictToken?.length ? { conflictToken: options.conflictToken } : {}),
    });
    return response.previousDeploymentVersion?.buildId || undefined;
  } catch (error) {
    const code = (error as { code?: number }).code;
    if (code === grpcStatus.NOT_FOUND || code === grpcStatus.FAILED_PRECONDITION) {
      throw new PromotionRefused(
        `cannot make build ${options.buildId} of ${options.deploymentName} current: ${(error as Error).message} ` +
          `(start its workers with WORKER_BUILD_ID=${options.buildId} and wait until they poll every task queue)`,
        { cause: error },
      );
    }
    throw error;
  }
}

export type ClaimOutcome = 'current' | 'made-current' | 'waiting';

/**
 * What a worker does at start-up: a first deploy (no current version yet) and the embedded dev
 * server make their own build current; any other build waits for an explicit promotion, so a new
 * build never takes new runs before an operator says so.
 */
export async function claimCurrentVersion(
  connection: Pick<Connection, 'workflowService'>,
  options: { namespace: string; version: WorkerDeploymentVersion; identity: string; always: boolean },
): Promise<ClaimOutcome> {
  const { namespace, version } = options;
  const state = await describeDeployment(connection, namespace, version.deploymentName);
  if (state?.currentBuildId === version.buildId) return 'current';
  if (state?.currentBuildId && !options.always) return 'waiting';
  try {
    await promoteBuild(connection, {
      namespace,
      deploymentName: version.deploymentName,
      buildId: version.buildId,
      identity: options.identity,
      // Before its workers poll: their task queues join the version as they do.
      allowNoPollers: true,
      // A first deploy must not overturn a promotion made since the look above.
      ...(state && !options.always ? { conflictToken: state.conflictToken } : {}),
    });
    return 'made-current';
  } catch (error) {
    if (!(error instanceof PromotionRefused)) throw error;
    // Another worker changed the routing meanwhile (several workers of one first deploy race).
    const now = await describeDeployment(connection, namespace, version.deploymentName);
    if (now?.currentBuildId === version.buildId) return 'current';
    if (now?.currentBuildId) return 'waiting';
    throw error;
  }
}
