import {
  constants,
  createECDH,
  createHash,
  generateKeyPairSync,
  type KeyObject,
  privateEncrypt,
  randomBytes,
  randomUUID,
  sign,
} from 'node:crypto';
import {
  type EncryptionAlgorithmSpec,
  GetPublicKeyCommand,
  type GetPublicKeyCommandInput,
  type GetPublicKeyCommandOutput,
  type KeyAgreementAlgorithmSpec,
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
 * Keys are real (node:crypto), signatures are real (ECDSA, DER-encoded as KMS sends them;
 * RSASSA-PKCS1-v1_5 and RSASSA-PSS with a salt as long as the hash, as KMS uses) over RAW messages
 * and DIGESTs alike, and requests are refused with the same error names KMS uses.
 */

const ACCOUNT = '123456789012';
const MAX_RAW_MESSAGE_BYTES = 4096;

/** Key specs the fake can create. */
export type FakeKeySpec =
  | 'ECC_NIST_P256'
  | 'ECC_NIST_P384'
  | 'ECC_NIST_P521'
  | 'RSA_2048'
  | 'RSA_3072'
  | 'RSA_4096';
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
  /** The key id, as a deployment that already assigned it would give it. @default a random UUID */
  readonly keyId?: string;
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

/** Every RSA key spec signs with the same six algorithms in KMS. */
const RSA_SIGNING_ALGORITHMS: readonly SigningAlgorithmSpec[] = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
];

const SIGNING_ALGORITHMS: Readonly<Record<FakeKeySpec, readonly SigningAlgorithmSpec[]>> = {
  ECC_NIST_P256: ['ECDSA_SHA_256'],
  ECC_NIST_P384: ['ECDSA_SHA_384'],
  ECC_NIST_P521: ['ECDSA_SHA_512'],
  RSA_2048: RSA_SIGNING_ALGORITHMS,
  RSA_3072: RSA_SIGNING_ALGORITHMS,
  RSA_4096: RSA_SIGNING_ALGORITHMS,
};

const VALID_USAGES: Readonly<Record<FakeKeySpec, readonly FakeKeyUsage[]>> = {
  ECC_NIST_P256: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  ECC_NIST_P384: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  ECC_NIST_P521: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  RSA_2048: ['SIGN_VERIFY', 'ENCRYPT_DECRYPT'],
  RSA_3072: ['SIGN_VERIFY', 'ENCRYPT_DECRYPT'],
  RSA_4096: ['SIGN_VERIFY', 'ENCRYPT_DECRYPT'],
};

/** What `GetPublicKey` lists for keys that do not sign, as KMS does. */
const ENCRYPTION_ALGORITHMS: readonly EncryptionAlgorithmSpec[] = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'];
const KEY_AGREEMENT_ALGORITHMS: readonly KeyAgreementAlgorithmSpec[] = ['ECDH'];

type HashName = 'sha256' | 'sha384' | 'sha512';

/** How each signing algorithm signs: its scheme, and the hash a DIGEST must have been made with. */
const ALGORITHMS: Readonly<
  Record<string, { readonly scheme: 'ECDSA' | 'PKCS1' | 'PSS'; readonly hash: HashName }>
> = {
  ECDSA_SHA_256: { scheme: 'ECDSA', hash: 'sha256' },
  ECDSA_SHA_384: { scheme: 'ECDSA', hash: 'sha384' },
  ECDSA_SHA_512: { scheme: 'ECDSA', hash: 'sha512' },
  RSASSA_PKCS1_V1_5_SHA_256: { scheme: 'PKCS1', hash: 'sha256' },
  RSASSA_PKCS1_V1_5_SHA_384: { scheme: 'PKCS1', hash: 'sha384' },
  RSASSA_PKCS1_V1_5_SHA_512: { scheme: 'PKCS1', hash: 'sha512' },
  RSASSA_PSS_SHA_256: { scheme: 'PSS', hash: 'sha256' },
  RSASSA_PSS_SHA_384: { scheme: 'PSS', hash: 'sha384' },
  RSASSA_PSS_SHA_512: { scheme: 'PSS', hash: 'sha512' },
};

const HASH_BYTES: Readonly<Record<HashName, number>> = { sha256: 32, sha384: 48, sha512: 64 };

/** A NIST curve's base point order and scalar size, and its name for `createECDH`. */
interface Curve {
  readonly order: bigint;
  readonly size: number;
  readonly ecdhName: string;
}

const CURVES: Readonly<Record<string, Curve>> = {
  ECC_NIST_P256: {
    order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    size: 32,
    ecdhName: 'prime256v1',
  },
  ECC_NIST_P384: {
    order:
      0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    size: 48,
    ecdhName: 'secp384r1',
  },
  ECC_NIST_P521: {
    order:
      0x1fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    size: 66,
    ecdhName: 'secp521r1',
  },
};

const RSA_MODULUS_BITS: Readonly<Record<string, number>> = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 };

/** RFC 8017 §9.2 note 1: the DER DigestInfo that precedes each hash in a PKCS#1 v1.5 signature. */
const DIGEST_INFO_PREFIXES: Readonly<Record<HashName, Buffer>> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

