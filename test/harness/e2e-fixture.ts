import { afterAll, afterEach, beforeAll } from 'vitest';
import type { StsFake } from '../fakes/sts-fake.js';
import type { StackPropsForTest } from './cloud/assembly.js';
import type { DeployedStack, LocalCloud } from './cloud/cloud.js';
import type { ExecutionOptions } from './cloud/step-functions.js';
import {
  type DeployOptions,
  deployLocally,
  installLocalAws,
  type LocalAws,
  type LocalCa,
  type LocalDeployment,
  type LocalIssuanceResult,
  runLocalIssuance,
  synthesizeFor,
} from './local-issuance.js';
import { type PebbleEnvironment, type StartPebbleOptions, startPebble } from './pebble.js';

/** How `usePebbleWorkflow` starts its CA and what it deploys by default. */
export interface PebbleWorkflowOptions {
  /** Passed to `startPebble` as is: `PEBBLE_*` environment, external account binding. @default {} */
  readonly pebble?: StartPebbleOptions;
  /** Stack props every test of the file deploys unless `install` says otherwise. @default the defaults */
  readonly props?: StackPropsForTest;
}

export interface InstallOptions {
  /** The CA the functions talk to, such as a proxy in front of Pebble. @default the fixture's Pebble */
  readonly ca?: LocalCa;
  /** Stack props for this test. @default the fixture's */
  readonly props?: StackPropsForTest;
  /** STS, for zones in other accounts. */
  readonly sts?: StsFake;
  /** Changes to the local network, such as DNS servers (`DNS_RESOLVERS`, `DNS_AUTHORITATIVE_SERVERS`). */
  readonly network?: Readonly<Record<string, string>>;
  /** Changes the synthesized template before it is deployed (see `DeployOptions.editTemplate`). */
  readonly editTemplate?: DeployOptions['editTemplate'];
}

/** One Pebble for a `describe`; AWS fakes and a deployment of the stack per test. */
export interface PebbleWorkflow {
  readonly pebble: PebbleEnvironment;
  /** The AWS fakes `install` put in place for the current test. */
  readonly aws: LocalAws;
  /** The local cloud the stack is deployed in for the current test. */
  readonly cloud: LocalCloud;
  /** The deployed stack of the current test. */
  readonly stack: DeployedStack;
  readonly deployment: LocalDeployment;
  /**
   * Installs the AWS fakes with a hosted zone per registrable domain among `domains`, and deploys
   * the stack (synthesized with its bundles) into them. Everything is torn down after the test.
   */
  install(domains: readonly string[], options?: InstallOptions): Promise<LocalAws>;
  /** Deploys the stack again with other props, as `cdk deploy` of a changed app would. */
  redeploy(props: StackPropsForTest): Promise<DeployedStack>;
  /** Runs the issuance state machine once. */
  run(
    input: Record<string, unknown>,
    options?: Omit<ExecutionOptions, 'input'>,
  ): Promise<LocalIssuanceResult>;
  /** Every item of the registry table. */
  registryItems<T = Record<string, unknown>>(): Promise<T[]>;
  /** The registry's item for one certificate. */
  record<T extends { readonly certificateId?: string }>(certificateId: string): Promise<T | undefined>;
}

/**
 * Registers the hooks every e2e file against Pebble needs (Pebble started before all tests, the
 * deployment and the fakes torn down after each, Pebble stopped after all) and returns accessors
 * valid inside the tests and later hooks of the same `describe`.
 */
export function usePebbleWorkflow(options: PebbleWorkflowOptions = {}): PebbleWorkflow {
  let pebble: PebbleEnvironment | undefined;
  let aws: LocalAws | undefined;
  let deployment: LocalDeployment | undefined;

  beforeAll(async () => {
    pebble = await startPebble(options.pebble);
    // Synthesize (and bundle) once up front, so the first test does not pay for it alone.
    synthesizeFor(pebble, options.props);
  });
  afterAll(async () => {
    await pebble?.stop();
  });
  afterEach(async () => {
    await deployment?.cloud.shutdown();
    await aws?.restore();
    aws = undefined;
    deployment = undefined;
  });

  const current = (): LocalDeployment => {
    if (!deployment) throw new Error('Nothing is deployed in this test: call install(domains) first');
    return deployment;
  };
  const fixture: PebbleWorkflow = {
    get pebble() {
      if (!pebble) throw new Error('Pebble is not running: use the fixture inside a test or hook');
      return pebble;
    },
    get aws() {
      if (!aws) throw new Error('No AWS fakes in this test: call install(domains) first');
      return aws;
    },
    get cloud() {
      return current().cloud;
    },
    get stack() {
      return current().stack;
    },
    get deployment() {
      return current();
    },
    async install(domains, { ca = fixture.pebble, props = options.props, sts, network, editTemplate } = {}) {
      if (aws) throw new Error('The AWS fakes are already installed in this test');
      aws = installLocalAws(ca, domains);
      deployment = await deployLocally(ca, aws, {
        ...(props ? { props } : {}),
        ...(sts ? { sts } : {}),
        ...(network ? { network } : {}),
        ...(editTemplate ? { editTemplate } : {}),
      });
      return aws;
    },
    async redeploy(props) {
      const { cloud, ca } = current();
      const stack = await cloud.deploy(synthesizeFor(ca, props));
      deployment = { ...current(), stack };
      return stack;
    },
    run(input, runOptions = {}) {
      return runLocalIssuance({ deployment: current(), input, ...runOptions });
    },
    async registryItems<T>() {
      return (await fixture.aws.dynamodb.items(fixture.stack.registryTable)) as T[];
    },
    async record<T extends { readonly certificateId?: string }>(certificateId: string) {
      return (await fixture.registryItems<T>()).find((item) => item.certificateId === certificateId);
    },
  };
  return fixture;
}
