import { stepHandler } from '../adapters/runtime.js';
import type { IssuanceState } from '../core/state.js';
import { waitForAuthorizations } from '../core/workflow/wait-for-authorizations.js';

/** Lambda entry of the WaitForAuthorizations state. */
export const handler = stepHandler<IssuanceState, IssuanceState>(
  'WaitForAuthorizations',
  waitForAuthorizations,
);
