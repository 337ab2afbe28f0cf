import {
  type Change,
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Route53Zones } from '../../../lambdas/adapters/route53-zones.js';
import { AwsRequestError, AwsTransientError, InvalidInputError } from '../../../lambdas/core/errors.js';
import { installRoute53Fake, type Route53Fake } from '../../fakes/route53-fake.js';

const RECORD = '_acme-challenge.example.org';
// Created before the fake is installed, as Lambda handlers do at import time.
const client = new Route53Client({ region: 'us-east-1' });

let fake: Route53Fake;
let zoneId: string;
let sleep: ReturnType<typeof vi.fn<(ms: number) => Promise<void>>>;
let zones: Route53Zones;

beforeEach(() => {
  fake = installRoute53Fake();
  zoneId = fake.addZone({ name: 'example.org' });
  sleep = vi.fn(async (_ms: number) => {});
  zones = new Route53Zones({ client, sleep });
});

afterEach(() => {
  fake.restore();
});

async function send(changes: Change[], hostedZoneId = zoneId) {
  return client.send(
    new ChangeResourceRecordSetsCommand({ HostedZoneId: hostedZoneId, ChangeBatch: { Changes: changes } }),
  );
}

function txt(action: Change['Action'], name: string, ttl: number | undefined, values: string[]): Change {
  return {
    Action: action,
    ResourceRecordSet: {
      Name: name,
      Type: 'TXT',
      TTL: ttl,
      ResourceRecords: values.map((Value) => ({ Value })),
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

function txtSet(name: string) {
  return fake.recordSets(zoneId).find((set) => set.name === `${name}.` && set.type === 'TXT');
}

describe('Route53Zones', () => {
  describe('listPublicZones', () => {
    it('returns every zone across pages, with bare ids, names without the dot and the private flag', async () => {
      for (let index = 0; index < 120; index += 1) fake.addZone({ name: `zone${index}.example.net` });
      const privateId = fake.addZone({ name: 'internal.example.org', privateZone: true });

      const listed = await zones.listPublicZones();

      expect(listed).toHaveLength(122);
      expect(listed[0]).toEqual({ id: zoneId, name: 'example.org', privateZone: false });
      expect(listed.at(-1)).toEqual({ id: privateId, name: 'internal.example.org', privateZone: true });
      expect(fake.calls.ListHostedZones).toBe(2);
    });
  });

  describe('publishTxt', () => {
    it('publishes an apex and its wildcard as one record set with two values in one change', async () => {
      const changeId = await zones.publishTxt(zoneId, [
        { name: RECORD, values: ['apex-value', 'wildcard-value'] },
      ]);

      expect(changeId).not.toContain('/change/');
      expect(fake.calls.ChangeResourceRecordSets).toBe(1);
      expect(fake.changeBatches[0]?.changes).toEqual([
        txt('UPSERT', `${RECORD}.`, 60, ['"apex-value"', '"wildcard-value"']),
      ]);
      expect(fake.txtValues(RECORD)).toEqual(['apex-value', 'wildcard-value']);
    });

    it('merges duplicate names into one change and uses the configured TTL', async () => {
      const custom = new Route53Zones({ client, sleep, ttlSeconds: 30 });

      await custom.publishTxt(zoneId, [
        { name: RECORD, values: ['a'] },
        { name: '_ACME-challenge.Example.org.', values: ['b', 'a'] },
      ]);

      expect(fake.changeBatches[0]?.changes).toEqual([txt('UPSERT', `${RECORD}.`, 30, ['"a"', '"b"'])]);
    });

    it('keeps a value that is not ours and that set’s TTL', async () => {
      await send([txt('CREATE', RECORD, 300, ['"site-verification=abc"'])]);

      await zones.publishTxt(zoneId, [{ name: RECORD, values: ['ours'] }]);

      expect(txtSet(RECORD)).toEqual({
        name: `${RECORD}.`,
        type: 'TXT',
        ttl: 300,
        values: ['"site-verification=abc"', '"ours"'],
      });
    });

    it('does not mistake the next record in the listing for the one it asked about', async () => {
      await send([txt('CREATE', 'www.example.org', 300, ['"unrelated"'])]);

      await zones.publishTxt(zoneId, [{ name: RECORD, values: ['ours'] }]);

      expect(fake.txtValues(RECORD)).toEqual(['ours']);
      expect(fake.txtValues('www.example.org')).toEqual(['unrelated']);
    });

    it('does not repeat a value that is already published', async () => {
      await zones.publishTxt(zoneId, [{ name: RECORD, values: ['ours'] }]);

      await zones.publishTxt(zoneId, [{ name: RECORD, values: ['ours'] }]);

      expect(fake.txtValues(RECORD)).toEqual(['ours']);
    });

    it('publishes records of several names in a single change batch', async () => {
      await zones.publishTxt(zoneId, [
        { name: '_acme-challenge.a.example.org', values: ['a'] },
        { name: '_acme-challenge.b.example.org', values: ['b'] },
      ]);

      expect(fake.calls.ChangeResourceRecordSets).toBe(1);
      expect(fake.changeBatches[0]?.changes).toHaveLength(2);
    });

    it('refuses to send an empty batch', async () => {
      await expect(zones.publishTxt(zoneId, [])).rejects.toBeInstanceOf(InvalidInputError);
      expect(fake.calls.ChangeResourceRecordSets).toBe(0);
    });
  });

  describe('isChangeInSync', () => {
    it('reports false while Route 53 says PENDING and true once INSYNC', async () => {
      const changeId = await zones.publishTxt(zoneId, [{ name: RECORD, values: ['v'] }]);

      expect(await zones.isChangeInSync(changeId)).toBe(false);
      expect(await zones.isChangeInSync(changeId)).toBe(true);
    });

    it('turns an unknown change id into AwsRequestError', async () => {
      const error = await rejection(zones.isChangeInSync('CNOPE'));

      expect(error).toBeInstanceOf(AwsRequestError);
      expect(error.message).toContain('change CNOPE');
      expect((error.cause as Error).name).toBe('NoSuchChange');
    });
  });

  describe('removeTxt', () => {
    it('removes only our values and keeps the others with their TTL', async () => {
      await send([txt('CREATE', RECORD, 300, ['"site-verification=abc"'])]);
      await zones.publishTxt(zoneId, [{ name: RECORD, values: ['ours-1', 'ours-2'] }]);

      await zones.removeTxt(zoneId, [{ name: RECORD, values: ['ours-1', 'ours-2'] }]);

      expect(fake.changeBatches.at(-1)?.changes).toEqual([
        txt('UPSERT', `${RECORD}.`, 300, ['"site-verification=abc"']),
      ]);
      expect(fake.txtValues(RECORD)).toEqual(['site-verification=abc']);
    });

    it('deletes the set with its exact TTL and values when ours were the only ones', async () => {
      await zones.publishTxt(zoneId, [{ name: RECORD, values: ['apex', 'wildcard'] }]);

      await zones.removeTxt(zoneId, [{ name: RECORD, values: ['wildcard', 'apex'] }]);

      expect(fake.changeBatches.at(-1)?.changes).toEqual([
        txt('DELETE', `${RECORD}.`, 60, ['"apex"', '"wildcard"']),
      ]);
      expect(txtSet(RECORD)).toBeUndefined();
    });

    it('is harmless when repeated', async () => {
      await zones.publishTxt(zoneId, [{ name: RECORD, values: ['v'] }]);
      await zones.removeTxt(zoneId, [{ name: RECORD, values: ['v'] }]);

      await zones.removeTxt(zoneId, [{ name: RECORD, values: ['v'] }]);

      expect(fake.calls.ChangeResourceRecordSets).toBe(2);
      expect(txtSet(RECORD)).toBeUndefined();
    });

    it('sends nothing when none of our values are present', async () => {
      await send([txt('CREATE', RECORD, 300, ['"not-ours"'])]);

      await zones.removeTxt(zoneId, [{ name: RECORD, values: ['ours'] }]);

      expect(fake.calls.ChangeResourceRecordSets).toBe(1);
      expect(fake.txtValues(RECORD)).toEqual(['not-ours']);
    });

    it('removes from several records in one change batch', async () => {
      const records = [
        { name: '_acme-challenge.a.example.org', values: ['a'] },
        { name: '_acme-challenge.b.example.org', values: ['b'] },
      ];
      await zones.publishTxt(zoneId, records);

      await zones.removeTxt(zoneId, records);

      expect(fake.calls.ChangeResourceRecordSets).toBe(2);
      expect(fake.changeBatches.at(-1)?.changes.map((change) => change.Action)).toEqual(['DELETE', 'DELETE']);
    });
  });

  describe('retries and errors', () => {
    it.each(['Throttling', 'PriorRequestNotComplete', 'ServiceUnavailable', 'TimeoutError'])(
      'retries %s with growing backoff and then succeeds',
      async (errorName) => {
        fake.failNext('ChangeResourceRecordSets', errorName, 3);

        await zones.publishTxt(zoneId, [{ name: RECORD, values: ['v'] }]);

        expect(fake.calls.ChangeResourceRecordSets).toBe(4);
        expect(fake.txtValues(RECORD)).toEqual(['v']);
        const delays = sleep.mock.calls.map(([ms]) => ms);
        expect(delays).toHaveLength(3);
        expect(delays[0]).toBeGreaterThanOrEqual(125);
        expect(delays[0]).toBeLessThanOrEqual(250);
        expect(delays[2]).toBeGreaterThanOrEqual(500);
        expect(delays[2]).toBeLessThanOrEqual(1000);
      },
    );

    it('retries reads as well as writes', async () => {
      fake.failNext('ListResourceRecordSets', 'Throttling', 1);
      fake.failNext('ListHostedZones', 'Throttling', 1);
      fake.failNext('GetChange', 'Throttling', 1);

      const changeId = await zones.publishTxt(zoneId, [{ name: RECORD, values: ['v'] }]);
      await zones.listPublicZones();
      await zones.isChangeInSync(changeId);

      expect(sleep).toHaveBeenCalledTimes(3);
    });

    it('rides out the first calls of every kind being throttled, one batch per zone still applied', async () => {
      const otherZone = fake.addZone({ name: 'example.net' });
      const kinds = [
        'ListHostedZones',
        'ListResourceRecordSets',
        'ChangeResourceRecordSets',
        'GetChange',
      ] as const;
      for (const command of kinds) {
        fake.failNext(command, 'Throttling', 2);
        fake.failNext(command, 'PriorRequestNotComplete', 1);
      }

      await zones.listPublicZones();
      const changeIds = [
        await zones.publishTxt(zoneId, [{ name: RECORD, values: ['a', 'b'] }]),
        await zones.publishTxt(otherZone, [{ name: '_acme-challenge.example.net', values: ['c'] }]),
      ];
      for (const changeId of changeIds) await zones.isChangeInSync(changeId);
      await zones.removeTxt(zoneId, [{ name: RECORD, values: ['a', 'b'] }]);
      await zones.removeTxt(otherZone, [{ name: '_acme-challenge.example.net', values: ['c'] }]);

      expect(sleep).toHaveBeenCalledTimes(kinds.length * 3);
      const applied = fake.changeBatches.filter((batch) => batch.changeId !== undefined);
      expect(applied.map((batch) => batch.zoneId)).toEqual([zoneId, otherZone, zoneId, otherZone]);
      expect(fake.txtValues(RECORD)).toEqual([]);
      expect(fake.txtValues('_acme-challenge.example.net')).toEqual([]);
    });

    it('gives up after maxAttempts with AwsTransientError carrying the last SDK error', async () => {
      const limited = new Route53Zones({ client, sleep, maxAttempts: 3 });
      fake.failNext('ChangeResourceRecordSets', 'Throttling', 10);

      const error = await rejection(limited.publishTxt(zoneId, [{ name: RECORD, values: ['v'] }]));

      expect(error).toBeInstanceOf(AwsTransientError);
      expect(error.message).toContain(zoneId);
      expect(error.message).toContain(RECORD);
      expect((error.cause as Error).name).toBe('Throttling');
      expect(fake.calls.ChangeResourceRecordSets).toBe(3);
    });

    it.each([
      ['InvalidChangeBatch', 'ChangeResourceRecordSets'],
      ['AccessDenied', 'ChangeResourceRecordSets'],
      ['AccessDenied', 'ListResourceRecordSets'],
    ] as const)('turns %s from %s into AwsRequestError without retrying', async (errorName, command) => {
      fake.failNext(command, errorName);

      const error = await rejection(zones.publishTxt(zoneId, [{ name: RECORD, values: ['v'] }]));

      expect(error).toBeInstanceOf(AwsRequestError);
      expect(error.message).toContain(`hosted zone ${zoneId}`);
      expect(error.message).toContain(RECORD);
      expect((error.cause as Error).name).toBe(errorName);
      expect(fake.calls[command]).toBe(1);
      expect(sleep).not.toHaveBeenCalled();
    });

    it('reports an unknown zone as AwsRequestError naming it', async () => {
      const error = await rejection(zones.publishTxt('ZMISSING', [{ name: RECORD, values: ['v'] }]));

      expect(error).toBeInstanceOf(AwsRequestError);
      expect(error.message).toContain('hosted zone ZMISSING');
      expect((error.cause as Error).name).toBe('NoSuchHostedZone');
    });

    it('reports Route 53 refusing the batch itself as AwsRequestError', async () => {
      // A name outside the zone gets through the adapter and is refused by Route 53.
      const error = await rejection(
        zones.publishTxt(zoneId, [{ name: '_acme-challenge.example.com', values: ['v'] }]),
      );

      expect(error).toBeInstanceOf(AwsRequestError);
      expect(error.message).toContain('is not permitted in zone example.org.');
      expect((error.cause as Error).name).toBe('InvalidChangeBatch');
    });
  });
});

describe('the Route 53 fake', () => {
  async function changeBatchError(changes: Change[], hostedZoneId = zoneId) {
    return rejection(send(changes, hostedZoneId));
  }

  it('refuses TXT values not enclosed in quotes', async () => {
    const error = await changeBatchError([txt('UPSERT', RECORD, 60, ['bare'])]);

    expect(error.name).toBe('InvalidChangeBatch');
    expect(error.message).toBe(
      "[Invalid Resource Record: FATAL problem: InvalidCharacterString (Value should be enclosed in quotation marks) encountered with 'bare']",
    );
  });

  it('refuses a quoted string longer than 255 bytes', async () => {
    const error = await changeBatchError([txt('UPSERT', RECORD, 60, [`"${'x'.repeat(256)}"`])]);

    expect(error.message).toContain('CharacterStringTooLong');
  });

  it('refuses to delete a set that does not exist', async () => {
    const error = await changeBatchError([txt('DELETE', RECORD, 60, ['"v"'])]);

    expect(error.name).toBe('InvalidChangeBatch');
    expect(error.message).toBe(
      `[Tried to delete resource record set [name='${RECORD}.', type='TXT'] but it was not found]`,
    );
  });

  it.each([
    ['TTL', 300, ['"a"', '"b"']],
    ['values', 60, ['"a"']],
  ])('refuses a DELETE whose %s differ from the current set', async (_, ttl, values) => {
    await send([txt('CREATE', RECORD, 60, ['"a"', '"b"'])]);

    const error = await changeBatchError([txt('DELETE', RECORD, ttl, values)]);

    expect(error.message).toBe(
      `[Tried to delete resource record set [name='${RECORD}.', type='TXT'] but the values provided do not match the current values]`,
    );
  });

  it('accepts a DELETE with the same values in another order', async () => {
    await send([txt('CREATE', RECORD, 60, ['"a"', '"b"'])]);

    await send([txt('DELETE', RECORD, 60, ['"b"', '"a"'])]);

    expect(txtSet(RECORD)).toBeUndefined();
  });

  it('refuses to create a set that already exists', async () => {
    await send([txt('CREATE', RECORD, 60, ['"a"'])]);

    const error = await changeBatchError([txt('CREATE', RECORD, 60, ['"b"'])]);

    expect(error.message).toBe(
      `[Tried to create resource record set [name='${RECORD}.', type='TXT'] but it already exists]`,
    );
  });

  it('refuses two changes to the same set in one batch', async () => {
    const error = await changeBatchError([
      txt('UPSERT', RECORD, 60, ['"a"']),
      txt('UPSERT', RECORD, 60, ['"b"']),
    ]);

    expect(error.message).toContain(`invalid set of changes for a resource record set 'TXT ${RECORD}.'`);
  });

  it('accepts DELETE then CREATE of the same set, the pre-UPSERT way to replace it', async () => {
    await send([txt('CREATE', RECORD, 60, ['"a"'])]);

    await send([txt('DELETE', RECORD, 60, ['"a"']), txt('CREATE', RECORD, 60, ['"b"'])]);

    expect(fake.txtValues(RECORD)).toEqual(['b']);
  });

  it('refuses a name outside the zone, and a sibling that merely shares its suffix', async () => {
    const error = await changeBatchError([txt('UPSERT', 'www.notexample.org', 60, ['"a"'])]);

    expect(error.message).toBe(
      '[RRSet with DNS name www.notexample.org. is not permitted in zone example.org.]',
    );
  });

  it('refuses an empty batch as Route 53’s XML validation does', async () => {
    const error = await changeBatchError([]);

    expect(error.name).toBe('InvalidInput');
    expect(error.message).toContain("The content of element 'Changes' is not complete");
  });

  it('refuses more than 1000 records in a batch, counting UPSERTs twice', async () => {
    const changes = Array.from({ length: 501 }, (_, index) =>
      txt('UPSERT', `r${index}.example.org`, 60, ['"v"']),
    );

    const error = await changeBatchError(changes);

    expect(error.name).toBe('InvalidChangeBatch');
    expect(error.message).toContain('limit of 1000');
  });

  it('refuses a set without a TTL', async () => {
    const error = await changeBatchError([txt('UPSERT', RECORD, undefined, ['"a"'])]);

    expect(error.message).toContain(
      'Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords]',
    );
  });

  it('applies nothing from a batch with one bad change', async () => {
    const error = await changeBatchError([
      txt('CREATE', '_acme-challenge.a.example.org', 60, ['"fine"']),
      txt('DELETE', RECORD, 60, ['"missing"']),
    ]);

    expect(error.name).toBe('InvalidChangeBatch');
    expect(fake.txtValues('_acme-challenge.a.example.org')).toEqual([]);
    expect(fake.changeBatches[0]?.error).toContain('InvalidChangeBatch');
  });

  it('answers an unknown zone with NoSuchHostedZone and an unknown change with NoSuchChange', async () => {
    expect((await changeBatchError([txt('UPSERT', RECORD, 60, ['"a"'])], 'ZNOPE')).name).toBe(
      'NoSuchHostedZone',
    );
    expect((await rejection(client.send(new GetChangeCommand({ Id: '/change/CNOPE' })))).name).toBe(
      'NoSuchChange',
    );
  });

  it('accepts ids with the /hostedzone/ prefix and names in any case', async () => {
    await send([txt('UPSERT', '_ACME-Challenge.EXAMPLE.org.', 60, ['"a"'])], `/hostedzone/${zoneId}`);

    expect(fake.txtValues(RECORD)).toEqual(['a']);
  });

  it('lists record sets by reversed labels then type, paginated from a start name and type', async () => {
    await send([
      txt('CREATE', 'www.example.org', 60, ['"w"']),
      txt('CREATE', RECORD, 60, ['"c"']),
      txt('CREATE', 'a.www.example.org', 60, ['"a"']),
      {
        Action: 'CREATE',
        ResourceRecordSet: {
          Name: 'www.example.org',
          Type: 'A',
          TTL: 60,
          ResourceRecords: [{ Value: '192.0.2.1' }],
        },
      },
    ]);

    const all = await client.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
    const page = await client.send(
      new ListResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        StartRecordName: 'www.example.org',
        StartRecordType: 'TXT',
        MaxItems: 1,
      }),
    );

    expect(all.ResourceRecordSets?.map((set) => `${set.Name} ${set.Type}`)).toEqual([
      'example.org. NS',
      'example.org. SOA',
      `${RECORD}. TXT`,
      'www.example.org. A',
      'www.example.org. TXT',
      'a.www.example.org. TXT',
    ]);
    expect(page.ResourceRecordSets?.map((set) => `${set.Name} ${set.Type}`)).toEqual([
      'www.example.org. TXT',
    ]);
    expect(page).toMatchObject({
      IsTruncated: true,
      NextRecordName: 'a.www.example.org.',
      NextRecordType: 'TXT',
    });
  });

  it('reports a change PENDING until it has been polled syncAfterPolls times', async () => {
    fake.restore();
    fake = installRoute53Fake({ syncAfterPolls: 2 });
    zoneId = fake.addZone({ name: 'example.org' });
    const { ChangeInfo } = await send([txt('CREATE', RECORD, 60, ['"a"'])]);
    const poll = async () =>
      (await client.send(new GetChangeCommand({ Id: ChangeInfo?.Id ?? '' }))).ChangeInfo?.Status;

    expect(ChangeInfo?.Status).toBe('PENDING');
    expect([await poll(), await poll(), await poll()]).toEqual(['PENDING', 'PENDING', 'INSYNC']);
  });
});
