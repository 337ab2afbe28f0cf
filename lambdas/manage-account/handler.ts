import {
  clock,
  config,
  events,
  log,
  previousSigner,
  registry,
  signer,
  stepHandler,
  transport,
} from '../adapters/runtime.js';
import { manageAccount } from '../core/workflow/manage-account.js';

/** Lambda entry of the ManageAccount state. */
export const handler = stepHandler('ManageAccount', manageAccount, {
  transport,
  signer,
  previousSigner,
  registry,
  events,
  clock,
  config,
  log,
});
