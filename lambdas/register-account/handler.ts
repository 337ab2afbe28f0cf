import {
  clock,
  config,
  externalAccountBinding,
  externalAccountBindingFor,
  log,
  previousSigner,
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
  previousSigner,
  registry,
  clock,
  config,
  log,
  externalAccountBinding,
  externalAccountBindingFor,
});
