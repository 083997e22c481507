/** The service's parts as restartable child processes: the cluster's own implementation. */
export {
  ManagedProcess,
  ProcessFailure,
  projectRoot,
  waitForHttp,
  type LogLine,
  type ProcessSpec,
} from '../../src/cluster/managedProcess.ts';
