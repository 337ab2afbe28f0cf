import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { InvalidInputError } from '../core/errors.js';
import type { ExternalAccountBinding, ExternalAccountBindingSource } from '../core/ports.js';
import { wrapAwsError } from './wrap-aws-error.js';

/** The Secrets Manager SDK, imported on first use and never with this module (runtime.ts says why). */
const sdk = () => import('@aws-sdk/client-secrets-manager');

/** base64url (RFC 4648 §5), as CAs hand out EAB MAC keys, with or without padding. */
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

export interface SecretsManagerExternalAccountBindingOptions {
  readonly client: SecretsManagerClient;
  /** Name or ARN of the secret holding `{"kid": "...", "hmacKey": "<base64url>"}`. */
  readonly secretId: string;
}

/**
 * External account binding credentials from an AWS Secrets Manager secret whose string value is
 * the JSON document `{"kid": "<key identifier>", "hmacKey": "<base64url MAC key>"}`, exactly as
 * the CA issued them. Read on demand, never cached, so a rotated secret takes effect on the next
 * account registration.
 *
 * Guarantees: the MAC key and the secret's text never appear in an error message or `cause`
 * (even a JSON syntax error is reported without the parser's message, which would quote the
 * text); a secret of the wrong shape is an `InvalidInputError` naming the secret and the field;
 * SDK failures are wrapped as `AwsTransientError` or `AwsRequestError` naming the secret.
 */
export class SecretsManagerExternalAccountBinding implements ExternalAccountBindingSource {
  readonly #client: SecretsManagerClient;
  readonly #secretId: string;

  constructor(options: SecretsManagerExternalAccountBindingOptions) {
    this.#client = options.client;
    this.#secretId = options.secretId;
  }

  async read(): Promise<ExternalAccountBinding> {
    const { GetSecretValueCommand } = await sdk();
    let secretString: string | undefined;
    try {
      ({ SecretString: secretString } = await this.#client.send(
        new GetSecretValueCommand({ SecretId: this.#secretId }),
      ));
    } catch (error) {
      throw wrapAwsError(error, `Secrets Manager GetSecretValue on ${this.#secretId}`);
    }
    const expected = 'a JSON object {"kid": "<key identifier>", "hmacKey": "<base64url MAC key>"}';
    if (secretString === undefined) {
      throw new InvalidInputError(
        `The external account binding secret ${this.#secretId} has no string value; store ${expected}.`,
      );
    }
    let value: unknown;
    try {
      value = JSON.parse(secretString);
    } catch {
      // Deliberately no `cause`: JSON.parse's message quotes the text it choked on.
      throw new InvalidInputError(
        `The external account binding secret ${this.#secretId} is not valid JSON; store ${expected}.`,
      );
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InvalidInputError(
        `The external account binding secret ${this.#secretId} is not a JSON object; store ${expected}.`,
      );
    }
    const { kid, hmacKey } = value as { kid?: unknown; hmacKey?: unknown };
    if (typeof kid !== 'string' || kid.trim() === '') {
      throw new InvalidInputError(
        `The external account binding secret ${this.#secretId} has no "kid" string; store ${expected}.`,
      );
    }
    if (
      typeof hmacKey !== 'string' ||
      !BASE64URL.test(hmacKey) ||
      hmacKey.replace(/=+$/, '').length % 4 === 1
    ) {
      throw new InvalidInputError(
        `The external account binding secret ${this.#secretId} has no valid "hmacKey": it must be the MAC key in base64url, as the CA issued it.`,
      );
    }
    return { kid, hmacKey: new Uint8Array(Buffer.from(hmacKey, 'base64url')) };
  }
}
