import { stepHandler } from '../adapters/runtime.js';
import type { IssuanceState } from '../core/state.js';
import { answerChallenges } from '../core/workflow/answer-challenges.js';

/** Lambda entry of the AnswerChallenges state. */
export const handler = stepHandler<IssuanceState, IssuanceState>('AnswerChallenges', answerChallenges);
