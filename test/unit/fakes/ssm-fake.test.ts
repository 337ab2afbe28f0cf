import {
  GetParameterCommand,
  GetParameterHistoryCommand,
  PutParameterCommand,
  type PutParameterCommandInput,
  SSMClient,
  type SSMServiceException,
} from '@aws-sdk/client-ssm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installSsmFake, MAX_PARAMETER_VERSIONS, type SsmFake } from '../../fakes/ssm-fake.js';

const KEY = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const NAME = '/acme/site/certificate';

let ssm: SsmFake;
let client: SSMClient;

async function rejection(promise: Promise<unknown>): Promise<SSMServiceException> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as SSMServiceException,
  );
}

const put = (input: Partial<PutParameterCommandInput> = {}) =>
  client.send(
    new PutParameterCommand({
      Name: NAME,
      Value: 'pem',
      Type: 'SecureString',
      KeyId: KEY,
      Overwrite: true,
      Tier: 'Standard',
      ...input,
    }),
  );

beforeEach(() => {
  ssm = installSsmFake();
  client = new SSMClient({ region: 'us-east-1' });
});

afterEach(() => ssm.restore());

describe('SSM fake: PutParameter', () => {
  it('numbers versions from 1, keeps the key of each, and reads them back decrypted or not', async () => {
    expect(await put({ Value: 'first' })).toMatchObject({ Version: 1, Tier: 'Standard' });
    expect(await put({ Value: 'second' })).toMatchObject({ Version: 2, Tier: 'Standard' });

    expect(ssm.version(NAME, 1)).toMatchObject({ value: 'first', keyId: KEY, type: 'SecureString' });
    expect(ssm.valueOf(NAME)).toBe('second');
    const decrypted = await client.send(new GetParameterCommand({ Name: NAME, WithDecryption: true }));
    expect(decrypted.Parameter).toMatchObject({
      Name: NAME,
      Type: 'SecureString',
      Value: 'second',
      Version: 2,
      ARN: 'arn:aws:ssm:us-east-1:123456789012:parameter/acme/site/certificate',
    });
    const encrypted = await client.send(new GetParameterCommand({ Name: NAME }));
    expect(encrypted.Parameter?.Value).not.toBe('second');
    const first = await client.send(new GetParameterCommand({ Name: `${NAME}:1`, WithDecryption: true }));
    expect(first.Parameter).toMatchObject({ Value: 'first', Version: 1, Selector: ':1' });
    const history = await client.send(new GetParameterHistoryCommand({ Name: NAME, WithDecryption: true }));
    expect(history.Parameters?.map((version) => [version.Version, version.Value, version.KeyId])).toEqual([
      [1, 'first', KEY],
      [2, 'second', KEY],
    ]);
  });

  it('refuses to replace an existing parameter without Overwrite', async () => {
    await put();
    const error = await rejection(put({ Overwrite: false }));
    expect(error.name).toBe('ParameterAlreadyExists');
    expect(ssm.parameter(NAME)?.versions).toHaveLength(1);
  });

  it('holds 4,096 bytes in Standard and 8,192 in Advanced, refusing more with ValidationException', async () => {
    expect((await put({ Value: 'a'.repeat(4096) })).Version).toBe(1);
    const standard = await rejection(put({ Value: 'a'.repeat(4097) }));
    expect(standard.name).toBe('ValidationException');
    expect(standard.message).toContain('Standard tier parameters support a maximum parameter value of 4096');
    expect(await put({ Value: 'a'.repeat(8192), Tier: 'Advanced' })).toMatchObject({
      Version: 2,
      Tier: 'Advanced',
    });
    expect((await rejection(put({ Value: 'a'.repeat(8193), Tier: 'Advanced' }))).name).toBe(
      'ValidationException',
    );
  });

  it('never turns an advanced parameter back into a standard one', async () => {
    await put({ Tier: 'Advanced' });
    const error = await rejection(put({ Tier: 'Standard' }));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain("can't downgrade");
    // Without a tier, or with Intelligent-Tiering, it stays advanced.
    expect((await put({ Tier: undefined })).Tier).toBe('Advanced');
    expect((await put({ Tier: 'Intelligent-Tiering' })).Tier).toBe('Advanced');
  });

  it('lets Intelligent-Tiering choose Advanced only for a value that needs it', async () => {
    expect((await put({ Name: '/small', Tier: 'Intelligent-Tiering' })).Tier).toBe('Standard');
    expect((await put({ Name: '/large', Tier: 'Intelligent-Tiering', Value: 'a'.repeat(5000) })).Tier).toBe(
      'Advanced',
    );
  });

  it('keeps 100 versions, dropping the oldest, unless the oldest has a label', async () => {
    for (let i = 1; i <= MAX_PARAMETER_VERSIONS; i += 1) await put({ Value: `v${i}` });
    expect((await put({ Value: 'v101' })).Version).toBe(101);
    expect(ssm.parameter(NAME)?.versions).toHaveLength(MAX_PARAMETER_VERSIONS);
    expect(ssm.version(NAME, 1)).toBeUndefined();
    expect((await rejection(client.send(new GetParameterCommand({ Name: `${NAME}:1` })))).name).toBe(
      'ParameterVersionNotFound',
    );

    ssm.labelVersion(NAME, 2, 'pinned');
    const error = await rejection(put({ Value: 'v102' }));
    expect(error.name).toBe('ParameterMaxVersionLimitExceeded');
    expect(ssm.version(NAME, 2)?.value).toBe('v2');
  });

  it('applies the naming rules', async () => {
    const deep = `/${Array.from({ length: 16 }, (_, i) => `l${i}`).join('/')}`;
    expect((await rejection(put({ Name: deep }))).name).toBe('HierarchyLevelLimitExceededException');
    expect((await put({ Name: `/${Array.from({ length: 15 }, (_, i) => `l${i}`).join('/')}` })).Version).toBe(
      1,
    );
    for (const name of [
      'no/leading/slash',
      '/has space',
      '/aws/reserved',
      '/ssm',
      '/a//b',
      `/${'n'.repeat(1011)}`,
    ]) {
      expect((await rejection(put({ Name: name }))).name, name).toBe('ValidationException');
    }
  });

  it('refuses a KeyId on a String parameter and a change of type', async () => {
    expect((await rejection(put({ Name: '/plain', Type: 'String' }))).name).toBe('ValidationException');
    await put({ Name: '/plain', Type: 'String', KeyId: undefined });
    expect((await rejection(put({ Name: '/plain', Type: 'SecureString' }))).name).toBe(
      'HierarchyTypeMismatchException',
    );
  });

  it('answers ParameterNotFound for a missing parameter, and injected faults by name', async () => {
    expect((await rejection(client.send(new GetParameterCommand({ Name: '/missing' })))).name).toBe(
      'ParameterNotFound',
    );
    ssm.failNext('PutParameter', 'ThrottlingException');
    const throttled = await rejection(put());
    expect(throttled.name).toBe('ThrottlingException');
    expect(throttled.$retryable?.throttling).toBe(true);
    ssm.failNext('GetParameter', 'InternalServerError');
    const failed = await rejection(client.send(new GetParameterCommand({ Name: NAME })));
    expect(failed.$fault).toBe('server');
  });
});
