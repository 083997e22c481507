export { musicTask } from './musicTask.ts';
export { submitMusicTask } from './submission.ts';
