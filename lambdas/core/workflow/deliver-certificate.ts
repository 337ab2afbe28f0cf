import { splitPemChain } from '../crypto/pem.js';
import { parameterParts, secretRequestToken, secretValue } from '../delivery/delivery-parts.js';
import type { DeliveredTarget, DeliveryTargets } from '../ports.js';
import type { IssuanceState } from '../state.js';
import type { StepDeps } from './deps.js';

/** The event DeliverCertificate puts once per target written. */
export const EVENT_DELIVERED = 'Certificate Delivered';

/**
 * DeliverCertificate: writes the certificate ImportToAcm just imported (or published, for a key
 * held in KMS) to the delivery targets the construct declared for it: a new version of its
 * Secrets Manager secret, and its SecureString parameters. Then it records the delivery and puts
 * one `Certificate Delivered` event per target, carrying names, versions, the serial and
 * `notAfter`, never key material, for the rules that reload workloads.
 *
 * Guarantees: the certificate comes from the certificate store, so a failed delivery is retried
 * by the next run without a new order (the record stays "not delivered", which the planner reads
 * as due); every part is measured against its service's limit before the first write; a retry of
 * the same certificate adds no secret version (the request token is the certificate's); a
 * KMS-held key's certificate delivers its chain only, as there is no key to deliver.
 */
export async function deliverCertificate(
  state: IssuanceState,
  deps: Pick<StepDeps, 'store' | 'registry' | 'deliveries' | 'events' | 'clock' | 'log'>,
): Promise<IssuanceState> {
  if (!state.certificate) throw new Error('The state has no certificate: WaitForCertificate must run first.');
  const record = await deps.registry.get(state.certificateId);
  const targets: DeliveryTargets | undefined = record?.config?.delivery;
  const issued = record?.issued;
  if (!targets || (!targets.secretArn && !targets.parameterPath)) {
    deps.log.info('No delivery targets are declared for this certificate', {});
    return { ...state, delivered: [] };
  }
  if (issued?.serial !== state.certificate.serial) {
    throw new Error(`The registry does not record certificate ${state.certificate.serial} as issued.`);
  }
  const prefix = state.certificate.storeKey;
  const [fullchainPem, privateKeyPem] = await Promise.all([
    deps.store.get(`${prefix}/fullchain.pem`),
    state.kmsKeyArn ? Promise.resolve(undefined) : deps.store.get(`${prefix}/privkey.pem`),
  ]);
  if (!fullchainPem || (!state.kmsKeyArn && !privateKeyPem)) {
    throw new Error(`The certificate store has no complete certificate under ${prefix}.`);
  }
  const { leafPem, chainPem } = splitPemChain(fullchainPem);
  const certificate = {
    certificateId: state.certificateId,
    certificatePem: leafPem,
    chainPem,
    ...(privateKeyPem ? { privateKeyPem } : {}),
    serial: state.certificate.serial,
    notAfter: state.certificate.notAfter,
    names: state.domains,
  };
  // Everything is built and measured before the first write.
  const secret = targets.secretArn ? secretValue(certificate) : undefined;
  const parameters = targets.parameterPath
    ? parameterParts(certificate, targets.parameterPath, targets.parameterTier ?? 'Standard')
    : [];

  const delivered: DeliveredTarget[] = [];
  if (targets.secretArn && secret !== undefined) {
    const { versionId } = await deps.deliveries.putSecretVersion({
      secretArn: targets.secretArn,
      value: secret,
      requestToken: secretRequestToken(state.certificateId, certificate.serial),
    });
    delivered.push({ target: 'secretsmanager', name: targets.secretArn, version: versionId });
    deps.log.info('Delivered to Secrets Manager', { secretArn: targets.secretArn, versionId });
  }
  for (const parameter of parameters) {
    const { version } = await deps.deliveries.putParameter({
      name: parameter.name,
      value: parameter.value,
      ...(targets.parameterKeyArn ? { keyArn: targets.parameterKeyArn } : {}),
      tier: targets.parameterTier ?? 'Standard',
    });
    delivered.push({ target: 'ssm', name: parameter.name, version: String(version) });
    deps.log.info('Delivered to Parameter Store', { parameter: parameter.name, version });
  }

  await deps.registry.update(state.certificateId, {
    issued: { ...issued, delivered: { at: deps.clock.now().toISOString(), targets: delivered } },
  });
  for (const target of delivered) {
    await deps.events.publish({
      detailType: EVENT_DELIVERED,
      detail: {
        certificateId: state.certificateId,
        target: target.target,
        ...(target.target === 'secretsmanager' ? { secretArn: target.name } : { parameterName: target.name }),
        version: target.version,
        serial: certificate.serial,
        notAfter: certificate.notAfter,
        ...(state.execution ? { executionId: state.execution.id } : {}),
      },
    });
  }
  return { ...state, delivered };
}
