/**
 * `music-tasks deployment status|promote <buildId>`: the rollout commands. They talk to Temporal
 * itself (TEMPORAL_ADDRESS and the TLS variables, as the worker does), not to the HTTP API.
 */
import { hostname, userInfo } from 'node:os';
import { Connection } from '@temporalio/client';
import { loadConfig } from '../config.ts';
import { temporalConnectionOptions } from '../temporal/connection.ts';
import { describeDeployment, promoteBuild, type DeploymentState } from '../temporal/deployment.ts';

export const DEPLOYMENT_USAGE = `deployment status               the builds of WORKER_DEPLOYMENT_NAME and which is current
  deployment promote <buildId>    new runs go to that build; runs pinned to the old one finish there`;

export class DeploymentUsageError extends Error {}

function describeState(state: DeploymentState): string {
  const lines = state.versions.map((version) => {
    const drained =
      version.drained === undefined ? '' : version.drained ? ', drained' : ', runs pinned to it';
    return `  ${version.buildId}  ${version.status}${drained}${version.createdAt ? `  (since ${version.createdAt})` : ''}`;
  });
  const ramp = state.rampingBuildId ? `; ramping ${state.rampingBuildId} at ${state.rampingPercentage}%` : '';
  return [`deployment ${state.name}: current ${state.currentBuildId ?? 'none'}${ramp}`, ...lines].join('\n');
}

/** Runs one deployment subcommand; prints its result; returns the exit code. */
export async function deploymentCommand(
  args: readonly string[],
  json: boolean,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const [action, buildId, ...extra] = args;
  if (action !== 'status' && action !== 'promote')
    throw new DeploymentUsageError(`deployment takes status or promote <buildId>, got "${action ?? ''}"`);
  if (action === 'promote' && (!buildId || extra.length))
    throw new DeploymentUsageError('deployment promote takes one build id (a WORKER_BUILD_ID)');
  if (action === 'status' && buildId) throw new DeploymentUsageError('deployment status takes no argument');
  const config = loadConfig(env);
  const { namespace, deployment } = config.temporal;
  const connection = await Connection.connect(temporalConnectionOptions(config));
  try {
    if (action === 'promote') {
      const previous = await promoteBuild(connection, {
        namespace,
        deploymentName: deployment.deploymentName,
        buildId: buildId!,
        identity: `music-tasks cli ${userInfo().username}@${hostname()}`,
      });
      const result = { deploymentName: deployment.deploymentName, current: buildId, previous };
      console.log(
        json
          ? JSON.stringify(result, null, 2)
          : `${buildId} is current in ${deployment.deploymentName}` +
              (previous && previous !== buildId
                ? `: new runs go to it; runs pinned to ${previous} finish there, so keep ${previous}'s workers up until \`deployment status\` shows it drained`
                : ''),
      );
      return 0;
    }
    const state = await describeDeployment(connection, namespace, deployment.deploymentName);
    if (!state) {
      console.log(
        json
          ? 'null'
          : `deployment ${deployment.deploymentName} has no worker yet: start one (npm run worker)`,
      );
      return 1;
    }
    const { conflictToken: _token, ...shown } = state;
    console.log(json ? JSON.stringify(shown, null, 2) : describeState(state));
    return 0;
  } finally {
    await connection.close();
  }
}
