import { stepHandler } from '../adapters/runtime.js';
import type { IssuanceState } from '../core/state.js';
import { finalize } from '../core/workflow/finalize.js';

/** Lambda entry of the Finalize state. */
export const handler = stepHandler<IssuanceState, IssuanceState>('Finalize', finalize);
