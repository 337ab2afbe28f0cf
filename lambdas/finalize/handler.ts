import {
  certificateKeys,
  clock,
  config,
  log,
  registry,
  signer,
  stepHandler,
  store,
  transport,
} from '../adapters/runtime.js';
import { finalize } from '../core/workflow/finalize.js';

/** Lambda entry of the Finalize state. */
export const handler = stepHandler('Finalize', finalize, {
  transport,
  signer,
  certificateKeys,
  store,
  registry,
  clock,
  config,
  log,
});
