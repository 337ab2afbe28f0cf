import { createECDH, generateKeyPairSync, type KeyObject, randomBytes, randomUUID, sign } from 'node:crypto';
import {
  GetPublicKeyCommand,
  type GetPublicKeyCommandInput,
  type GetPublicKeyCommandOutput,
  KMSClient,
  KMSServiceException,
  SignCommand,
  type SignCommandInput,
  type SignCommandOutput,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { FakeCommandRunner, type ServiceExceptionClass } from './fake-support.js';

/**
 * An in-memory AWS KMS at the SDK boundary, for unit tests, the e2e state machine and the demo.
 * Keys are real (node:crypto), signatures are real ECDSA and come back DER-encoded as KMS sends
 * them, and requests are refused with the same error names KMS uses.
 */

const ACCOUNT = '123456789012';
const MAX_RAW_MESSAGE_BYTES = 4096;
/** Order of the P-256 base point. */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/** Key specs the fake can create. */
export type FakeKeySpec = 'ECC_NIST_P256' | 'ECC_NIST_P384' | 'RSA_2048';
export type FakeKeyUsage = 'SIGN_VERIFY' | 'ENCRYPT_DECRYPT' | 'KEY_AGREEMENT';

export interface FakeKmsKey {
  readonly keyId: string;
  readonly arn: string;
  readonly keySpec: FakeKeySpec;
  readonly keyUsage: FakeKeyUsage;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  enabled: boolean;
}

export interface CreateFakeKeyOptions {
  /** @default 'ECC_NIST_P256' */
  readonly keySpec?: FakeKeySpec;
  /** @default 'SIGN_VERIFY' */
  readonly keyUsage?: FakeKeyUsage;
  /** An alias such as `alias/acme-account`, resolvable in `KeyId` like in KMS. */
  readonly alias?: string;
}

export interface KmsFake {
  readonly region: string;
  readonly keys: ReadonlyMap<string, FakeKmsKey>;
  /** Calls per command (`GetPublicKey`, `Sign`), failed ones included. */
  readonly calls: Readonly<Record<string, number>>;
  /** Every request with its input, oldest first. */
  readonly requests: readonly { readonly command: string; readonly input: unknown }[];
  /** Creates a real key (ECC_NIST_P256 SIGN_VERIFY unless told otherwise) and returns its key id. */
  createKey(options?: CreateFakeKeyOptions): string;
  /** Disables a key, so that `Sign` fails with `DisabledException` as in KMS. */
  disableKey(keyId: string): void;
  /** Makes the next `times` calls of `command` throw an error named `errorName`. */
  failNext(command: string, errorName: string, times?: number): void;
  /** Gives `KMSClient` back its real `send`. */
  restore(): void;
}

const SIGNING_ALGORITHMS: Readonly<Record<FakeKeySpec, readonly SigningAlgorithmSpec[]>> = {
  ECC_NIST_P256: ['ECDSA_SHA_256'],
  ECC_NIST_P384: ['ECDSA_SHA_384'],
  RSA_2048: [
    'RSASSA_PSS_SHA_256',
    'RSASSA_PSS_SHA_384',
    'RSASSA_PSS_SHA_512',
    'RSASSA_PKCS1_V1_5_SHA_256',
    'RSASSA_PKCS1_V1_5_SHA_384',
    'RSASSA_PKCS1_V1_5_SHA_512',
  ],
};

const VALID_USAGES: Readonly<Record<FakeKeySpec, readonly FakeKeyUsage[]>> = {
  ECC_NIST_P256: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  ECC_NIST_P384: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  RSA_2048: ['SIGN_VERIFY', 'ENCRYPT_DECRYPT'],
};

function generateKey(keySpec: FakeKeySpec): { privateKey: KeyObject; publicKey: KeyObject } {
  if (keySpec === 'RSA_2048') return generateKeyPairSync('rsa', { modulusLength: 2048 });
  return generateKeyPairSync('ec', { namedCurve: keySpec === 'ECC_NIST_P256' ? 'prime256v1' : 'secp384r1' });
}

function bigintFrom(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

function bytesFrom(value: bigint, size: number): Buffer {
  return Buffer.from(value.toString(16).padStart(size * 2, '0'), 'hex');
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result;
}

function derInteger(value: bigint): Buffer {
  const hex = value.toString(16);
  let bytes = Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex');
  // A set high bit would read as negative: DER prepends a zero byte.
  if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}

/**
 * ECDSA P-256 over a precomputed SHA-256 digest (KMS `MessageType: DIGEST`). node:crypto only
 * signs messages it hashes itself, so the scalar multiplication k·G is borrowed from ECDH and the
 * rest of FIPS 186-4 §6.4 is done here.
 */
function signP256Digest(privateKey: KeyObject, digest: Uint8Array): Buffer {
  const d = bigintFrom(Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url'));
  const e = bigintFrom(digest);
  for (;;) {
    const k = bigintFrom(randomBytes(32)) % P256_ORDER;
    if (k === 0n) continue;
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(bytesFrom(k, 32));
    const r = bigintFrom(ecdh.getPublicKey().subarray(1, 33)) % P256_ORDER;
    if (r === 0n) continue;
    const s = (modPow(k, P256_ORDER - 2n, P256_ORDER) * ((e + r * d) % P256_ORDER)) % P256_ORDER;
    if (s === 0n) continue;
    const body = Buffer.concat([derInteger(r), derInteger(s)]);
    return Buffer.concat([Buffer.from([0x30, body.length]), body]);
  }
}

/**
 * Replaces `send` on every `KMSClient` (including clients created before this call, such as the
 * module-level ones in Lambda handlers) with an in-memory KMS that supports `GetPublicKey` and
 * `Sign`. Call `restore()` when done.
 */
export function installKmsFake(options: { region?: string } = {}): KmsFake {
  const region = options.region ?? 'us-east-1';
  const runner = new FakeCommandRunner(KMSServiceException as unknown as ServiceExceptionClass);
  const keys = new Map<string, FakeKmsKey>();
  const aliases = new Map<string, string>();
  const mock = mockClient(KMSClient);

  const resolve = (keyIdOrArn: string | undefined): FakeKmsKey => {
    const reference = keyIdOrArn ?? '';
    const arnMatch = /^arn:aws:kms:([^:]+):(\d{12}):(key|alias)\/(.+)$/.exec(reference);
    let keyId: string | undefined = reference;
    if (arnMatch) {
      const [, arnRegion, account, kind, name] = arnMatch;
      keyId =
        arnRegion === region && account === ACCOUNT
          ? kind === 'alias'
            ? aliases.get(`alias/${name}`)
            : name
          : undefined;
    } else if (reference.startsWith('alias/')) {
      keyId = aliases.get(reference);
    }
    const key = keyId === undefined ? undefined : keys.get(keyId);
    if (!key) return runner.fail({ name: 'NotFoundException', message: `Key '${reference}' does not exist` });
    return key;
  };

  // Registered first so that the command-specific behaviours below take precedence.
  mock.onAnyCommand().callsFake(() =>
    runner.fail({
      name: 'UnsupportedOperationException',
      message: 'The KMS fake does not support this command',
    }),
  );

  mock.on(GetPublicKeyCommand).callsFake((input: GetPublicKeyCommandInput) =>
    runner.run('GetPublicKey', input, (): GetPublicKeyCommandOutput => {
      const key = resolve(input.KeyId);
      return {
        $metadata: { httpStatusCode: 200, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 },
        KeyId: key.arn,
        PublicKey: new Uint8Array(key.publicKey.export({ format: 'der', type: 'spki' })),
        KeySpec: key.keySpec,
        CustomerMasterKeySpec: key.keySpec,
        KeyUsage: key.keyUsage,
        ...(key.keyUsage === 'SIGN_VERIFY'
          ? { SigningAlgorithms: [...SIGNING_ALGORITHMS[key.keySpec]] }
          : {}),
      };
    }),
  );

  mock.on(SignCommand).callsFake((input: SignCommandInput) =>
    runner.run('Sign', input, (): SignCommandOutput => {
      const key = resolve(input.KeyId);
      if (!key.enabled) return runner.fail({ name: 'DisabledException', message: `${key.arn} is disabled.` });
      const message = input.Message;
      if (!message || message.length === 0) {
        return runner.fail({
          name: 'ValidationException',
          message:
            "1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length greater than or equal to 1",
        });
      }
      const messageType = input.MessageType ?? 'RAW';
      if (messageType === 'RAW' && message.length > MAX_RAW_MESSAGE_BYTES) {
        return runner.fail({
          name: 'ValidationException',
          message: `1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length less than or equal to ${MAX_RAW_MESSAGE_BYTES}`,
        });
      }
      if (key.keyUsage !== 'SIGN_VERIFY') {
        return runner.fail({
          name: 'InvalidKeyUsageException',
          message: `${key.arn} key usage is ${key.keyUsage} which is not valid for Sign.`,
        });
      }
      const algorithm = input.SigningAlgorithm;
      if (!algorithm || !SIGNING_ALGORITHMS[key.keySpec].includes(algorithm)) {
        return runner.fail({
          name: 'InvalidKeyUsageException',
          message: `The signing algorithm ${algorithm || '(none)'} is not valid for ${key.arn} (${key.keySpec}).`,
        });
      }
      if (algorithm !== 'ECDSA_SHA_256')
        throw new Error(`The KMS fake only signs with ECDSA_SHA_256, not ${algorithm}`);
      let signature: Buffer;
      if (messageType === 'RAW') {
        signature = sign('sha256', message, { key: key.privateKey, dsaEncoding: 'der' });
      } else if (messageType === 'DIGEST') {
        if (message.length !== 32) {
          return runner.fail({
            name: 'ValidationException',
            message: 'Digest is invalid length for algorithm ECDSA_SHA_256.',
          });
        }
        signature = signP256Digest(key.privateKey, message);
      } else {
        return runner.fail({
          name: 'ValidationException',
          message: `Unsupported MessageType ${messageType}`,
        });
      }
      return {
        $metadata: { httpStatusCode: 200, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 },
        KeyId: key.arn,
        Signature: new Uint8Array(signature),
        SigningAlgorithm: 'ECDSA_SHA_256',
      };
    }),
  );

  return {
    region,
    keys,
    calls: runner.calls,
    requests: runner.requests,
    createKey(createOptions = {}) {
      const keySpec = createOptions.keySpec ?? 'ECC_NIST_P256';
      const keyUsage = createOptions.keyUsage ?? 'SIGN_VERIFY';
      if (!VALID_USAGES[keySpec].includes(keyUsage))
        throw new Error(`KMS does not allow ${keySpec} keys with ${keyUsage}`);
      const keyId = randomUUID();
      const { privateKey, publicKey } = generateKey(keySpec);
      keys.set(keyId, {
        keyId,
        arn: `arn:aws:kms:${region}:${ACCOUNT}:key/${keyId}`,
        keySpec,
        keyUsage,
        privateKey,
        publicKey,
        enabled: true,
      });
      if (createOptions.alias) aliases.set(createOptions.alias, keyId);
      return keyId;
    },
    disableKey(keyId) {
      const key = keys.get(keyId);
      if (!key) throw new Error(`No fake KMS key ${keyId}`);
      key.enabled = false;
    },
    failNext: (command, errorName, times = 1) => runner.failNext(command, errorName, times),
    restore: () => mock.restore(),
  };
}