function generateKey(keySpec: FakeKeySpec): { privateKey: KeyObject; publicKey: KeyObject } {
  const modulusLength = RSA_MODULUS_BITS[keySpec];
  if (modulusLength) return generateKeyPairSync('rsa', { modulusLength });
  return generateKeyPairSync('ec', { namedCurve: CURVES[keySpec]?.ecdhName ?? 'prime256v1' });
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

/** A DER element; P-521 signatures are the only ones long enough to need a long-form length. */
function derElement(tag: number, content: Buffer): Buffer {
  const length = content.length < 0x80 ? [content.length] : [0x81, content.length];
  return Buffer.concat([Buffer.from([tag, ...length]), content]);
}

function derInteger(value: bigint): Buffer {
  const hex = value.toString(16);
  let bytes = Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex');
  // A set high bit would read as negative: DER prepends a zero byte.
  if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return derElement(0x02, bytes);
}

/**
 * ECDSA over a precomputed digest (KMS `MessageType: DIGEST`). node:crypto only signs messages it
 * hashes itself, so the scalar multiplication k·G is borrowed from ECDH and the rest of
 * FIPS 186-4 §6.4 is done here. KMS pairs each curve with a hash no longer than its order, so
 * the digest needs no truncation.
 */
function signEcDigest(privateKey: KeyObject, digest: Uint8Array, curve: Curve): Buffer {
  const { order, size } = curve;
  const d = bigintFrom(Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url'));
  const e = bigintFrom(digest);
  for (;;) {
    const k = bigintFrom(randomBytes(size)) % order;
    if (k === 0n) continue;
    const ecdh = createECDH(curve.ecdhName);
    ecdh.setPrivateKey(bytesFrom(k, size));
    const r = bigintFrom(ecdh.getPublicKey().subarray(1, 1 + size)) % order;
    if (r === 0n) continue;
    const s = (modPow(k, order - 2n, order) * ((e + r * d) % order)) % order;
    if (s === 0n) continue;
    return derElement(0x30, Buffer.concat([derInteger(r), derInteger(s)]));
  }
}

/** RFC 8017 §B.2.1 MGF1 with `hash`. */
function mgf1(hash: HashName, seed: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  for (let counter = 0; blocks.length * HASH_BYTES[hash] < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    blocks.push(createHash(hash).update(seed).update(c).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/**
 * RSASSA-PSS over a precomputed digest: EMSA-PSS-ENCODE (RFC 8017 §9.1.1, MGF1 with the same
 * hash, salt as long as the hash as KMS uses) done here, then the raw RSA private-key operation.
 */
function signPssDigest(privateKey: KeyObject, digest: Uint8Array, hash: HashName): Buffer {
  const modulusBits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
  const emBits = modulusBits - 1;
  const emLength = Math.ceil(emBits / 8);
  const hashLength = HASH_BYTES[hash];
  const salt = randomBytes(hashLength);
  const h = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLength - 2 * hashLength - 2), Buffer.from([0x01]), salt]);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i] = (db[i] ?? 0) ^ (mask[i] ?? 0);
  db[0] = (db[0] ?? 0) & (0xff >> (8 * emLength - emBits));
  const encoded = Buffer.concat([db, h, Buffer.from([0xbc])]);
  const modulusBytes = Math.ceil(modulusBits / 8);
  const block = Buffer.concat([Buffer.alloc(modulusBytes - encoded.length), encoded]);
  return privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, block);
}

/** Signs like KMS: RAW messages are hashed with the algorithm's hash, DIGESTs are signed as given. */
function signMessage(
  privateKey: KeyObject,
  keySpec: FakeKeySpec,
  algorithm: { readonly scheme: 'ECDSA' | 'PKCS1' | 'PSS'; readonly hash: HashName },
  message: Uint8Array,
  raw: boolean,
): Buffer {
  const { scheme, hash } = algorithm;
  if (scheme === 'ECDSA') {
    const curve = CURVES[keySpec];
    if (!curve) throw new Error(`The KMS fake has no curve for ${keySpec}`);
    return raw
      ? sign(hash, message, { key: privateKey, dsaEncoding: 'der' })
      : signEcDigest(privateKey, message, curve);
  }
  if (scheme === 'PKCS1') {
    return raw
      ? sign(hash, message, privateKey)
      : privateEncrypt(
          { key: privateKey, padding: constants.RSA_PKCS1_PADDING },
          Buffer.concat([DIGEST_INFO_PREFIXES[hash], message]),
        );
  }
  return raw
    ? sign(hash, message, {
        key: privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      })
    : signPssDigest(privateKey, message, hash);
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
        ...(key.keyUsage === 'ENCRYPT_DECRYPT' ? { EncryptionAlgorithms: [...ENCRYPTION_ALGORITHMS] } : {}),
        ...(key.keyUsage === 'KEY_AGREEMENT'
          ? { KeyAgreementAlgorithms: [...KEY_AGREEMENT_ALGORITHMS] }
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
      const signing = ALGORITHMS[algorithm];
      if (!signing) throw new Error(`The KMS fake cannot sign with ${algorithm}`);
      if (messageType !== 'RAW' && messageType !== 'DIGEST') {
        return runner.fail({
          name: 'ValidationException',
          message: `Unsupported MessageType ${messageType}`,
        });
      }
      if (messageType === 'DIGEST' && message.length !== HASH_BYTES[signing.hash]) {
        return runner.fail({
          name: 'ValidationException',
          message: `Digest is invalid length for algorithm ${algorithm}.`,
        });
      }
      const signature = signMessage(key.privateKey, key.keySpec, signing, message, messageType === 'RAW');
      return {
        $metadata: { httpStatusCode: 200, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 },
        KeyId: key.arn,
        Signature: new Uint8Array(signature),
        SigningAlgorithm: algorithm,
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
      const keyId = createOptions.keyId ?? randomUUID();
      if (keys.has(keyId)) throw new Error(`The fake KMS key ${keyId} already exists`);
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
