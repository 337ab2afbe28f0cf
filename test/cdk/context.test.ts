import { describe, expect, it } from 'vitest';
import { stackPropsFromContext } from '../../lib/context.js';

/** `cdk deploy -c key=value` settings, read as the CLI passes them: strings. */
function fromContext(context: Record<string, unknown>) {
  return stackPropsFromContext((key) => context[key]).acme;
}

describe('context keys', () => {
  it('reads validationZoneIds and zoneRoleArns as comma-separated lists', () => {
    const acme = fromContext({
      validationZoneIds: 'ZVAL1, ZVAL2',
      zoneRoleArns: 'arn:aws:iam::111122223333:role/acme-dns,arn:aws:iam::444455556666:role/acme-dns',
    });

    expect(acme.validationZoneIds).toEqual(['ZVAL1', 'ZVAL2']);
    expect(acme.zoneRoleArns).toEqual([
      'arn:aws:iam::111122223333:role/acme-dns',
      'arn:aws:iam::444455556666:role/acme-dns',
    ]);
  });

  it('accepts the same keys as lists, as cdk.json may hold them', () => {
    const acme = fromContext({ validationZoneIds: ['ZVAL'], zoneRoleArns: ['arn:aws:iam::1:role/r'] });

    expect(acme.validationZoneIds).toEqual(['ZVAL']);
    expect(acme.zoneRoleArns).toEqual(['arn:aws:iam::1:role/r']);
  });

  it('leaves both unset when the context does not name them', () => {
    const acme = fromContext({ validationZoneIds: '' });

    expect(acme).not.toHaveProperty('validationZoneIds');
    expect(acme).not.toHaveProperty('zoneRoleArns');
  });
});
