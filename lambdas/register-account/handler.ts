import {
  clock,
  config,
  externalAccountBinding,
  log,
  registry,
  signer,
  stepHandler,
  transport,
} from '../adapters/runtime.js';
import { registerAccount } from '../core/workflow/register-account.js';

/** Lambda entry of the RegisterAccount state. */
export const handler = stepHandler('RegisterAccount', registerAccount, {
  transport,
  signer,
  registry,
  clock,
  config,
  log,
  externalAccountBinding,
});
