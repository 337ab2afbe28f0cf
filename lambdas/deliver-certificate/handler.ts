import { clock, deliveries, events, log, registry, stepHandler, store } from '../adapters/runtime.js';
import { deliverCertificate } from '../core/workflow/deliver-certificate.js';

/** Lambda entry of the DeliverCertificate state. */
export const handler = stepHandler('DeliverCertificate', deliverCertificate, {
  store,
  registry,
  deliveries,
  events,
  clock,
  log,
});
