import {
  clock,
  config,
  dns,
  log,
  registry,
  resolver,
  signer,
  stepHandler,
  transport,
} from '../adapters/runtime.js';
import { createOrder } from '../core/workflow/create-order.js';

/** Lambda entry of the CreateOrder state. */
export const handler = stepHandler('CreateOrder', createOrder, {
  transport,
  signer,
  dns,
  resolver,
  registry,
  clock,
  config,
  log,
});
