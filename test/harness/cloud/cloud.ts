import { randomBytes, randomUUID } from 'node:crypto';
import { awsError, type ServiceExceptionClass } from '../../fakes/fake-support.js';
import type { FakeKeySpec } from '../../fakes/kms-fake.js';
import {
  activeSecretsManagerFake,
  installSecretsManagerFake,
  type SecretsManagerFake,
} from '../../fakes/secrets-manager-fake.js';
import { activeSsmFake, installSsmFake, type SsmFake } from '../../fakes/ssm-fake.js';
import type { StsFake } from '../../fakes/sts-fake.js';
import type { SdkCall } from '../lambda/protocol.js';
import { type LocalFunction, LocalLambdaService } from '../lambda/service.js';
import type { LocalAws } from '../local-issuance.js';
import type { CfnResource, SynthesizedStack } from './assembly.js';
import { LOCAL_ACCOUNT, LOCAL_PARTITION, LOCAL_REGION } from './constants.js';
import { ResponseUrls } from './custom-resources.js';
import { type EventEnvelope, matchesPattern } from './event-rules.js';
import { type AuthorizationDecision, type CallerIdentity, LocalIam, type PolicyDocument } from './iam.js';
import { type ResolutionContext, resolveIntrinsics } from './intrinsics.js';
import { type RequiredAuthorization, type ResourceDirectory, requiredAuthorizations } from './requests.js';
import { LocalStepFunctions } from './step-functions.js';

/**
 * A local AWS account for the synthesized stack, as `cdk deploy` would create it: the template's
 * resources become resources of the AWS fakes (KMS keys, the bucket, the table), its roles and
 * policies become the IAM that every call is authorized against, its functions run their bundled
 * assets in the local Lambda, and its custom resources are invoked as CloudFormation invokes them.
 *
 * Every AWS call a function makes is authorized first (`LocalIam`, from the template's identity
 * and resource policies and the request's condition keys), and a denied call fails with the
 * error that service returns; only then does the fake serve it.
 *
 * Deploying again updates the stack in place: resources keep their physical ids, changed
 * functions get fresh execution environments, removed functions disappear and retained keys stay.
 */

/** Lambda's quota on a function's environment variables: 4 KB in all (keys and values). */
export const MAX_ENVIRONMENT_BYTES = 4 * 1024;

/** A deployed resource: its physical id (what `Ref` returns) and attributes (what `Fn::GetAtt` returns). */
interface PhysicalResource {
  readonly type: string;
  ref: string;
  readonly attributes: Record<string, string>;
  /** The resolved properties a custom resource was last created or updated with. */
  customProperties?: string;
}

/** A state machine of a deployed stack, its definition resolved. */
export interface DeployedStateMachine {
  readonly logicalId: string;
  readonly arn: string;
  readonly name: string;
  readonly roleArn: string;
  readonly definition: Record<string, unknown> & { States: Record<string, Record<string, unknown>> };
}

export class DeploymentError extends Error {
  override readonly name = 'DeploymentError';
}

export class DeployedStack {
  readonly stackName: string;
  readonly stackId: string;
  readonly synthesized: SynthesizedStack;
  readonly #resources: Map<string, PhysicalResource>;

  constructor(synthesized: SynthesizedStack, stackId: string, resources: Map<string, PhysicalResource>) {
    this.synthesized = synthesized;
    this.stackName = synthesized.stackName;
    this.stackId = stackId;
    this.#resources = resources;
  }

  get template() {
    return this.synthesized.template;
  }

  /** Evaluates intrinsic functions over this stack's physical ids. */
  resolve<T = unknown>(value: unknown): T {
    return resolveIntrinsics(value, this.#context()) as T;
  }

  #context(): ResolutionContext {
    const physical = (logicalId: string) => {
      const resource = this.#resources.get(logicalId);
      if (!resource)
        throw new DeploymentError(`Unresolved reference to ${logicalId}: no such resource in the stack`);
      return resource;
    };
    return {
      stackName: this.stackName,
      stackId: this.stackId,
      ref: (logicalId) => physical(logicalId).ref,
      getAtt: (logicalId, attribute) => {
        const value = physical(logicalId).attributes[attribute];
        if (value === undefined)
          throw new DeploymentError(`${logicalId} has no attribute ${attribute} in the local cloud`);
        return value;
      },
      condition: (name) => Boolean(this.resolve(this.template.Conditions?.[name])),
    };
  }

  /** The logical ids of the resources of one type, in template order. */
  logicalIdsOf(type: string): string[] {
    return Object.entries(this.template.Resources)
      .filter(([, resource]) => resource.Type === type)
      .map(([logicalId]) => logicalId);
  }

  /** The physical id of a resource. */
  ref(logicalId: string): string {
    const resource = this.#resources.get(logicalId);
    if (!resource) throw new Error(`No resource ${logicalId} in ${this.stackName}`);
    return resource.ref;
  }

  /** The stack's outputs, resolved. */
  get outputs(): Record<string, string> {
    return Object.fromEntries(
      Object.entries(this.template.Outputs ?? {}).map(([name, output]) => [
        name,
        String(this.resolve(output.Value)),
      ]),
    );
  }

  /** The one state machine whose logical id contains `name` (`Issuance`, `Renewals`). */
  stateMachine(name: string): DeployedStateMachine {
    const matches = this.logicalIdsOf('AWS::StepFunctions::StateMachine').filter((id) => id.includes(name));
    if (matches.length !== 1)
      throw new Error(`Expected one state machine named like ${name}, found ${matches.length}`);
    const logicalId = matches[0] as string;
    const properties = this.template.Resources[logicalId]?.Properties ?? {};
    const substitutions =
      this.resolve<Record<string, string> | undefined>(properties.DefinitionSubstitutions) ?? {};
    let definition = String(this.resolve(properties.DefinitionString));
    for (const [key, value] of Object.entries(substitutions))
      definition = definition.replaceAll(`\${${key}}`, value);
    return {
      logicalId,
      arn: this.ref(logicalId),
      name: this.#resources.get(logicalId)?.attributes.Name ?? logicalId,
      roleArn: String(this.resolve(properties.RoleArn)),
      definition: JSON.parse(definition),
    };
  }

