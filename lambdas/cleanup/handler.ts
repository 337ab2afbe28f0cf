import { stepHandler } from '../adapters/runtime.js';
import type { IssuanceState } from '../core/state.js';
import { cleanup } from '../core/workflow/cleanup.js';

/** Lambda entry of the Cleanup state. */
export const handler = stepHandler<IssuanceState, IssuanceState>('Cleanup', cleanup);
