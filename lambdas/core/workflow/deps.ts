import { AcmeClient } from '../acme/client.js';
import type {
  CertificateDeliveries,
  CertificateImporters,
  CertificateKeySigners,
  CertificateRegistry,
  CertificateStore,
  Clock,
  DnsResolver,
  DnsZones,
  EventPublisher,
  ExternalAccountBindingSource,
  HttpTransport,
  RecordSetLeases,
  Signer,
  WorkflowMetrics,
} from '../ports.js';
import type { IssuanceState } from '../state.js';

/** Structured logging as the steps need it; attributes never carry secrets. */
export interface WorkflowLogger {
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
}

import type { WorkflowConfig } from './workflow-config.js';

export type { WorkflowConfig };

/** Everything a step may use; each step takes only the ports it needs. */
export interface StepDeps {
  readonly transport: HttpTransport;
  readonly signer: Signer;
  /**
   * The account key of the previous `accountKeyGeneration`, present only while a rollover to
   * `signer`'s key may be pending: it signs the outer JWS of `keyChange`.
   */
  readonly previousSigner?: Signer;
  /** Certificate keys held in KMS, for certificates declared with a KMS key. */
  readonly certificateKeys: CertificateKeySigners;
  readonly store: CertificateStore;
  readonly dns: DnsZones;
  /** Serialize changes to shared `_acme-challenge` record sets across concurrent executions. */
  readonly leases: RecordSetLeases;
  /** DNS lookups outside AWS: CNAME delegation and the authoritative-server check. */
  readonly resolver: DnsResolver;
  readonly importers: CertificateImporters;
  readonly events: EventPublisher;
  readonly deliveries: CertificateDeliveries;
  readonly metrics: WorkflowMetrics;
  readonly registry: CertificateRegistry;
  readonly clock: Clock;
  readonly config: WorkflowConfig;
  readonly log: WorkflowLogger;
  /** Where the CA's external account binding credentials are read from; absent when none are configured. */
  readonly externalAccountBinding?: ExternalAccountBindingSource;
  /**
   * With a list of CAs: each CA's binding credentials by directory URL (none for a CA without).
   * When present, it replaces `externalAccountBinding`.
   */
  readonly externalAccountBindingFor?: (directoryUrl: string) => ExternalAccountBindingSource | undefined;
}

/** An ACME client resuming where the previous step stopped: same directory, account and nonce. */
export function resumeAcmeClient(
  state: IssuanceState,
  deps: Pick<StepDeps, 'transport' | 'signer'>,
): AcmeClient {
  return new AcmeClient({
    directoryUrl: state.directoryUrl,
    transport: deps.transport,
    signer: deps.signer,
    ...(state.directory ? { directory: state.directory } : {}),
    ...(state.accountUrl ? { accountUrl: state.accountUrl } : {}),
    ...(state.nonce ? { nonce: state.nonce } : {}),
  });
}

/** The state fields every step refreshes after talking to the CA. */
export function carryNonce(client: AcmeClient): { nonce?: string } {
  const nonce = client.nonce;
  return nonce ? { nonce } : {};
}