  /** A function's environment variables as deployed, by the step folder in its `ACME_STEP` or its logical id. */
  environmentOf(stepOrLogicalId: string): Record<string, string> {
    for (const logicalId of this.logicalIdsOf('AWS::Lambda::Function')) {
      const variables =
        this.resolve<{ Variables?: Record<string, string> } | undefined>(
          this.template.Resources[logicalId]?.Properties?.Environment,
        )?.Variables ?? {};
      if (logicalId === stepOrLogicalId || variables.ACME_STEP === stepOrLogicalId) return variables;
    }
    throw new Error(`No function ${stepOrLogicalId} in ${this.stackName}`);
  }

  /** The registry table's name. */
  get registryTable(): string {
    return this.ref(this.#single('AWS::DynamoDB::Table'));
  }

  /** The certificate store bucket's name. */
  get certificateBucket(): string {
    const store = this.logicalIdsOf('AWS::S3::Bucket').find((id) => id.includes('CertificateStore'));
    if (!store) throw new Error('The stack has no certificate store');
    return this.ref(store);
  }

  #single(type: string): string {
    const [logicalId, ...rest] = this.logicalIdsOf(type);
    if (!logicalId || rest.length > 0) throw new Error(`Expected one ${type} in ${this.stackName}`);
    return logicalId;
  }
}

export interface LocalCloudOptions {
  /** The AWS fakes the cloud's resources live in. */
  readonly aws: LocalAws;
  /** STS, when a test reaches zones in other accounts through roles. */
  readonly sts?: StsFake;
  /** Environment the local network needs (the CA's bundle, DNS resolvers); not part of any function's configuration. */
  readonly networkEnvironment?: Readonly<Record<string, string>>;
  /** Each line a function writes. */
  readonly onLog?: (fn: LocalFunction, stream: 'stdout' | 'stderr', text: string) => void;
}

/** One HTTP request a function sent, and the status it got (0 when none arrived). */
export interface HttpExchange {
  readonly functionName: string;
  readonly method: string;
  readonly host: string;
  readonly path: string;
  status: number;
}

/** What became of one event at one rule target. */
export interface EventDelivery {
  readonly rule: string;
  readonly target: string;
  readonly event: EventEnvelope;
  /** `invoked` (the function returned), `failed` (it failed every attempt), `denied`, or `recorded` (not a function). */
  readonly outcome: 'invoked' | 'failed' | 'denied' | 'recorded';
  readonly detail?: string;
}

/** A line written by a function, as its log group received it. */
export interface LogLine {
  readonly logGroupName: string;
  readonly functionName: string;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

export class LocalCloud {
  readonly aws: LocalAws;
  readonly iam = new LocalIam();
  readonly lambda: LocalLambdaService;
  readonly stepFunctions: LocalStepFunctions = new LocalStepFunctions(this);
  /** Everything the functions wrote, in order (CloudWatch Logs). */
  readonly logs: LogLine[] = [];
  /** HTTP requests the functions sent outside AWS (to the CA), in order. */
  readonly httpRequests: HttpExchange[] = [];
  /** Events the stacks' EventBridge rules matched, and what each target made of them. */
  readonly eventDeliveries: EventDelivery[] = [];
  /**
   * Faults to inject into the functions' AWS calls (after authorization), at `rate` per call:
   * throttling, a server error, or a timeout after the service did the work. Off unless set.
   */
  awsFaults: { readonly rate: number; readonly random: () => number } | undefined;
  readonly faultsInjected: Partial<Record<AwsFaultKind, number>> = {};
  readonly faultLog: { readonly kind: AwsFaultKind; readonly call: string }[] = [];
  /** SDK calls that passed authorization and reached a fake. */
  authorizedCalls = 0;
  readonly #options: LocalCloudOptions;
  readonly #stacks = new Map<string, { resources: Map<string, PhysicalResource>; deployed: DeployedStack }>();
  readonly #credentials = new Map<string, CallerIdentity>();
  readonly #functionCredentials = new Map<
    string,
    { accessKeyId: string; secretAccessKey: string; sessionToken: string }
  >();
  readonly #kmsKeys = new Map<string, { arn: string; policy?: PolicyDocument }>();
  readonly #buckets = new Map<string, { policy?: PolicyDocument; kmsKeyArn?: string }>();
  readonly #clients = new Map<string, { send(command: unknown): Promise<unknown> }>();
  /** Fakes the cloud installed itself (and restores at shutdown), as opposed to a test's own. */
  readonly #ownedFakes: { restore(): void }[] = [];
  /** The SecretString each template secret was last deployed with, by ARN. */
  readonly #secretTemplates = new Map<string, string | undefined>();
  #responseUrls: Promise<ResponseUrls> | undefined;

  private constructor(options: LocalCloudOptions, responseUrls: ResponseUrls) {
    this.#options = options;
    this.aws = options.aws;
    this.#responseUrls = Promise.resolve(responseUrls);
    this.lambda = new LocalLambdaService({
      region: LOCAL_REGION,
      handleSdkCall: (call, fn) => this.#serveSdkCall(call, fn),
      credentialsFor: (fn) => this.#credentialsFor(fn),
      ...(options.networkEnvironment ? { networkEnvironment: options.networkEnvironment } : {}),
      extraCa: { pem: responseUrls.caPem, host: responseUrls.host },
      onHttp: (fn, exchange) => {
        if (exchange.phase === 'request') {
          this.httpRequests.push({
            functionName: fn.functionName,
            method: exchange.method,
            host: exchange.host,
            path: exchange.path,
            status: 0,
          });
          return;
        }
        const open = this.httpRequests.findLast(
          (request) =>
            request.functionName === fn.functionName &&
            request.status === 0 &&
            request.path === exchange.path,
        );
        if (open) open.status = exchange.status;
      },
      onLog: (fn, stream, text) => {
        this.logs.push({ logGroupName: fn.logGroupName, functionName: fn.functionName, stream, text });
        options.onLog?.(fn, stream, text);
      },
    });
  }

  static async create(options: LocalCloudOptions): Promise<LocalCloud> {
    return new LocalCloud(options, await ResponseUrls.start());
  }

