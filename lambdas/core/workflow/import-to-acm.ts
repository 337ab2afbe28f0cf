import { splitPemChain } from '../crypto/pem.js';
import type { CertificateRecord, IssuedCertificateRecord } from '../ports.js';
import { configurationFingerprint } from '../renewal/due.js';
import type { IssuanceState } from '../state.js';
import type { StepDeps } from './deps.js';

/** The tag key the IAM policy keys re-imports on; keep in step with `lib/acme-certificates.ts`. */
export const MANAGED_BY_TAG = 'acme-aws:managed-by';
export const CERTIFICATE_ID_TAG = 'acme-aws:certificate-id';

/**
 * ImportToAcm: imports the stored chain and key into every target region, re-importing into the
 * ARN recorded for that region so load balancers, distributions and APIs pick up the renewal in
 * place. ACM cannot re-import a certificate with a different key type, so after a key type change
 * each region gets a new ARN. Nor can it re-import one that drops a Key Usage or Extended Key
 * Usage value of the certificate it replaces (an RSA certificate moved to an ACME profile without
 * keyEncipherment): the importer reads the certificate at the ARN first and imports such a one as
 * new. Either way the record and the outcome event name the new ARN and why. A certificate whose
 * key is a KMS key is not imported: it stays in the certificate store, recorded as `published`.
 */
export async function importToAcm(
  state: IssuanceState,
  deps: Pick<StepDeps, 'store' | 'importers' | 'registry' | 'clock' | 'config' | 'log'>,
): Promise<IssuanceState> {
  if (!state.certificate) throw new Error('The state has no certificate: WaitForCertificate must run first.');
  if (state.kmsKeyArn) return publishWithKmsKey(state, state.certificate, deps);
  const prefix = state.certificate.storeKey;
  const [fullchainPem, privateKeyPem, record] = await Promise.all([
    deps.store.get(`${prefix}/fullchain.pem`),
    deps.store.get(`${prefix}/privkey.pem`),
    deps.registry.get(state.certificateId),
  ]);
  if (!fullchainPem || !privateKeyPem)
    throw new Error(`The certificate store has no complete certificate under ${prefix}.`);
  const { leafPem, chainPem } = splitPemChain(fullchainPem);
  const importedKeyType = record?.importedKeyType;
  const keyTypeChanged = importedKeyType !== undefined && importedKeyType !== state.keyType;

  const arns: Record<string, string> = { ...(record?.acmArns ?? {}) };
  let arnReplaced: IssuanceState['arnReplaced'];
  for (const region of state.regions) {
    const previousArn = arns[region];
    const existingArn = keyTypeChanged ? undefined : previousArn;
    const { arn } = await deps.importers.forRegion(region).importCertificate({
      certificatePem: leafPem,
      chainPem,
      privateKeyPem,
      ...(existingArn ? { existingArn } : {}),
      tags: { [MANAGED_BY_TAG]: deps.config.managedByTag, [CERTIFICATE_ID_TAG]: state.certificateId },
    });
    const replaced = previousArn !== undefined && previousArn !== arn;
    if (replaced) {
      const why = keyTypeChanged
        ? `The key type changed from ${importedKeyType} to ${state.keyType}; ACM cannot re-import a different key type`
        : 'The Key Usage or Extended Key Usage of the new certificate differs from that of the one in ACM in a way ACM refuses on re-import (a value is missing, such as keyEncipherment, which ACME profiles like tlsserver and shortlived leave out of RSA certificates)';
      arnReplaced = {
        region,
        previousArn,
        reason: `${why}, so the certificate has a new ARN. Point its users (load balancers, distributions, APIs) at ${arn}.`,
      };
    }
    arns[region] = arn;
    // Recorded region by region, so a failure in a later region never loses an earlier ARN.
    await deps.registry.update(state.certificateId, { acmArns: arns });
    deps.log.info(previousArn === arn ? 'Re-imported into ACM' : 'Imported into ACM', {
      region,
      certificateArn: arn,
      ...(replaced ? { previousArn } : {}),
    });
  }
  const firstArn = arns[state.regions[0] ?? ''] ?? '';
  const renewal = earlierAttempt(state, record)?.renewal ?? Object.keys(record?.acmArns ?? {}).length > 0;
  await deps.registry.update(state.certificateId, {
    status: 'imported',
    importedKeyType: state.keyType,
    issued: {
      ...(record?.issued ?? { ...state.certificate, fingerprint: configurationFingerprint(state) }),
      importedArn: firstArn,
      ...deliveredBy(state, renewal, arnReplaced !== undefined),
    },
    ...(arnReplaced ? { arnReplaced } : {}),
  });
  return {
    ...state,
    ...deliverNext(record),
    certificateArn: firstArn,
    certificateArns: arns,
    renewal,
    ...(arnReplaced ? { arnReplaced } : {}),
  };
}

/**
 * The delivery mark of an earlier attempt of this step in the same execution (its Lambda crashed
 * after the import): what it announces stands, though the import it made now looks like a renewal.
 */
function earlierAttempt(
  state: IssuanceState,
  record: CertificateRecord | undefined,
): IssuedCertificateRecord['deliveredBy'] | undefined {
  const delivery = record?.issued?.deliveredBy;
  return state.execution && delivery?.executionId === state.execution.id ? delivery : undefined;
}

/**
 * The delivery mark Cleanup reads when a later failure (this Lambda crashing after the import,
 * say) loses the step's output: which execution delivered the certificate and what it announces.
 */
function deliveredBy(
  state: IssuanceState,
  renewal: boolean,
  arnReplaced: boolean,
): { deliveredBy?: NonNullable<IssuedCertificateRecord['deliveredBy']> } {
  const executionId = state.execution?.id;
  return executionId ? { deliveredBy: { executionId, renewal, arnReplaced } } : {};
}

/**
 * A certificate whose key is a KMS key cannot go to ACM, which imports only keys it can read: it
 * is published in the certificate store (where WaitForCertificate put it) and recorded as such.
 */
async function publishWithKmsKey(
  state: IssuanceState,
  certificate: NonNullable<IssuanceState['certificate']>,
  deps: Pick<StepDeps, 'registry' | 'clock' | 'log'>,
): Promise<IssuanceState> {
  const record = await deps.registry.get(state.certificateId);
  const issued = record?.issued;
  if (issued?.serial !== certificate.serial) {
    throw new Error(`The registry does not record certificate ${certificate.serial} as issued.`);
  }
  // Cleanup records the first success's renewal time, so a record that has one was issued before.
  const renewal = earlierAttempt(state, record)?.renewal ?? record?.nextRenewalAt !== undefined;
  await deps.registry.update(state.certificateId, {
    status: 'published',
    issued: {
      ...issued,
      publishedAt: deps.clock.now().toISOString(),
      ...deliveredBy(state, renewal, false),
    },
  });
  deps.log.info('Published the certificate to the certificate store; its key stays in KMS', {
    storeKey: certificate.storeKey,
    kmsKeyArn: state.kmsKeyArn,
  });
  return { ...state, ...deliverNext(record), certificateArns: {}, renewal };
}

/** Sends the run on to DeliverCertificate when the certificate has delivery targets. */
function deliverNext(record: CertificateRecord | undefined): { deliver?: true } {
  const targets = record?.config?.delivery;
  return targets?.secretArn || targets?.parameterPath ? { deliver: true } : {};
}
