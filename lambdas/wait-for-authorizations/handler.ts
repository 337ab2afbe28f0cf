import { clock, config, log, signer, stepHandler, transport } from '../adapters/runtime.js';
import { waitForAuthorizations } from '../core/workflow/wait-for-authorizations.js';

/** Lambda entry of the WaitForAuthorizations state. */
export const handler = stepHandler('WaitForAuthorizations', waitForAuthorizations, {
  transport,
  signer,
  clock,
  config,
  log,
});