  /**
   * Lambda's UpdateFunctionConfiguration, as an operator would run it: adds environment variables
   * to every function (or to those whose `ACME_STEP` is `step`). A variable the template sets
   * cannot be changed this way: deploy the stack with other props instead, so the test exercises
   * what the template grants for it.
   */
  configureFunctions(variables: Readonly<Record<string, string>>, step?: string): void {
    for (const fn of this.lambda.functions) {
      if (step !== undefined && fn.environment.ACME_STEP !== step) continue;
      const clash = Object.keys(variables).find(
        (name) => name in fn.environment && fn.environment[name] !== variables[name],
      );
      if (clash) {
        throw new Error(
          `${fn.functionName}: ${clash} is set by the template; deploy the stack with the props that set it instead`,
        );
      }
      const environment = { ...fn.environment, ...variables };
      checkEnvironmentSize(fn.logicalId, environment);
      this.lambda.deploy({ ...fn, environment });
    }
  }

  /**
   * Authorizes an AWS call as the function of `step` (its `ACME_STEP`) would make it, without
   * serving it: for tests of the template's policies themselves.
   */
  async authorizeAs(
    step: string,
    call: { readonly client: string; readonly command: string; readonly input: unknown },
  ): Promise<AuthorizationDecision[]> {
    const fn = this.lambda.functions.find((candidate) => candidate.environment.ACME_STEP === step);
    if (!fn) throw new Error(`No function for step ${step}`);
    const caller = this.iam.session(fn.roleArn, fn.functionName);
    const decisions: AuthorizationDecision[] = [];
    for (const authorization of requiredAuthorizations(
      { ...call, region: LOCAL_REGION },
      this.#directory(),
    )) {
      decisions.push(await this.iam.authorize(caller, authorization));
    }
    return decisions;
  }

  /**
   * Sends an event on the default bus to the rules of the deployed stacks, as EventBridge does: a
   * rule whose pattern matches sends it to each target. A Lambda target is invoked asynchronously
   * with the event (or the target's constant `Input`), which needs the function's resource policy
   * (an AWS::Lambda::Permission for `events.amazonaws.com` from the rule); Lambda retries an
   * asynchronous invocation's function error twice ("How Lambda handles errors and retries with
   * asynchronous invocation"), here without the minutes between attempts. Other targets (SNS,
   * SQS, Step Functions) are recorded, not run.
   */
  async deliverEvent(event: EventEnvelope): Promise<void> {
    for (const { deployed } of this.#stacks.values()) {
      for (const ruleId of deployed.logicalIdsOf('AWS::Events::Rule')) {
        const rule = deployed.resolve<{
          EventPattern?: Record<string, unknown>;
          State?: string;
          EventBusName?: string;
          Targets?: {
            Arn: string;
            Id: string;
            Input?: string;
            InputPath?: string;
            InputTransformer?: unknown;
          }[];
        }>(deployed.template.Resources[ruleId]?.Properties ?? {});
        if (!rule.EventPattern || rule.State === 'DISABLED' || (rule.EventBusName ?? 'default') !== 'default')
          continue;
        if (!matchesPattern(rule.EventPattern, event)) continue;
        const ruleArn = deployed.resolve<string>({ 'Fn::GetAtt': [ruleId, 'Arn'] });
        for (const target of rule.Targets ?? []) {
          this.eventDeliveries.push(await this.#deliverToTarget(deployed, ruleArn, target, event));
        }
      }
    }
  }

  async #deliverToTarget(
    stack: DeployedStack,
    ruleArn: string,
    target: { Arn: string; Input?: string; InputPath?: string; InputTransformer?: unknown },
    event: EventEnvelope,
  ): Promise<EventDelivery> {
    const delivery = { rule: ruleArn, target: target.Arn, event };
    const fn = this.lambda.function(target.Arn);
    if (!fn) return { ...delivery, outcome: 'recorded' };
    if (target.InputPath || target.InputTransformer) {
      throw new Error(`The local cloud does not implement InputPath or InputTransformer (rule ${ruleArn})`);
    }
    const decision = await this.iam.authorizeService('events.amazonaws.com', {
      action: 'lambda:InvokeFunction',
      resource: fn.functionArn,
      context: { 'aws:SourceArn': ruleArn, 'aws:SourceAccount': LOCAL_ACCOUNT },
      resourcePolicy: functionPolicy(stack, fn.functionArn),
    });
    if (!decision.allowed) return { ...delivery, outcome: 'denied', detail: decision.message };
    const payload = target.Input ? JSON.parse(target.Input) : event;
    let last = '';
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const outcome = await this.lambda.invoke(fn.functionArn, payload);
      if (outcome.ok) return { ...delivery, outcome: 'invoked' };
      last = `${outcome.error.errorType}: ${outcome.error.errorMessage}`;
    }
    return { ...delivery, outcome: 'failed', detail: last };
  }

  /** The deployed state machine with this ARN, in any stack. */
  stateMachineByArn(arn: string): DeployedStateMachine {
    for (const { deployed } of this.#stacks.values()) {
      for (const logicalId of deployed.logicalIdsOf('AWS::StepFunctions::StateMachine')) {
        if (deployed.ref(logicalId) === arn) return deployed.stateMachine(logicalId);
      }
    }
    throw Object.assign(new Error(`State Machine Does Not Exist: '${arn}'`), {
      name: 'StateMachineDoesNotExist',
    });
  }

  /** What the functions of one log group wrote, joined. */
  logText(filter?: (line: LogLine) => boolean): string {
    return this.logs
      .filter((line) => !filter || filter(line))
      .map((line) => line.text)
      .join('');
  }

  /**
   * Secrets Manager as the functions see it: the fake installed on `SecretsManagerClient` (a
   * test's own, installed before it deploys), or one the cloud installs when it first needs it
   * and restores at shutdown. The template's `AWS::SecretsManager::Secret` resources live here:
   * read their versions with `versionByStage(arn, 'AWSPREVIOUS')`, `valueOf(arn)`,
   * `versionIdsToStages(arn)`.
   */
  get secretsManager(): SecretsManagerFake {
    const installed = activeSecretsManagerFake();
    if (installed) return installed;
    const fake = installSecretsManagerFake({ region: LOCAL_REGION });
    this.#ownedFakes.push(fake);
    return fake;
  }

