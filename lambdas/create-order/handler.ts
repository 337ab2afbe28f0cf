import { stepHandler } from '../adapters/runtime.js';
import type { IssuanceState } from '../core/state.js';
import { createOrder } from '../core/workflow/create-order.js';

/** Lambda entry of the CreateOrder state. */
export const handler = stepHandler<IssuanceState, IssuanceState>('CreateOrder', createOrder);
