import { stepHandler } from '../adapters/runtime.js';
import type { IssuanceState } from '../core/state.js';
import { waitForCertificate } from '../core/workflow/wait-for-certificate.js';

/** Lambda entry of the WaitForCertificate state. */
export const handler = stepHandler<IssuanceState, IssuanceState>('WaitForCertificate', waitForCertificate);