  /**
   * Parameter Store as the functions see it: the fake installed on `SSMClient`, or one the cloud
   * installs when it first needs it and restores at shutdown. Read parameters with
   * `parameter(name)`, `version(name, n)` (type, tier, KMS key of each version) and `valueOf(name)`.
   */
  get ssm(): SsmFake {
    const installed = activeSsmFake();
    if (installed) return installed;
    const fake = installSsmFake({ region: LOCAL_REGION });
    this.#ownedFakes.push(fake);
    return fake;
  }

  /** Stops every execution environment and the response server, and restores the fakes the cloud installed. */
  async shutdown(): Promise<void> {
    await this.lambda.shutdown();
    (await this.#responseUrls)?.close();
    for (const fake of this.#ownedFakes.splice(0)) {
      if (activeSecretsManagerFake() === fake || activeSsmFake() === fake) fake.restore();
    }
  }

  // ---- Deployment ----

  /** Creates or updates the stack from its synthesized template. */
  async deploy(synthesized: SynthesizedStack): Promise<DeployedStack> {
    const existing = this.#stacks.get(synthesized.stackName);
    const stackId =
      existing?.deployed.stackId ??
      `arn:${LOCAL_PARTITION}:cloudformation:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stack/${synthesized.stackName}/${randomUUID()}`;
    const resources = existing?.resources ?? new Map<string, PhysicalResource>();
    const previousTemplate = existing?.deployed.template;
    const template = synthesized.template;

    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      const current = resources.get(logicalId);
      if (current && current.type === resource.Type) continue;
      resources.set(logicalId, this.#name(synthesized.stackName, logicalId, resource));
    }
    const deployed = new DeployedStack(synthesized, stackId, resources);
    this.#stacks.set(synthesized.stackName, { resources, deployed });

    const byType = (type: string) => deployed.logicalIdsOf(type);
    for (const logicalId of byType('AWS::KMS::Key')) this.#deployKey(deployed, logicalId);
    for (const logicalId of byType('AWS::S3::Bucket')) this.#deployBucket(deployed, logicalId);
    for (const logicalId of byType('AWS::SecretsManager::Secret')) this.#deploySecret(deployed, logicalId);
    for (const logicalId of byType('AWS::DynamoDB::Table')) await this.#deployTable(deployed, logicalId);
    for (const logicalId of byType('AWS::IAM::Role')) this.#deployRole(deployed, logicalId);
    for (const logicalId of byType('AWS::Lambda::Function')) this.#deployFunction(deployed, logicalId);

    // Resources the new template no longer has: functions and roles go, retained keys and data stay.
    for (const logicalId of Object.keys(previousTemplate?.Resources ?? {})) {
      if (logicalId in template.Resources) continue;
      const resource = resources.get(logicalId);
      if (resource?.type === 'AWS::Lambda::Function') this.lambda.remove(resource.ref);
      if (resource?.type === 'AWS::IAM::Role') this.iam.deleteRole(resource.attributes.Arn ?? '');
      resources.delete(logicalId);
    }

    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      if (resource.Type.startsWith('Custom::') || resource.Type === 'AWS::CloudFormation::CustomResource')
        await this.#deployCustomResource(
          deployed,
          logicalId,
          resource,
          resources.get(logicalId) as PhysicalResource,
        );
    }
    return deployed;
  }

  /** Physical ids as CloudFormation generates them: `<stack>-<logical id>-<random>` where the type has a name. */
  #name(stackName: string, logicalId: string, resource: CfnResource): PhysicalResource {
    const suffix = randomBytes(9).toString('base64url').replace(/[-_]/g, 'X').toUpperCase().slice(0, 12);
    const generated = (max: number) => {
      const room = max - stackName.length - suffix.length - 2;
      return `${stackName}-${logicalId.slice(0, Math.max(1, room))}-${suffix}`;
    };
    const properties = resource.Properties ?? {};
    const given = (key: string) =>
      typeof properties[key] === 'string' ? (properties[key] as string) : undefined;
    const region = LOCAL_REGION;
    const account = LOCAL_ACCOUNT;
    const p = LOCAL_PARTITION;
    switch (resource.Type) {
      case 'AWS::KMS::Key': {
        const keyId = randomUUID();
        return {
          type: resource.Type,
          ref: keyId,
          attributes: { Arn: `arn:${p}:kms:${region}:${account}:key/${keyId}`, KeyId: keyId },
        };
      }
      case 'AWS::S3::Bucket': {
        const name = given('BucketName') ?? generated(63).toLowerCase();
        return {
          type: resource.Type,
          ref: name,
          attributes: {
            Arn: `arn:${p}:s3:::${name}`,
            DomainName: `${name}.s3.amazonaws.com`,
            RegionalDomainName: `${name}.s3.${region}.amazonaws.com`,
          },
        };
      }
      case 'AWS::DynamoDB::Table': {
        const name = given('TableName') ?? generated(255);
        return {
          type: resource.Type,
          ref: name,
          attributes: { Arn: `arn:${p}:dynamodb:${region}:${account}:table/${name}` },
        };
      }
      case 'AWS::IAM::Role': {
        const name = given('RoleName') ?? generated(64);
        const path = given('Path') ?? '/';
        return {
          type: resource.Type,
          ref: name,
          attributes: { Arn: `arn:${p}:iam::${account}:role${path}${name}`, RoleId: `AROA${suffix}` },
        };
      }
      case 'AWS::Lambda::Function': {
        const name = given('FunctionName') ?? generated(64);
        return {
          type: resource.Type,
          ref: name,
          attributes: { Arn: `arn:${p}:lambda:${region}:${account}:function:${name}` },
        };
      }
      case 'AWS::Logs::LogGroup': {
        const name = given('LogGroupName') ?? generated(512);
        return {
          type: resource.Type,
          ref: name,
          attributes: { Arn: `arn:${p}:logs:${region}:${account}:log-group:${name}:*` },
        };
      }
      case 'AWS::StepFunctions::StateMachine': {
        const name = given('StateMachineName') ?? `${logicalId.slice(0, 66)}-${suffix}`;
        const arn = `arn:${p}:states:${region}:${account}:stateMachine:${name}`;
        return { type: resource.Type, ref: arn, attributes: { Arn: arn, Name: name } };
      }
      case 'AWS::SQS::Queue': {
        const name = given('QueueName') ?? generated(80);
        return {
          type: resource.Type,
          ref: `https://sqs.${region}.amazonaws.com/${account}/${name}`,
          attributes: {
            Arn: `arn:${p}:sqs:${region}:${account}:${name}`,
            QueueName: name,
            QueueUrl: `https://sqs.${region}.amazonaws.com/${account}/${name}`,
          },
        };
      }
      case 'AWS::SNS::Topic': {
        const name = given('TopicName') ?? generated(256);
        const arn = `arn:${p}:sns:${region}:${account}:${name}`;
        return { type: resource.Type, ref: arn, attributes: { TopicArn: arn, TopicName: name } };
      }
      case 'AWS::Events::Rule': {
        const name = given('Name') ?? generated(64);
        return {
          type: resource.Type,
          ref: name,
          attributes: { Arn: `arn:${p}:events:${region}:${account}:rule/${name}` },
        };
      }
      case 'AWS::Scheduler::Schedule': {
        const name = given('Name') ?? generated(64);
        return {
          type: resource.Type,
          ref: name,
          attributes: { Arn: `arn:${p}:scheduler:${region}:${account}:schedule/default/${name}` },
        };
      }
      case 'AWS::SecretsManager::Secret': {
        const name = given('Name') ?? generated(256);
        const arn = `arn:${p}:secretsmanager:${region}:${account}:secret:${name}-${suffix.slice(0, 6)}`;
        return { type: resource.Type, ref: arn, attributes: { Id: arn } };
      }
      default:
        return { type: resource.Type, ref: generated(255), attributes: {} };
    }
  }

  #deployKey(stack: DeployedStack, logicalId: string): void {
    const properties = stack.resolve<Record<string, unknown>>(
      stack.template.Resources[logicalId]?.Properties ?? {},
    );
    const keyId = stack.ref(logicalId);
    const keyArn = stack.resolve<string>({ 'Fn::GetAtt': [logicalId, 'Arn'] });
    this.#kmsKeys.set(keyId, {
      arn: keyArn,
      ...(properties.KeyPolicy ? { policy: properties.KeyPolicy as PolicyDocument } : {}),
    });
    const keySpec = String(properties.KeySpec ?? 'SYMMETRIC_DEFAULT');
    // The KMS fake signs with asymmetric keys; S3 uses the symmetric store key on the caller's behalf.
    if (keySpec !== 'SYMMETRIC_DEFAULT' && !this.aws.kms.keys.has(keyId)) {
      this.aws.kms.createKey({
        keyId,
        keySpec: keySpec as FakeKeySpec,
        keyUsage: (properties.KeyUsage as 'SIGN_VERIFY' | undefined) ?? 'SIGN_VERIFY',
      });
    }
  }

  #deployBucket(stack: DeployedStack, logicalId: string): void {
    const name = stack.ref(logicalId);
    const properties = stack.resolve<Record<string, unknown>>(
      stack.template.Resources[logicalId]?.Properties ?? {},
    );
    const rules =
      (
        properties.BucketEncryption as
          | {
              ServerSideEncryptionConfiguration?: {
                ServerSideEncryptionByDefault?: { KMSMasterKeyID?: string };
              }[];
            }
          | undefined
      )?.ServerSideEncryptionConfiguration ?? [];
    const kmsKeyArn = rules[0]?.ServerSideEncryptionByDefault?.KMSMasterKeyID;
    const policyId = stack
      .logicalIdsOf('AWS::S3::BucketPolicy')
      .find((id) => stack.resolve(stack.template.Resources[id]?.Properties?.Bucket) === name);
    const policy = policyId
      ? stack.resolve<PolicyDocument>(stack.template.Resources[policyId]?.Properties?.PolicyDocument)
      : undefined;
    this.#buckets.set(name, { ...(kmsKeyArn ? { kmsKeyArn } : {}), ...(policy ? { policy } : {}) });
    this.aws.s3.createBucket(name);
  }

  /**
   * An `AWS::SecretsManager::Secret`: created with its `SecretString` (or a generated password for
   * `GenerateSecretString`) as its first, `AWSCURRENT` version, encrypted under `KmsKeyId`. An
   * update with another `SecretString` puts a new version, as CloudFormation does; a changed
   * `KmsKeyId` applies to the versions that follow, as UpdateSecret's does.
   */
  #deploySecret(stack: DeployedStack, logicalId: string): void {
    const arn = stack.ref(logicalId);
    const properties = stack.resolve<Record<string, unknown>>(
      stack.template.Resources[logicalId]?.Properties ?? {},
    );
    const kmsKeyId = typeof properties.KmsKeyId === 'string' ? properties.KmsKeyId : undefined;
    const template = typeof properties.SecretString === 'string' ? properties.SecretString : undefined;
    const secrets = this.secretsManager;
    const existing = secrets.secret(arn);
    if (!existing) {
      const generate = properties.GenerateSecretString as
        | { SecretStringTemplate?: string; GenerateStringKey?: string; PasswordLength?: number }
        | undefined;
      let value = template;
      if (value === undefined && generate) {
        const password = randomBytes(48)
          .toString('base64')
          .replace(/[^A-Za-z0-9]/g, '')
          .slice(0, generate.PasswordLength ?? 32);
        value =
          generate.SecretStringTemplate && generate.GenerateStringKey
            ? JSON.stringify({
                ...JSON.parse(generate.SecretStringTemplate),
                [generate.GenerateStringKey]: password,
              })
            : password;
      }
      const name = arn.split(':secret:')[1]?.slice(0, -7) ?? logicalId;
      secrets.createSecret(name, value, { arn, ...(kmsKeyId ? { kmsKeyId } : {}) });
    } else {
      if (kmsKeyId) existing.kmsKeyId = kmsKeyId;
      else delete existing.kmsKeyId;
      if (template !== undefined && template !== this.#secretTemplates.get(arn))
        secrets.putSecretValue(arn, template);
    }
    this.#secretTemplates.set(arn, template);
  }

  async #deployTable(stack: DeployedStack, logicalId: string): Promise<void> {
    const name = stack.ref(logicalId);
    if (!(await this.aws.dynamodb.hasTable(name))) await this.aws.dynamodb.createTable(name);
  }

  #deployRole(stack: DeployedStack, logicalId: string): void {
    const properties = stack.resolve<Record<string, unknown>>(
      stack.template.Resources[logicalId]?.Properties ?? {},
    );
    if (Array.isArray(properties.ManagedPolicyArns) && properties.ManagedPolicyArns.length > 0) {
      throw new DeploymentError(
        `${logicalId} attaches managed policies (${properties.ManagedPolicyArns.join(', ')}), whose documents the local cloud does not have`,
      );
    }
    const roleName = stack.ref(logicalId);
    const inline = (
      (properties.Policies as { PolicyName: string; PolicyDocument: PolicyDocument }[] | undefined) ?? []
    ).map((policy) => ({ name: policy.PolicyName, document: policy.PolicyDocument }));
    const attached = stack
      .logicalIdsOf('AWS::IAM::Policy')
      .map((id) =>
        stack.resolve<{ PolicyName: string; PolicyDocument: PolicyDocument; Roles?: string[] }>(
          stack.template.Resources[id]?.Properties,
        ),
      )
      .filter((policy) => (policy.Roles ?? []).includes(roleName))
      .map((policy) => ({ name: policy.PolicyName, document: policy.PolicyDocument }));
    this.iam.putRole({
      arn: stack.resolve<string>({ 'Fn::GetAtt': [logicalId, 'Arn'] }),
      name: roleName,
      account: LOCAL_ACCOUNT,
      ...(properties.AssumeRolePolicyDocument
        ? { trustPolicy: properties.AssumeRolePolicyDocument as PolicyDocument }
        : {}),
      policies: [...inline, ...attached],
    });
  }

  #deployFunction(stack: DeployedStack, logicalId: string): void {
    const resource = stack.template.Resources[logicalId] as CfnResource;
    const properties = stack.resolve<Record<string, unknown>>(resource.Properties ?? {});
    const code = properties.Code as { S3Key?: string; ZipFile?: string };
    const codeDirectory = code.S3Key ? stack.synthesized.assetFolders[code.S3Key] : undefined;
    if (!codeDirectory) {
      throw new DeploymentError(
        `${logicalId}: its code (${JSON.stringify(code)}) is not an asset of the cloud assembly`,
      );
    }
    const environment =
      (properties.Environment as { Variables?: Record<string, string> } | undefined)?.Variables ?? {};
    checkEnvironmentSize(logicalId, environment);
    const logGroupName =
      (properties.LoggingConfig as { LogGroup?: string } | undefined)?.LogGroup ??
      `/aws/lambda/${stack.ref(logicalId)}`;
    this.lambda.deploy({
      logicalId,
      functionName: stack.ref(logicalId),
      functionArn: stack.resolve<string>({ 'Fn::GetAtt': [logicalId, 'Arn'] }),
      roleArn: String(properties.Role),
      handler: String(properties.Handler),
      runtime: String(properties.Runtime),
      timeoutSeconds: Number(properties.Timeout ?? 3),
      memorySize: Number(properties.MemorySize ?? 128),
      codeDirectory,
      environment,
      logGroupName,
    });
  }

  async #deployCustomResource(
    stack: DeployedStack,
    logicalId: string,
    resource: CfnResource,
    physical: PhysicalResource,
  ): Promise<void> {
    const properties = stack.resolve<Record<string, unknown>>(resource.Properties ?? {});
    const serialized = JSON.stringify(properties);
    if (physical.customProperties === serialized) return;
    const requestType = physical.customProperties === undefined ? 'Create' : 'Update';
    const serviceTimeout = Number(properties.ServiceTimeout ?? 3600);
    const urls = await this.#responseUrls;
    if (!urls) throw new DeploymentError('The local cloud is shut down');
    const { url, answer } = urls.open(serviceTimeout);
    const event = {
      RequestType: requestType,
      ServiceToken: properties.ServiceToken,
      ResponseURL: url,
      StackId: stack.stackId,
      RequestId: randomUUID(),
      LogicalResourceId: logicalId,
      ResourceType: resource.Type,
      ResourceProperties: properties,
      ...(requestType === 'Update'
        ? {
            PhysicalResourceId: physical.ref,
            OldResourceProperties: JSON.parse(physical.customProperties ?? '{}'),
          }
        : {}),
    };
    const invocation = await this.lambda.invoke(String(properties.ServiceToken), event);
    // CloudFormation waits for the answer, not for the invocation; a function that failed without
    // answering would leave it waiting until ServiceTimeout, which ends the same way.
    const outcome = invocation.ok
      ? await answer
      : await Promise.race([
          answer,
          new Promise<{ Status: 'FAILED'; Reason: string }>((resolve) =>
            setTimeout(
              () =>
                resolve({
                  Status: 'FAILED',
                  Reason: `The custom resource's function failed without answering (${invocation.error.errorType}: ${invocation.error.errorMessage}); CloudFormation would wait ${serviceTimeout} s and fail`,
                }),
              1000,
            ).unref(),
          ),
        ]);
    if (outcome.Status !== 'SUCCESS') {
      throw new DeploymentError(
        `${logicalId} (${resource.Type}) failed to ${requestType.toLowerCase()}: ${outcome.Reason}`,
      );
    }
    physical.ref = outcome.PhysicalResourceId ?? physical.ref;
    physical.customProperties = serialized;
  }

  // ---- Calls from the functions ----

  #credentialsFor(fn: LocalFunction): { accessKeyId: string; secretAccessKey: string; sessionToken: string } {
    const existing = this.#functionCredentials.get(fn.functionName);
    if (existing && this.#credentials.get(existing.accessKeyId)?.roleArn === fn.roleArn) return existing;
    const credentials = {
      accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: randomBytes(32).toString('base64'),
    };
    const identity = this.iam.session(fn.roleArn, fn.functionName);
    this.#credentials.set(credentials.accessKeyId, identity);
    this.#functionCredentials.set(fn.functionName, credentials);
    this.#options.sts?.recognize(credentials.accessKeyId, {
      account: identity.account,
      roleArn: identity.roleArn,
      sessionName: fn.functionName,
      sessionToken: credentials.sessionToken,
    });
    return credentials;
  }

  /** Who signs with `accessKeyId`: a function's role session, or a session STS issued. */
  #caller(accessKeyId: string): CallerIdentity | undefined {
    const known = this.#credentials.get(accessKeyId);
    if (known) return known;
    const session = this.#options.sts?.sessionOf(accessKeyId);
    return session ? this.iam.session(session.roleArn, session.sessionName) : undefined;
  }

  /** Authorizes a function's SDK call as IAM would, then lets the fake serve it. */
  async #serveSdkCall(call: SdkCall, fn: LocalFunction): Promise<unknown> {
    const { module, client } = await this.#client(call);
    // These services' fakes are the cloud's own unless a test installed one.
    if (call.client === 'SecretsManagerClient') void this.secretsManager;
    if (call.client === 'SSMClient') void this.ssm;
    const caller = this.#caller(call.credentials.accessKeyId);
    if (!caller) {
      throw this.#serviceError(module, {
        name: 'UnrecognizedClientException',
        status: 403,
        message: 'The security token included in the request is invalid.',
      });
    }
    let required: RequiredAuthorization[];
    try {
      required = requiredAuthorizations(call, this.#directory());
    } catch (error) {
      throw new Error(`${fn.functionName}: ${(error as Error).message}`);
    }
    for (const authorization of required) {
      const decision = await this.iam.authorize(caller, authorization);
      if (!decision.allowed) {
        throw this.#serviceError(module, {
          ...authorization.deniedAs,
          message: authorization.deniedAs.message ?? decision.message,
        });
      }
    }
    this.authorizedCalls += 1;
    const Command = module[call.command] as (new (input: unknown) => unknown) | undefined;
    if (!Command) throw new Error(`${call.client} has no command ${call.command}`);
    const fault = this.#fault(call);
    const errors = FAULT_ERRORS[call.client] ?? FAULT_ERRORS.KMSClient;
    if (fault === 'throttling' && errors) {
      throw this.#serviceError(module, { name: errors.throttling, status: 400, message: 'Rate exceeded' });
    }
    if (fault === 'serverError' && errors) {
      const [name, status] = errors.serverError;
      throw this.#serviceError(module, {
        name,
        status,
        message: 'We encountered an internal error. Please try again.',
      });
    }
    try {
      const output = await client.send(new Command(call.input));
      // The service did the work, but its answer never reached the function: the SDK's socket timeout.
      if (fault === 'timeoutAfterDone') {
        throw Object.assign(new Error('Connection timed out after 120000 ms'), { name: 'TimeoutError' });
      }
      return output;
    } catch (error) {
      // Without s3:ListBucket, S3 answers a missing object with 403, not 404 (S3 API Reference, GetObject, "Permissions").
      if ((error as Error).name === 'NoSuchKey' && call.client === 'S3Client') {
        const bucket = String((call.input as { Bucket?: string }).Bucket);
        const listing = await this.iam.authorize(caller, {
          action: 's3:ListBucket',
          resource: `arn:${LOCAL_PARTITION}:s3:::${bucket}`,
          context: { 's3:prefix': String((call.input as { Key?: string }).Key ?? '') },
          ...(this.#buckets.get(bucket)?.policy ? { resourcePolicy: this.#buckets.get(bucket)?.policy } : {}),
        });
        if (!listing.allowed)
          throw this.#serviceError(module, { name: 'AccessDenied', status: 403, message: 'Access Denied' });
      }
      throw error;
    }
  }

  #directory(): ResourceDirectory {
    return {
      kmsKey: (reference) => {
        const id = /key\/([^/]+)$/.exec(reference)?.[1] ?? reference;
        const known = this.#kmsKeys.get(id);
        if (known) return known;
        const fake = this.aws.kms.keys.get(id);
        return fake ? { arn: fake.arn } : undefined;
      },
      bucket: (name) => this.#buckets.get(name),
      objectKmsKey: (bucket, key) => this.aws.s3.current(bucket, key)?.sseKmsKeyId,
      certificateTags: (arn) => this.aws.acm.certificates.get(arn)?.tags,
      trustPolicy: (roleArn) => {
        const role = this.iam.role(roleArn);
        if (role?.trustPolicy) return role.trustPolicy;
        const trusted = this.#options.sts?.trustedAccountsOf(roleArn);
        if (!trusted) return undefined;
        return {
          Version: '2012-10-17',
          Statement: trusted.map((account) => ({
            Effect: 'Allow',
            Principal: { AWS: `arn:${LOCAL_PARTITION}:iam::${account}:root` },
            Action: 'sts:AssumeRole',
          })),
        };
      },
      secretArn: (secretId) =>
        activeSecretsManagerFake()?.secret(secretId)?.arn ??
        (secretId.startsWith('arn:')
          ? secretId
          : `arn:${LOCAL_PARTITION}:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:${secretId}`),
      secret: (secretId) => {
        const secret = activeSecretsManagerFake()?.secret(secretId);
        if (!secret) return undefined;
        return {
          arn: secret.arn,
          ...(secret.kmsKeyId ? { kmsKeyId: secret.kmsKeyId } : {}),
          versionId: ({ VersionId, VersionStage }) =>
            secret.versions.find((version) =>
              VersionId !== undefined
                ? version.versionId === VersionId &&
                  (VersionStage === undefined || version.stages.has(VersionStage))
                : version.stages.has(VersionStage ?? 'AWSCURRENT'),
            )?.versionId,
        };
      },
      parameter: (name) => activeSsmFake()?.parameter(name),
    };
  }

  /** A client of the test process's SDK, which the fakes intercept, with the caller's credentials. */
  async #client(
    call: SdkCall,
  ): Promise<{ module: Record<string, unknown>; client: { send(command: unknown): Promise<unknown> } }> {
    const packageName = CLIENT_PACKAGES[call.client];
    if (!packageName) throw new Error(`The local cloud does not serve ${call.client}`);
    const module = (await import(packageName)) as Record<string, unknown>;
    const key = `${call.client}|${call.region}|${call.credentials.accessKeyId}`;
    let client = this.#clients.get(key);
    if (!client) {
      const Client = module[call.client] as new (
        config: unknown,
      ) => { send(command: unknown): Promise<unknown> };
      client = new Client({
        region: call.region,
        credentials: call.credentials,
        // A service without a fake fails here at once instead of reaching AWS.
        endpoint: 'http://127.0.0.1:9',
        maxAttempts: 1,
      });
      this.#clients.set(key, client);
    }
    return { module, client };
  }

  /** The error the service's SDK would throw, as an instance of its exception class. */
  #serviceError(
    module: Record<string, unknown>,
    spec: { name: string; status: number; message: string },
  ): Error {
    const ServiceException = Object.entries(module).find(([name]) =>
      /^[A-Z][A-Za-z0-9]*ServiceException$/.test(name),
    )?.[1] as ServiceExceptionClass | undefined;
    if (!ServiceException) throw new Error(`The SDK module has no ServiceException class for ${spec.name}`);
    return awsError(ServiceException, {
      name: spec.name,
      message: spec.message,
      httpStatusCode: spec.status,
    });
  }

  /** Injects a fault into this call, or returns `undefined` to serve it as usual. */
  #fault(call: SdkCall): AwsFaultKind | undefined {
    const faults = this.awsFaults;
    if (!faults || faults.random() >= faults.rate) return undefined;
    const kinds: readonly AwsFaultKind[] = ['throttling', 'serverError', 'timeoutAfterDone'];
    const kind = kinds[Math.floor(faults.random() * kinds.length)] ?? 'throttling';
    this.faultsInjected[kind] = (this.faultsInjected[kind] ?? 0) + 1;
    this.faultLog.push({
      kind,
      call: `${call.client.replace(/Client$/, '')} ${call.command.replace(/Command$/, '')}`,
    });
    return kind;
  }
}

