import { clock, config, log, registry, signer, stepHandler, store, transport } from '../adapters/runtime.js';
import { waitForCertificate } from '../core/workflow/wait-for-certificate.js';

/** Lambda entry of the WaitForCertificate state. */
export const handler = stepHandler('WaitForCertificate', waitForCertificate, {
  transport,
  signer,
  store,
  registry,
  clock,
  config,
  log,
});
