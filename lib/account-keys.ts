import { RemovalPolicy } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { adminOnlyKeyPolicy, grantKeyUse } from './key-policy.js';
import { keepLogicalId } from './logical-ids.js';

export interface AccountKeysProps {
  /**
   * Generation of the ACME account key. Raising it by one creates a new key and keeps the
   * previous generation's beside it, for the `keyChange` rollover (RFC 8555 §7.3.5).
   * @default 1
   */
  readonly generation?: number;
}

/**
 * The KMS keys that are the ACME account: every JWS to the CA is signed with them, and they never
 * leave KMS. Losing one loses the account (its URL, rate limits and binding), so both are retained
 * on delete and keep the logical IDs they had before this construct existed.
 */
export class AccountKeys extends Construct {
  /** The ACME account key of the current generation: ECC_NIST_P256, SIGN_VERIFY, retained on delete. */
  readonly accountKey: kms.Key;
  /** The previous generation's account key, kept while the account may still be on it. */
  readonly previousAccountKey?: kms.Key;

  constructor(scope: Construct, id: string, props: AccountKeysProps = {}) {
    super(scope, id);
    const generation = props.generation ?? 1;
    if (!Number.isInteger(generation) || generation < 1) {
      throw new Error(
        `AcmeCertificates: accountKeyGeneration ${generation} is invalid: use a whole number from 1, raised by one to roll the account over to a new key.`,
      );
    }
    const accountKeyOf = (keyGeneration: number) => {
      // Generation 1 keeps the original construct id, so existing deployments keep their key.
      const keyId = keyGeneration === 1 ? 'AccountKey' : `AccountKey${keyGeneration}`;
      const key = new kms.Key(this, keyId, {
        description: `ACME account key, generation ${keyGeneration}: every JWS to the CA is signed here; the key never leaves KMS`,
        keySpec: kms.KeySpec.ECC_NIST_P256,
        keyUsage: kms.KeyUsage.SIGN_VERIFY,
        policy: adminOnlyKeyPolicy(),
        removalPolicy: RemovalPolicy.RETAIN,
      });
      // A replaced account key is a lost ACME account: keep the ID it had before the split.
      keepLogicalId(key, scope, keyId);
      return key;
    };
    this.accountKey = accountKeyOf(generation);
    if (generation > 1) this.previousAccountKey = accountKeyOf(generation - 1);
  }

  /**
   * Lets `grantee` sign with an account key, ES256 only (RFC 7518 §3.4), and read its public half:
   * in the key policy and in the grantee's identity policy.
   */
  grantSigning(grantee: iam.IGrantable, generation: 'current' | 'previous' = 'current'): iam.Grant {
    const key = generation === 'current' ? this.accountKey : this.previousAccountKey;
    if (!key) throw new Error('AcmeCertificates: there is no previous account key at generation 1');
    return grantKeyUse(key, grantee, ['kms:Sign'], {
      StringEquals: { 'kms:SigningAlgorithm': 'ECDSA_SHA_256' },
    }).combine(grantKeyUse(key, grantee, ['kms:GetPublicKey']));
  }
}