/** Faults a chaos run injects into AWS calls. */
export type AwsFaultKind = 'throttling' | 'serverError' | 'timeoutAfterDone';

/** The throttling and server errors each service answers with (their error shapes in the SDK). */
const FAULT_ERRORS: Readonly<Record<string, { throttling: string; serverError: [string, number] }>> = {
  KMSClient: { throttling: 'ThrottlingException', serverError: ['KMSInternalException', 500] },
  S3Client: { throttling: 'SlowDown', serverError: ['InternalError', 500] },
  DynamoDBClient: { throttling: 'ThrottlingException', serverError: ['InternalServerError', 500] },
  Route53Client: { throttling: 'Throttling', serverError: ['ServiceUnavailable', 503] },
  ACMClient: { throttling: 'ThrottlingException', serverError: ['ServiceUnavailableException', 503] },
  EventBridgeClient: { throttling: 'ThrottlingException', serverError: ['InternalException', 500] },
  SecretsManagerClient: { throttling: 'ThrottlingException', serverError: ['InternalServiceError', 500] },
  // Systems Manager API reference, "Common Errors" and PutParameter's "Errors": ThrottlingException, InternalServerError.
  SSMClient: { throttling: 'ThrottlingException', serverError: ['InternalServerError', 500] },
  STSClient: { throttling: 'Throttling', serverError: ['ServiceUnavailable', 503] },
};

