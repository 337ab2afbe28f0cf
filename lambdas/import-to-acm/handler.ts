import { stepHandler } from '../adapters/runtime.js';
import type { IssuanceState } from '../core/state.js';
import { importToAcm } from '../core/workflow/import-to-acm.js';

/** Lambda entry of the ImportToAcm state. */
export const handler = stepHandler<IssuanceState, IssuanceState>('ImportToAcm', importToAcm);
