import { stepHandler } from '../adapters/runtime.js';
import type { IssuanceState } from '../core/state.js';
import { registerAccount } from '../core/workflow/register-account.js';

/** Lambda entry of the RegisterAccount state. */
export const handler = stepHandler<unknown, IssuanceState>('RegisterAccount', registerAccount);