/** A function's resource-based policy, from the stack's AWS::Lambda::Permission resources. */
function functionPolicy(stack: DeployedStack, functionArn: string): PolicyDocument {
  const statements = stack.logicalIdsOf('AWS::Lambda::Permission').flatMap((logicalId) => {
    const permission = stack.resolve<{
      Action: string;
      FunctionName: string;
      Principal: string;
      SourceArn?: string;
      SourceAccount?: string;
    }>(stack.template.Resources[logicalId]?.Properties);
    const name = functionArn.split(':').at(-1);
    if (permission.FunctionName !== functionArn && permission.FunctionName !== name) return [];
    const service = permission.Principal.endsWith('.amazonaws.com');
    return [
      {
        Sid: logicalId,
        Effect: 'Allow',
        Principal: service ? { Service: permission.Principal } : { AWS: permission.Principal },
        Action: permission.Action,
        Resource: functionArn,
        ...(permission.SourceArn || permission.SourceAccount
          ? {
              Condition: {
                ...(permission.SourceArn ? { ArnLike: { 'AWS:SourceArn': permission.SourceArn } } : {}),
                ...(permission.SourceAccount
                  ? { StringEquals: { 'AWS:SourceAccount': permission.SourceAccount } }
                  : {}),
              },
            }
          : {}),
      },
    ];
  });
  return { Version: '2012-10-17', Statement: statements };
}

