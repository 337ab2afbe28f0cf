import { stepHandler } from '../adapters/runtime.js';
import type { IssuanceState } from '../core/state.js';
import { waitForDnsSync } from '../core/workflow/wait-for-dns-sync.js';

/** Lambda entry of the WaitForDnsSync state. */
export const handler = stepHandler<IssuanceState, IssuanceState>('WaitForDnsSync', waitForDnsSync);
