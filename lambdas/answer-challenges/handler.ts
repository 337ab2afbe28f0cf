import { config, log, signer, stepHandler, transport } from '../adapters/runtime.js';
import { answerChallenges } from '../core/workflow/answer-challenges.js';

/** Lambda entry of the AnswerChallenges state. */
export const handler = stepHandler('AnswerChallenges', answerChallenges, { transport, signer, config, log });
