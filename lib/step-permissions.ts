import { Annotations, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { IConstruct } from 'constructs';
import type { AccountKeys } from './account-keys.js';
import type { CertificateDelivery } from './certificate-delivery.js';
import type { CertificateStore, StoreAccess } from './certificate-store.js';
import { acknowledgeWildcard, roleOf } from './nag.js';
import type { StepName } from './steps.js';

/** The tag key that marks ACM certificates this construct may re-import into. */
export const MANAGED_BY_TAG = 'acme-aws:managed-by';

/** The steps that send JWS to the CA, and so the only roles that may use the account key. */
export const SIGNING_STEPS: readonly StepName[] = [
  'ManageAccount',
  'RegisterAccount',
  'RevokeCertificate',
  'CreateOrder',
  'AnswerChallenges',
  'WaitForAuthorizations',
  'Finalize',
  'WaitForCertificate',
];

/** The steps that may roll the account over, and so the only roles that may use the previous account key. */
export const ROLLOVER_STEPS: readonly StepName[] = ['ManageAccount', 'RegisterAccount'];

/**
 * Who reads and writes which prefix of the certificate store. The store key's policy is derived
 * from it: readers get `kms:Decrypt`, writers `kms:GenerateDataKey`, nobody else either.
 */
export const STORE_ACCESS: readonly {
  readonly step: StepName;
  readonly prefix: string;
  readonly access: readonly StoreAccess[];
}[] = [
  { step: 'Finalize', prefix: 'orders/*', access: ['read', 'write'] },
  { step: 'WaitForCertificate', prefix: 'orders/*', access: ['read'] },
  { step: 'WaitForCertificate', prefix: 'certificates/*', access: ['write'] },
  { step: 'ImportToAcm', prefix: 'certificates/*', access: ['read'] },
  { step: 'DeliverCertificate', prefix: 'certificates/*', access: ['read'] },
  { step: 'RevokeCertificate', prefix: 'certificates/*', access: ['read'] },
];

/** The functions the per-step table covers: the state machine's steps, and the two outside it. */
export type PermittedFunction = StepName | 'CleanupEndedExecution' | 'PlanRenewals';

/** What one function may do besides the account key (`SIGNING_STEPS`) and the store (`STORE_ACCESS`). */
export interface StepAccess {
  /**
   * DynamoDB actions on the registry.
   * @default none
   */
  readonly registry?: readonly string[];
  /**
   * `ChangeResourceRecordSets` actions on `_acme-challenge` TXT records of the challenge zones,
   * with `ListResourceRecordSets` there; also TXT at any name in the validation zones.
   * @default none
   */
  readonly txtChanges?: readonly ('UPSERT' | 'DELETE')[];
  /**
   * `route53:ListHostedZones`, to match names to zones.
   * @default false
   */
  readonly listHostedZones?: boolean;
  /**
   * `route53:GetChange`, to wait for a change to reach every server.
   * @default false
   */
  readonly getChange?: boolean;
  /**
   * `sts:AssumeRole` on the roles holding zones in other accounts (`zoneRoleArns`).
   * @default false
   */
  readonly assumeZoneRoles?: boolean;
  /**
   * `events:PutEvents` on the default bus.
   * @default false
   */
  readonly putEvents?: boolean;
  /**
   * Imports into ACM: new certificates with our tag, and re-imports into certificates that carry it.
   * @default false
   */
  readonly importToAcm?: boolean;
  /**
   * Writes the declared deliveries: `secretsmanager:PutSecretValue` on exactly the declared
   * secrets, `ssm:PutParameter` under exactly the declared parameter paths, and the delivery key
   * through those two services only (`CertificateDelivery.grantDelivery`).
   * @default false
   */
  readonly deliver?: boolean;
}

const GET = 'dynamodb:GetItem';
const PUT = 'dynamodb:PutItem';
const UPDATE = 'dynamodb:UpdateItem';
const DELETE = 'dynamodb:DeleteItem';
/** Cleanup, and the same after an execution that ended without it: removes TXT values, records outcomes. */
const CLEANER: StepAccess = {
  registry: [GET, UPDATE, DELETE],
  txtChanges: ['UPSERT', 'DELETE'],
  assumeZoneRoles: true,
  putEvents: true,
};

/**
 * Each function's permissions, as data: the grants are derived from it, so a step's rights are read
 * in one place. PublishChallenges and the cleaners take and give back record-set leases (`LEASE#`
 * items, conditional UpdateItem and DeleteItem), which serialize changes to a shared
 * `_acme-challenge` record set; PublishChallenges also reads the certificate's record to note the
 * values it is about to write.
 */
export const STEP_ACCESS: Readonly<Record<PermittedFunction, StepAccess>> = {
  ManageAccount: { registry: [GET, PUT], putEvents: true },
  RegisterAccount: { registry: [GET, PUT, UPDATE] },
  RevokeCertificate: { registry: [UPDATE] },
  CreateOrder: { registry: [GET, UPDATE], listHostedZones: true, assumeZoneRoles: true },
  PublishChallenges: { registry: [GET, UPDATE, DELETE], txtChanges: ['UPSERT'], assumeZoneRoles: true },
  WaitForDnsSync: { getChange: true, assumeZoneRoles: true },
  AnswerChallenges: {},
  WaitForAuthorizations: {},
  Finalize: { registry: [UPDATE] },
  WaitForCertificate: { registry: [UPDATE] },
  ImportToAcm: { registry: [GET, UPDATE], importToAcm: true },
  DeliverCertificate: { registry: [GET, UPDATE], putEvents: true, deliver: true },
  Cleanup: CLEANER,
  CleanupEndedExecution: CLEANER,
  PlanRenewals: { registry: ['dynamodb:Scan', UPDATE] },
};

/** What `grantStepPermissions` applies the tables to. */
export interface StepPermissionsProps {
  /** Every function of `STEP_ACCESS`. */
  readonly functions: Readonly<Record<PermittedFunction, lambda.Function>>;
  /** Signing steps get the account key; rollover steps also the previous one. */
  readonly keys: AccountKeys;
  /** The certificate store and the registry. */
  readonly store: CertificateStore;
  /** The value of `MANAGED_BY_TAG` on this construct's ACM certificates. */
  readonly managedByTag: string;
  /**
   * Zones that may hold `_acme-challenge` TXT records.
   * @default every hosted zone of the account, with a synth warning
   */
  readonly hostedZoneIds?: readonly string[];
  /**
   * Validation zones (CNAME targets), where TXT records may go at any name.
   * @default none
   */
  readonly validationZoneIds?: readonly string[];
  /**
   * Roles in other accounts holding zones.
   * @default none
   */
  readonly zoneRoleArns?: readonly string[];
  /**
   * The external account binding secret, which only RegisterAccount may read.
   * @default none
   */
  readonly externalAccountBindingSecret?: secretsmanager.ISecret;
  /**
   * The CAs, most preferred first, each with its binding secret, which only RegisterAccount may
   * read; the list goes to RegisterAccount and the planner.
   * @default the deployment's one CA
   */
  readonly certificateAuthorities?: readonly {
    readonly directoryUrl: string;
    readonly profile?: string;
    readonly externalAccountBindingSecret?: secretsmanager.ISecret;
  }[];
  /** The delivery targets, which only the `deliver` functions may write. */
  readonly delivery: CertificateDelivery;
  /**
   * The `_validation-persist` names of the certificates declared with `challenge: 'dns-persist-01'`:
   * PublishChallenges alone may create them (UPSERT), at exactly these names.
   * @default none
   */
  readonly persistRecordNames?: readonly string[];
  /**
   * The names of the certificates declared with `pinCaa`: PublishChallenges alone may set their
   * CAA record sets (UPSERT), at exactly these names.
   * @default none
   */
  readonly caaPinNames?: readonly string[];
  /**
   * Whether any certificate may use dns-01: `false` when every declared certificate uses
   * dns-persist-01, and then no step may write `_acme-challenge` records (nor validation zones).
   * @default true
   */
  readonly dns01?: boolean;
}

/**
 * Past this many characters, the names go to CreateOrder and into the policy as the one pattern
 * `_validation-persist.*`: Lambda's environment holds 4 KB in all, and a role's inline policies
 * 10,240 characters.
 */
const MAX_PERSIST_NAMES_LENGTH = 1_500;
/** The pattern that stands for every persistent record name when there are too many to list. */
export const ANY_PERSIST_RECORD = '_validation-persist.*';

/**
 * Grants every function what `SIGNING_STEPS`, `ROLLOVER_STEPS`, `STORE_ACCESS` and `STEP_ACCESS`
 * say, and tells the steps (through their environment) the limits IAM will enforce, so they can
 * refuse a request before the CA is involved. `scope` carries the synth warnings.
 */
export function grantStepPermissions(scope: IConstruct, props: StepPermissionsProps): void {
  const fns = props.functions;
  const entries = Object.entries(STEP_ACCESS) as [PermittedFunction, StepAccess][];
  const having = (feature: keyof StepAccess) =>
    entries.filter(([, access]) => access[feature]).map(([name, access]) => ({ fn: fns[name], access }));

  for (const step of SIGNING_STEPS) props.keys.grantSigning(fns[step]);
  for (const { fn, access } of having('registry')) props.store.grantRegistry(fn, ...(access.registry ?? []));
  for (const { step, prefix, access } of STORE_ACCESS) {
    props.store.grantObjects(fns[step], prefix, access);
    props.store.acknowledgeObjects(roleOf(fns[step]), prefix);
  }

  const stack = Stack.of(scope);
  // Route 53 is global: its ARNs have no region and no account.
  const route53Arn = (resource: string, resourceName: string) =>
    stack.formatArn({ service: 'route53', region: '', account: '', resource, resourceName });
  const zoneArn = (zoneId: string) => route53Arn('hostedzone', bareZoneId(zoneId));
  for (const { fn } of having('listHostedZones')) {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['route53:ListHostedZones'], resources: ['*'] }));
    acknowledgeWildcard(
      roleOf(fn),
      '*',
      'route53:ListHostedZones (to match names to zones) supports no resource-level permissions; it reads zone names only.',
    );
  }
  const hostedZoneIds = props.hostedZoneIds ?? [];
  const dns01 = props.dns01 ?? true;
  if (!dns01) {
    // CreateOrder refuses, before ordering, whatever would need a dns-01 record.
    fns.CreateOrder.addEnvironment('DNS01_WRITES', 'none');
  }
  if (hostedZoneIds.length > 0) {
    // CreateOrder refuses a name whose record would go in any other zone before ordering, since
    // IAM would deny PublishChallenges.
    fns.CreateOrder.addEnvironment('HOSTED_ZONE_IDS', hostedZoneIds.map(bareZoneId).join(','));
  } else if (dns01 || (props.persistRecordNames ?? []).length > 0) {
    Annotations.of(scope).addWarningV2(
      'acme-aws:hostedZoneIds',
      `No hostedZoneIds given: the workflow may write ${dns01 ? '_acme-challenge' : 'the declared _validation-persist'} TXT records in every hosted zone of the account. Set hostedZoneIds to limit it.`,
    );
  }
  const challengeZones = hostedZoneIds.length > 0 ? hostedZoneIds.map(zoneArn) : [zoneArn('*')];
  if (dns01) grantTxtChanges(having('txtChanges'), challengeZones, ['_acme-challenge.*']);
  const persistRecordNames = [...new Set(props.persistRecordNames ?? [])].sort();
  if (persistRecordNames.length > 0) {
    const listed = persistRecordNames.join(',');
    const granted = listed.length <= MAX_PERSIST_NAMES_LENGTH ? persistRecordNames : [ANY_PERSIST_RECORD];
    grantTxtChanges(
      [{ fn: fns.PublishChallenges, access: { txtChanges: ['UPSERT'] } }],
      challengeZones,
      granted,
    );
    // CreateOrder answers dns-01 for a name whose record IAM would not let PublishChallenges write.
    fns.CreateOrder.addEnvironment('PERSIST_RECORD_NAMES', granted.join(','));
  }
  const caaPinNames = [...new Set(props.caaPinNames ?? [])].sort();
  if (caaPinNames.length > 0) {
    fns.PublishChallenges.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['route53:ListResourceRecordSets'], resources: challengeZones }),
    );
    fns.PublishChallenges.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['route53:ChangeResourceRecordSets'],
        resources: challengeZones,
        conditions: {
          'ForAllValues:StringEquals': {
            'route53:ChangeResourceRecordSetsRecordTypes': ['CAA'],
            'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
            'route53:ChangeResourceRecordSetsNormalizedRecordNames': caaPinNames,
          },
        },
      }),
    );
    // CreateOrder refuses, before ordering, a pin at any other name.
    fns.CreateOrder.addEnvironment('CAA_PIN_NAMES', caaPinNames.join(','));
  }
  const changes = route53Arn('change', '*');
  for (const { fn } of having('getChange')) {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['route53:GetChange'], resources: [changes] }));
    acknowledgeWildcard(
      roleOf(fn),
      changes,
      'route53:GetChange (read-only) on change ids, which Route 53 assigns per ChangeResourceRecordSets call at run time.',
    );
  }

  const putEvents = new iam.PolicyStatement({
    actions: ['events:PutEvents'],
    resources: [stack.formatArn({ service: 'events', resource: 'event-bus', resourceName: 'default' })],
  });
  for (const { fn } of having('putEvents')) fn.addToRolePolicy(putEvents);
  for (const { fn } of having('importToAcm')) grantAcmImport(fn, props.managedByTag);
  for (const { fn } of having('deliver')) props.delivery.grantDelivery(fn);

  const validationZoneIds = props.validationZoneIds ?? [];
  if (dns01 && validationZoneIds.length > 0) {
    // TXT at any name, since that is what validation zones are for.
    grantTxtChanges(having('txtChanges'), validationZoneIds.map(zoneArn));
    // CreateOrder plans the records: it refuses a CNAME target outside `_acme-challenge.*` in
    // any other zone of this account before ordering, since IAM would deny PublishChallenges.
    fns.CreateOrder.addEnvironment('VALIDATION_ZONE_IDS', validationZoneIds.map(bareZoneId).join(','));
  }
  const zoneRoleArns = props.zoneRoleArns ?? [];
  if (zoneRoleArns.length > 0) {
    for (const { fn } of having('assumeZoneRoles')) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: [...zoneRoleArns] }),
      );
    }
  }

  const previous = props.keys.previousAccountKey;
  if (previous) {
    for (const step of ROLLOVER_STEPS) {
      fns[step].addEnvironment('PREVIOUS_ACCOUNT_KEY_ID', previous.keyId);
      props.keys.grantSigning(fns[step], 'previous');
    }
  }
  const authorities = props.certificateAuthorities ?? [];
  if (authorities.length > 0) {
    const list = JSON.stringify(
      authorities.map(({ directoryUrl, profile, externalAccountBindingSecret }) => ({
        directoryUrl,
        ...(profile !== undefined ? { profile } : {}),
        ...(externalAccountBindingSecret ? { eabSecretArn: externalAccountBindingSecret.secretArn } : {}),
      })),
    );
    for (const fn of [fns.RegisterAccount, fns.PlanRenewals])
      fn.addEnvironment('ACME_CERTIFICATE_AUTHORITIES', list);
    for (const { externalAccountBindingSecret } of authorities)
      externalAccountBindingSecret?.grantRead(fns.RegisterAccount);
  }
  const secret = props.externalAccountBindingSecret;
  if (secret) {
    fns.RegisterAccount.addEnvironment('EAB_SECRET_ARN', secret.secretArn);
    secret.grantRead(fns.RegisterAccount);
  }
}

