import { clock, log, registry, signer, stepHandler, store, transport } from '../adapters/runtime.js';
import { revokeCertificate } from '../core/workflow/revoke-certificate.js';

/** Lambda entry of the RevokeCertificate state. */
export const handler = stepHandler('RevokeCertificate', revokeCertificate, {
  transport,
  signer,
  store,
  registry,
  clock,
  log,
});
