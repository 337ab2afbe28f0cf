import { InvalidInputError } from '../errors.js';
import type { CertificateConfig, CertificateRegistry } from '../ports.js';
import type { WorkflowLogger } from '../workflow/deps.js';

/** A certificate declared in the CDK props, as the stack hands it to the registry. */
export interface DeclaredCertificate extends CertificateConfig {
  readonly id: string;
}

/**
 * Writes the declared certificates' configuration into the registry at deploy time. Only the
 * configuration changes: what was issued, the ACM ARNs and the renewal history stay, and the
 * planner compares the new configuration with what was issued to decide on a reissue. A
 * certificate removed from the props keeps its record (and its ACM certificate), because removing
 * a certificate that load balancers use is a decision for a person, not a deploy.
 */
export async function syncDeclaredCertificates(
  declared: unknown,
  deps: { readonly registry: Pick<CertificateRegistry, 'update'>; readonly log: WorkflowLogger },
): Promise<number> {
  if (!Array.isArray(declared)) {
    throw new InvalidInputError('The declared certificates must be a list; redeploy the stack.');
  }
  for (const certificate of declared as DeclaredCertificate[]) {
    if (typeof certificate?.id !== 'string' || !Array.isArray(certificate.domains)) {
      throw new InvalidInputError(
        `A declared certificate has no id or domains: ${JSON.stringify(certificate)}`,
      );
    }
    const { id, ...config } = certificate;
    await deps.registry.update(id, { config });
    deps.log.info('Declared certificate recorded', { certificateId: id, domains: config.domains });
  }
  return declared.length;
}
