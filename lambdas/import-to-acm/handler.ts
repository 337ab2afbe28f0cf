import { clock, config, importers, log, registry, stepHandler, store } from '../adapters/runtime.js';
import { importToAcm } from '../core/workflow/import-to-acm.js';

/** Lambda entry of the ImportToAcm state. */
export const handler = stepHandler('ImportToAcm', importToAcm, {
  store,
  importers,
  registry,
  clock,
  config,
  log,
});
