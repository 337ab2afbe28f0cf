import { splitPemChain } from '../crypto/pem.js';
import type { IssuanceState } from '../state.js';
import { orderFingerprint, type StepDeps } from './deps.js';

/** The tag key the IAM policy keys re-imports on; keep in step with `lib/acme-certificates.ts`. */
export const MANAGED_BY_TAG = 'acme-aws:managed-by';
export const CERTIFICATE_ID_TAG = 'acme-aws:certificate-id';

/**
 * ImportToAcm: imports the stored chain and key, re-importing into the ARN recorded for this
 * certificate id so that load balancers and distributions pick up the renewal in place.
 */
export async function importToAcm(
  state: IssuanceState,
  deps: Pick<StepDeps, 'store' | 'importer' | 'registry' | 'config' | 'log'>,
): Promise<IssuanceState> {
  if (!state.certificate) throw new Error('The state has no certificate: WaitForCertificate must run first.');
  const prefix = state.certificate.storeKey;
  const [fullchainPem, privateKeyPem, record] = await Promise.all([
    deps.store.get(`${prefix}/fullchain.pem`),
    deps.store.get(`${prefix}/privkey.pem`),
    deps.registry.get(state.certificateId),
  ]);
  if (!fullchainPem || !privateKeyPem)
    throw new Error(`The certificate store has no complete certificate under ${prefix}.`);
  const existingArn = record?.acmArn;
  const { leafPem, chainPem } = splitPemChain(fullchainPem);
  const { arn } = await deps.importer.importCertificate({
    certificatePem: leafPem,
    chainPem,
    privateKeyPem,
    ...(existingArn ? { existingArn } : {}),
    tags: { [MANAGED_BY_TAG]: deps.config.managedByTag, [CERTIFICATE_ID_TAG]: state.certificateId },
  });
  await deps.registry.update(state.certificateId, {
    status: 'imported',
    acmArn: arn,
    issued: {
      ...(record?.issued ?? { ...state.certificate, fingerprint: orderFingerprint(state) }),
      importedArn: arn,
    },
  });
  deps.log.info(existingArn ? 'Re-imported into ACM' : 'Imported into ACM', { certificateArn: arn });
  return { ...state, certificateArn: arn };
}
