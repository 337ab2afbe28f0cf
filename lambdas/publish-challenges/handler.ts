import { config, dns, log, stepHandler } from '../adapters/runtime.js';
import { publishChallenges } from '../core/workflow/publish-challenges.js';

/** Lambda entry of the PublishChallenges state. */
export const handler = stepHandler('PublishChallenges', publishChallenges, { dns, config, log });
