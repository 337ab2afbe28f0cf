import { stepHandler } from '../adapters/runtime.js';
import type { IssuanceState } from '../core/state.js';
import { publishChallenges } from '../core/workflow/publish-challenges.js';

/** Lambda entry of the PublishChallenges state. */
export const handler = stepHandler<IssuanceState, IssuanceState>('PublishChallenges', publishChallenges);