/**
 * Lambda's quota of 4 KB for all of a function's environment variables ("Lambda quotas":
 * https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html); CloudFormation then
 * fails the function with Lambda's message.
 */
function checkEnvironmentSize(logicalId: string, environment: Readonly<Record<string, string>>): void {
  const bytes = Buffer.byteLength(
    Object.entries(environment)
      .map(([key, value]) => key + value)
      .join(''),
  );
  if (bytes <= MAX_ENVIRONMENT_BYTES) return;
  throw new DeploymentError(
    `${logicalId}: Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: ${JSON.stringify(environment)}`,
  );
}

/** The SDK package of each client class a function may use. */
const CLIENT_PACKAGES: Readonly<Record<string, string>> = {
  KMSClient: '@aws-sdk/client-kms',
  S3Client: '@aws-sdk/client-s3',
  DynamoDBClient: '@aws-sdk/client-dynamodb',
  Route53Client: '@aws-sdk/client-route-53',
  ACMClient: '@aws-sdk/client-acm',
  EventBridgeClient: '@aws-sdk/client-eventbridge',
  SecretsManagerClient: '@aws-sdk/client-secrets-manager',
  SSMClient: '@aws-sdk/client-ssm',
  STSClient: '@aws-sdk/client-sts',
  SFNClient: '@aws-sdk/client-sfn',
  CloudFormationClient: '@aws-sdk/client-cloudformation',
};
