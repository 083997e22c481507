import { setWorkflowOptions } from '@temporalio/workflow';
import { musicTask } from './musicTask.ts';
import { submitMusicTask } from './submission.ts';

// Worker Versioning: a run finishes on the build that started it (README, "Rolling out a new build").
setWorkflowOptions({ versioningBehavior: 'PINNED' }, musicTask);
setWorkflowOptions({ versioningBehavior: 'PINNED' }, submitMusicTask);

export { musicTask, submitMusicTask };
