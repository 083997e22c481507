// The sample bodies live with the provider code, where the demo uses them too.
export { SAMPLE_INPUTS } from '../../src/provider/sampleInputs.ts';
