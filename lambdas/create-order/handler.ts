import { clock, dns, log, registry, resolver, signer, stepHandler, transport } from '../adapters/runtime.js';
import { parseZoneIdList } from '../core/dns/write-scope.js';
import type { IssuanceState } from '../core/state.js';
import { type CreateOrderDeps, createOrder } from '../core/workflow/create-order.js';

/**
 * Lambda entry of the CreateOrder state. `VALIDATION_ZONE_IDS` (set by the construct from
 * `validationZoneIds`) is read per invocation, like the ports' settings.
 */
export const handler = stepHandler(
  'CreateOrder',
  (state: IssuanceState, deps: CreateOrderDeps) =>
    createOrder(state, deps, { validationZoneIds: parseZoneIdList(process.env.VALIDATION_ZONE_IDS) }),
  { transport, signer, dns, resolver, registry, clock, log },
);
