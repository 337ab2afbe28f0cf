import { config, dns, log, resolver, stepHandler } from '../adapters/runtime.js';
import { waitForDnsSync } from '../core/workflow/wait-for-dns-sync.js';

/** Lambda entry of the WaitForDnsSync state. */
export const handler = stepHandler('WaitForDnsSync', waitForDnsSync, { dns, resolver, config, log });
