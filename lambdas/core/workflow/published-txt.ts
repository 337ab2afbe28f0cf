import { planTxtChanges } from '../dns/plan.js';
import { withRecordSetLeases } from '../dns/record-leases.js';
import { roleForZone } from '../dns/zone-roles.js';
import type { CertificateRecord, PublishedTxtValue } from '../ports.js';
import type { IssuanceState } from '../state.js';
import type { StepDeps } from './deps.js';

/** Who a value belongs to when no state machine runs the step (a direct invocation). */
export const NO_EXECUTION = 'no-execution';

/**
 * The TXT values of this run's challenges, as the registry notes them for removal. A dns-persist-01
 * record is not among them: it is meant to stay for the renewals to come.
 */
export function txtValuesOf(state: IssuanceState): PublishedTxtValue[] {
  const executionId = state.execution?.id ?? NO_EXECUTION;
  const perOrder = (state.challenges ?? []).filter((challenge) => challenge.type !== 'dns-persist-01');
  return perOrder.map((challenge) => {
    const roleArn = roleForZone(state.zoneRoles, challenge.zoneId);
    return {
      executionId,
      zoneId: challenge.zoneId,
      recordName: challenge.recordName,
      value: challenge.value,
      ...(roleArn ? { roleArn } : {}),
    };
  });
}

/**
 * Notes `values` in the certificate's record before they are written to Route 53, next to the
 * values earlier runs left there. Only the execution holding the certificate's lock writes the
 * list, so reading it and writing it back loses nothing.
 */
export async function notePublishedTxt(
  certificateId: string,
  values: readonly PublishedTxtValue[],
  deps: Pick<StepDeps, 'registry'>,
): Promise<void> {
  if (values.length === 0) return;
  const record = await deps.registry.get(certificateId);
  const noted = record?.publishedTxt ?? [];
  const merged = [
    ...noted,
    ...values.filter(
      (value) => !noted.some((other) => sameValue(other, value) && other.executionId === value.executionId),
    ),
  ];
  if (merged.length === noted.length) return;
  await deps.registry.update(certificateId, { publishedTxt: merged });
}

/**
 * Drops `removed` from the record's noted values, whichever execution noted them (a value removed
 * from Route 53 is gone for all of them); the rest stay for whoever removes them. A no-op when
 * none of them was noted.
 */
export async function forgetPublishedTxt(
  certificateId: string,
  record: CertificateRecord | undefined,
  removed: readonly PublishedTxtValue[],
  deps: Pick<StepDeps, 'registry'>,
): Promise<void> {
  const noted = record?.publishedTxt ?? [];
  const remaining = noted.filter((value) => !removed.some((other) => sameValue(other, value)));
  if (remaining.length === noted.length) return;
  await deps.registry.update(certificateId, { publishedTxt: remaining.length > 0 ? remaining : null });
}

/**
 * Removes `values` from Route 53: one change batch per zone (and role), each record set under
 * its lease so that values of other certificates sharing it stay. Values already gone are fine.
 */
export async function removeTxtValues(
  values: readonly PublishedTxtValue[],
  holder: string,
  deps: Pick<StepDeps, 'dns' | 'leases' | 'clock' | 'log'>,
): Promise<void> {
  const byZone = new Map<string, { zoneId: string; roleArn?: string; values: PublishedTxtValue[] }>();
  for (const value of values) {
    const key = `${value.roleArn ?? ''}\n${value.zoneId}`;
    const group = byZone.get(key) ?? {
      zoneId: value.zoneId,
      ...(value.roleArn ? { roleArn: value.roleArn } : {}),
      values: [],
    };
    group.values.push(value);
    byZone.set(key, group);
  }
  for (const { zoneId, roleArn, values: zoneValues } of [...byZone.values()].sort((a, b) =>
    a.zoneId.localeCompare(b.zoneId),
  )) {
    for (const { records } of planTxtChanges(zoneValues)) {
      await withRecordSetLeases(
        zoneId,
        records.map((record) => record.name),
        holder,
        () => deps.dns.removeTxt(zoneId, records, roleArn),
        deps,
      );
      deps.log.info('Removed TXT records', { zoneId, records: records.map((record) => record.name) });
    }
  }
}

function sameValue(a: PublishedTxtValue, b: PublishedTxtValue): boolean {
  return (
    a.zoneId === b.zoneId &&
    a.recordName.toLowerCase() === b.recordName.toLowerCase() &&
    a.value === b.value &&
    (a.roleArn ?? '') === (b.roleArn ?? '')
  );
}
