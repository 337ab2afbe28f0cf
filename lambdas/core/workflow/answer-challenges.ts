import type { IssuanceState } from '../state.js';
import { carryNonce, resumeAcmeClient, type StepDeps } from './deps.js';

/** AnswerChallenges: tells the CA each TXT record is in place (POST `{}` to the challenge URL). */
export async function answerChallenges(
  state: IssuanceState,
  deps: Pick<StepDeps, 'transport' | 'signer' | 'config' | 'log'>,
): Promise<IssuanceState> {
  const client = resumeAcmeClient(state, deps);
  for (const challenge of state.challenges ?? []) {
    const { body } = await client.answerChallenge(challenge.challengeUrl);
    deps.log.info('Answered challenge', { identifier: challenge.identifier, status: body.status });
  }
  return { ...state, retryAfterSeconds: deps.config.orderPollSeconds, polls: 0, ...carryNonce(client) };
}
