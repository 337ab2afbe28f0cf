import { STSClient } from '@aws-sdk/client-sts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AssumedRoleClients, type RoleCredentials } from '../../../lambdas/adapters/sts-assumed-roles.js';
import { AwsRequestError, AwsTransientError } from '../../../lambdas/core/errors.js';
import { installStsFake, type StsFake } from '../../fakes/sts-fake.js';

const ROLE = 'arn:aws:iam::210987654321:role/acme-dns';
const sts = new STSClient({
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIAHOME', secretAccessKey: 'home' },
});

let now: Date;
let fake: StsFake;
let clients: AssumedRoleClients<{ credentials: RoleCredentials }>;

beforeEach(() => {
  now = new Date('2026-03-01T12:00:00Z');
  fake = installStsFake({ now: () => now });
  fake.addRole(ROLE);
  clients = new AssumedRoleClients({
    sts,
    createClient: (credentials) => ({ credentials }),
    now: () => now,
  });
});

afterEach(() => {
  fake.restore();
});

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('AssumedRoleClients', () => {
  it('assumes the role once and keeps its client while the credentials last', async () => {
    const first = await clients.clientFor(ROLE);
    now = new Date(now.getTime() + 54 * 60_000);
    const later = await clients.clientFor(ROLE);

    expect(later).toBe(first);
    expect(fake.calls.AssumeRole).toBe(1);
    expect(fake.accountOf(first.credentials)).toBe('210987654321');
    expect(fake.assumeRoleRequests[0]).toEqual({
      RoleArn: ROLE,
      RoleSessionName: 'acme-aws-dns01',
      DurationSeconds: 3600,
    });
  });

  it('assumes the role again five minutes before the credentials expire, with a fresh client', async () => {
    const first = await clients.clientFor(ROLE);
    now = new Date(now.getTime() + 55 * 60_000);

    const renewed = await clients.clientFor(ROLE);

    expect(renewed).not.toBe(first);
    expect(fake.calls.AssumeRole).toBe(2);
    expect(await clients.clientFor(ROLE)).toBe(renewed);
    expect(fake.accountOf(renewed.credentials)).toBe('210987654321');
  });

  it('shares one AssumeRole among concurrent callers', async () => {
    const [a, b, c] = await Promise.all([
      clients.clientFor(ROLE),
      clients.clientFor(ROLE),
      clients.clientFor(ROLE),
    ]);

    expect(a).toBe(b);
    expect(b).toBe(c);
    expect(fake.calls.AssumeRole).toBe(1);
  });

  it('keeps one client per role', async () => {
    const other = fake.addRole('arn:aws:iam::333344445555:role/dns');

    const first = await clients.clientFor(ROLE);
    const second = await clients.clientFor(other);

    expect(fake.accountOf(first.credentials)).toBe('210987654321');
    expect(fake.accountOf(second.credentials)).toBe('333344445555');
  });

  it('reports a role that does not trust this account as AwsRequestError naming it, and tries again next time', async () => {
    const untrusting = fake.addRole('arn:aws:iam::210987654321:role/other', {
      trustedAccounts: ['999999999999'],
    });

    const error = await rejection(clients.clientFor(untrusting));
    fake.addRole(untrusting);
    const client = await clients.clientFor(untrusting);

    expect(error).toBeInstanceOf(AwsRequestError);
    expect(error.message).toContain(`STS AssumeRole of ${untrusting}`);
    expect(error.message).toContain('AccessDenied');
    expect((error.cause as Error).name).toBe('AccessDenied');
    expect(fake.accountOf(client.credentials)).toBe('210987654321');
  });

  it('reports an unknown role as AwsRequestError', async () => {
    const error = await rejection(clients.clientFor('arn:aws:iam::210987654321:role/missing'));

    expect(error).toBeInstanceOf(AwsRequestError);
    expect(error.message).toContain('trust policy');
  });

  it('reports throttling as AwsTransientError, for the state machine to retry', async () => {
    fake.failNext('AssumeRole', 'Throttling');

    expect(await rejection(clients.clientFor(ROLE))).toBeInstanceOf(AwsTransientError);
    expect(await clients.clientFor(ROLE)).toBeDefined();
  });

  it('asks for no longer a session than the role allows', async () => {
    const short = fake.addRole('arn:aws:iam::210987654321:role/short', { maxSessionSeconds: 1800 });
    const long = new AssumedRoleClients({
      sts,
      createClient: (credentials) => credentials,
      durationSeconds: 3600,
    });
    const fitting = new AssumedRoleClients({
      sts,
      createClient: (credentials) => credentials,
      durationSeconds: 1800,
    });

    const error = await rejection(long.clientFor(short));

    expect(error.message).toMatch(
      /ValidationError: The requested DurationSeconds exceeds the MaxSessionDuration/,
    );
    await expect(fitting.clientFor(short)).resolves.toMatchObject({ sessionToken: expect.any(String) });
  });
});

describe('the STS fake', () => {
  it('refuses credentials after they expire, and credentials it never issued', async () => {
    const { credentials } = await clients.clientFor(ROLE);
    now = new Date(now.getTime() + 3600_000);

    expect(() => fake.accountOf(credentials)).toThrow(/expired/);
    expect(() => fake.accountOf({ accessKeyId: 'ASIAUNKNOWN', sessionToken: 'x' })).toThrow(/invalid/);
    expect(fake.accountOf({ accessKeyId: 'AKIAHOME' })).toBe('123456789012');
  });

  it('validates the session name as STS does', async () => {
    const badName = new AssumedRoleClients({ sts, createClient: (c) => c, sessionName: 'has spaces' });

    await expect(badName.clientFor(ROLE)).rejects.toThrow(/roleSessionName/);
  });
});
