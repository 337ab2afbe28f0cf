import type { AcmeClient } from '../acme/client.js';
import { MalformedError } from '../errors.js';
import type { IssuanceState } from '../state.js';
import { carryNonce, resumeAcmeClient, type StepDeps } from './deps.js';

/**
 * AnswerChallenges: tells the CA each TXT record is in place (POST `{}` to the challenge URL).
 * A retried step finds some challenges already answered: the CA refuses a second answer, so a
 * refusal is checked against the challenge's status and an answer already taken counts as done.
 */
export async function answerChallenges(
  state: IssuanceState,
  deps: Pick<StepDeps, 'transport' | 'signer' | 'config' | 'log'>,
): Promise<IssuanceState> {
  const client = resumeAcmeClient(state, deps);
  for (const challenge of state.challenges ?? []) {
    const status = await answerOnce(client, challenge.challengeUrl);
    deps.log.info('Answered challenge', { identifier: challenge.identifier, status });
  }
  return { ...state, retryAfterSeconds: deps.config.orderPollSeconds, polls: 0, ...carryNonce(client) };
}

async function answerOnce(client: AcmeClient, url: string): Promise<string> {
  try {
    return (await client.answerChallenge(url)).body.status;
  } catch (error) {
    if (!(error instanceof MalformedError)) throw error;
    const { body } = await client.getChallenge(url);
    // An invalid challenge fails the order; WaitForAuthorizations reports it with the CA's detail.
    if (body.status === 'pending') throw error;
    return body.status;
  }
}
