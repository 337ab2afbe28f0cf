import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LETS_ENCRYPT_STAGING } from '../../lib/steps.js';
import { actionsOfStatement, identityStatements, roleIdsByStep, synthStack } from './template.js';

/**
 * ARNs in the construct are built from the stack's partition, never spelled `arn:aws:`, so the
 * same template deploys to aws-cn and aws-us-gov.
 */

const LIB = fileURLToPath(new URL('../../lib/', import.meta.url));

describe('partitions', () => {
  it('spells no literal arn:aws: anywhere in lib/', () => {
    const literals = readdirSync(LIB, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .flatMap((file) =>
        readFileSync(`${LIB}${file}`, 'utf8')
          .split('\n')
          .map((line, index) => ({ where: `lib/${file}:${index + 1}`, line }))
          .filter(({ line }) => line.includes('arn:aws:')),
      )
      .map(({ where, line }) => `${where}: ${line.trim()}`);

    expect(literals).toEqual([]);
  });

  it('builds Route 53 zone and change ARNs from the stack’s partition, with no region or account', () => {
    const { resources } = synthStack({ directoryUrl: LETS_ENCRYPT_STAGING, hostedZoneIds: ['Z111'] });
    const roles = roleIdsByStep(resources);
    const resourceOf = (step: keyof typeof roles, action: string) =>
      identityStatements(resources, roles[step]).find((statement) =>
        actionsOfStatement(statement).includes(action),
      )?.Resource;

    expect(resourceOf('PublishChallenges', 'route53:ChangeResourceRecordSets')).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':route53:::hostedzone/Z111']],
    });
    expect(resourceOf('WaitForDnsSync', 'route53:GetChange')).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':route53:::change/*']],
    });
  });
});