/**
 * Lets each function list the record sets of `zones` and change TXT records there with its
 * `txtChanges` actions; with `recordNames`, only at those (normalized) names.
 */
function grantTxtChanges(
  writers: readonly { readonly fn: lambda.Function; readonly access: StepAccess }[],
  zones: string[],
  recordNames?: readonly string[],
): void {
  const list = new iam.PolicyStatement({ actions: ['route53:ListResourceRecordSets'], resources: zones });
  for (const { fn, access } of writers) {
    fn.addToRolePolicy(list);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['route53:ChangeResourceRecordSets'],
        resources: zones,
        conditions: {
          'ForAllValues:StringEquals': {
            'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'],
            'route53:ChangeResourceRecordSetsActions': [...(access.txtChanges ?? [])],
          },
          ...(recordNames
            ? {
                'ForAllValues:StringLike': {
                  'route53:ChangeResourceRecordSetsNormalizedRecordNames': [...recordNames],
                },
              }
            : {}),
        },
      }),
    );
  }
}

/** Imports into ACM, limited by the managed-by tag: on the request for a new certificate, on the resource for a re-import. */
function grantAcmImport(fn: lambda.Function, managedByTag: string): void {
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      sid: 'ImportNewTaggedCertificates',
      actions: ['acm:ImportCertificate', 'acm:AddTagsToCertificate'],
      resources: ['*'],
      conditions: { StringEquals: { [`aws:RequestTag/${MANAGED_BY_TAG}`]: managedByTag } },
    }),
  );
  acknowledgeWildcard(
    roleOf(fn),
    '*',
    `A first acm:ImportCertificate has no certificate ARN yet; the statement only allows it with the request tag ${MANAGED_BY_TAG} set to this construct's id.`,
  );
  // Any region: a certificate may be imported into several (us-east-1 for CloudFront, and the
  // application's region), each re-import still limited to certificates carrying our tag.
  const ownCertificates = Stack.of(fn).formatArn({
    service: 'acm',
    region: '*',
    resource: 'certificate',
    resourceName: '*',
  });
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      sid: 'ReimportOwnCertificates',
      // DescribeCertificate: the Key Usages of the imported certificate, which a re-import may not drop.
      actions: ['acm:ImportCertificate', 'acm:AddTagsToCertificate', 'acm:DescribeCertificate'],
      resources: [ownCertificates],
      conditions: { StringEquals: { [`aws:ResourceTag/${MANAGED_BY_TAG}`]: managedByTag } },
    }),
  );
  acknowledgeWildcard(
    roleOf(fn),
    ownCertificates,
    `Re-import into certificates of this account (in any target region) only when they carry the tag ${MANAGED_BY_TAG} with this construct's id.`,
  );
}

/** A hosted zone id without the `/hostedzone/` that Route 53 APIs sometimes prefix it with. */
function bareZoneId(zoneId: string): string {
  return zoneId.replace(/^\/?hostedzone\//, '');
}
