import { describe, expect, it } from 'vitest';
import { LocalIam, type PolicyDocument } from '../../harness/cloud/iam.js';
import { type ResourceDirectory, requiredAuthorizations } from '../../harness/cloud/requests.js';

/**
 * How the local cloud authorizes the certificate delivery calls (PutSecretValue, PutParameter,
 * GetParameter): the service action on the secret or parameter, and the KMS permissions the
 * service uses on the caller's behalf for a customer managed key.
 */

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:acme/site-AbCdEf`;
const PARAMETER_ARN = `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/acme/site/certificate`;
const TOKEN = 'a'.repeat(40);

/** A key policy that delegates to IAM, as CDK writes it. */
const KEY_POLICY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
  ],
};

const directory: ResourceDirectory = {
  kmsKey: (reference) => (reference === KEY_ARN ? { arn: KEY_ARN, policy: KEY_POLICY } : undefined),
  bucket: () => undefined,
  objectKmsKey: () => undefined,
  certificateTags: () => undefined,
  trustPolicy: () => undefined,
  secretArn: (secretId) => secretId,
  secret: (secretId) =>
    secretId === SECRET_ARN
      ? { arn: SECRET_ARN, kmsKeyId: KEY_ARN, versionId: () => 'current-version-id-000000000000000' }
      : undefined,
  parameter: (name) =>
    name === '/acme/site/certificate'
      ? {
          versions: [
            { version: 1, type: 'SecureString', tier: 'Standard', keyId: KEY_ARN, labels: new Set() },
          ],
        }
      : undefined,
};

function statement(action: string | string[], resource: string, condition?: Record<string, unknown>) {
  return {
    Effect: 'Allow',
    Action: action,
    Resource: resource,
    ...(condition ? { Condition: condition } : {}),
  };
}

function iamWith(...statements: Record<string, unknown>[]) {
  const iam = new LocalIam();
  const roleArn = `arn:aws:iam::${ACCOUNT}:role/deliver`;
  iam.putRole({
    arn: roleArn,
    name: 'deliver',
    account: ACCOUNT,
    policies: [{ name: 'inline', document: { Version: '2012-10-17', Statement: statements } }],
  });
  return { iam, caller: iam.session(roleArn, 'deliver-certificate') };
}

async function decide(
  statements: Record<string, unknown>[],
  call: { client: string; command: string; input: Record<string, unknown> },
) {
  const { iam, caller } = iamWith(...statements);
  const required = requiredAuthorizations({ ...call, region: REGION }, directory);
  const decisions = [];
  for (const authorization of required) {
    decisions.push({ authorization, ...(await iam.authorize(caller, authorization)) });
  }
  return decisions;
}

const via = (service: string) => ({
  StringEquals: { 'kms:ViaService': `${service}.${REGION}.amazonaws.com` },
});

const putSecret = {
  client: 'SecretsManagerClient',
  command: 'PutSecretValueCommand',
  input: { SecretId: SECRET_ARN, SecretString: '{}', ClientRequestToken: TOKEN },
};
const putParameter = (input: Record<string, unknown> = {}) => ({
  client: 'SSMClient',
  command: 'PutParameterCommand',
  input: {
    Name: '/acme/site/certificate',
    Value: 'pem',
    Type: 'SecureString',
    KeyId: KEY_ARN,
    Overwrite: true,
    Tier: 'Standard',
    ...input,
  },
});

describe('authorization of PutSecretValue on a secret under a customer managed key', () => {
  it('needs secretsmanager:PutSecretValue, then kms:GenerateDataKey and kms:Decrypt via Secrets Manager', async () => {
    const decisions = await decide(
      [
        statement('secretsmanager:PutSecretValue', SECRET_ARN),
        // kms:EncryptionContextKeys is evaluated; kms:EncryptionContext:<key> conditions are not
        // (the simulator does not substitute the key name into that condition key).
        statement(['kms:GenerateDataKey', 'kms:Decrypt'], KEY_ARN, {
          ...via('secretsmanager'),
          'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': 'SecretARN' },
        }),
      ],
      putSecret,
    );
    expect(decisions.map((decision) => [decision.authorization.action, decision.allowed])).toEqual([
      ['secretsmanager:PutSecretValue', true],
      ['kms:GenerateDataKey', true],
      ['kms:Decrypt', true],
    ]);
    expect(decisions[1]?.authorization.context).toMatchObject({
      'kms:EncryptionContext:SecretVersionId': TOKEN,
    });
  });

  it('is denied without the secret permission, and with KMS granted only through another service', async () => {
    const none = await decide([], putSecret);
    expect(none[0]).toMatchObject({
      allowed: false,
      authorization: { deniedAs: { name: 'AccessDeniedException' } },
    });
    expect(none[0]?.message).toContain('is not authorized to perform: secretsmanager:PutSecretValue');

    const wrongService = await decide(
      [
        statement('secretsmanager:PutSecretValue', SECRET_ARN),
        statement(['kms:GenerateDataKey', 'kms:Decrypt'], KEY_ARN, via('ssm')),
      ],
      putSecret,
    );
    expect(wrongService.map((decision) => decision.allowed)).toEqual([true, false, false]);
    expect(wrongService[1]?.authorization.deniedAs.message).toBe('Access to KMS is not allowed');
  });
});

describe('authorization of Parameter Store calls on a SecureString under a customer managed key', () => {
  const ssmGrant = statement(
    ['ssm:PutParameter', 'ssm:GetParameter'],
    `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/acme/*`,
  );

  it('puts a standard parameter with kms:Encrypt via SSM, an advanced one with kms:GenerateDataKey', async () => {
    const standard = await decide([ssmGrant, statement('kms:Encrypt', KEY_ARN, via('ssm'))], putParameter());
    expect(
      standard.map((decision) => [
        decision.authorization.action,
        decision.authorization.resource,
        decision.allowed,
      ]),
    ).toEqual([
      ['ssm:PutParameter', PARAMETER_ARN, true],
      ['kms:Encrypt', KEY_ARN, true],
    ]);
    expect(standard[1]?.authorization.context).toMatchObject({
      'kms:EncryptionContext:PARAMETER_ARN': PARAMETER_ARN,
    });
    const advanced = await decide(
      [ssmGrant, statement('kms:Encrypt', KEY_ARN, via('ssm'))],
      putParameter({ Tier: 'Advanced' }),
    );
    expect(advanced.map((decision) => [decision.authorization.action, decision.allowed])).toEqual([
      ['ssm:PutParameter', true],
      ['kms:GenerateDataKey', false],
    ]);
  });

  it('denies PutParameter to a role without ssm:PutParameter, and GetParameter WithDecryption without kms:Decrypt', async () => {
    const denied = await decide([statement('kms:Encrypt', KEY_ARN, via('ssm'))], putParameter());
    expect(denied[0]).toMatchObject({ allowed: false, authorization: { action: 'ssm:PutParameter' } });
    expect(denied[0]?.message).toContain(
      `is not authorized to perform: ssm:PutParameter on resource: ${PARAMETER_ARN}`,
    );

    const get = (input: Record<string, unknown>) =>
      decide([ssmGrant], { client: 'SSMClient', command: 'GetParameterCommand', input });
    expect((await get({ Name: '/acme/site/certificate' })).map((decision) => decision.allowed)).toEqual([
      true,
    ]);
    const decrypting = await get({ Name: '/acme/site/certificate:1', WithDecryption: true });
    expect(decrypting.map((decision) => [decision.authorization.action, decision.allowed])).toEqual([
      ['ssm:GetParameter', true],
      ['kms:Decrypt', false],
    ]);
  });

  it('needs no KMS permission of the caller for the AWS managed key', async () => {
    const decisions = await decide([ssmGrant], putParameter({ KeyId: 'alias/aws/ssm', Name: '/acme/other' }));
    expect(decisions.map((decision) => decision.allowed)).toEqual([true]);
  });
});
