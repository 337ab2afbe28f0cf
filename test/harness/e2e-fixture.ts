import { afterAll, afterEach, beforeAll } from 'vitest';
import {
  installLocalAws,
  type LocalAws,
  type LocalCa,
  type LocalIssuanceOptions,
  type LocalIssuanceResult,
  runLocalIssuance,
} from './local-issuance.js';
import { type PebbleEnvironment, type StartPebbleOptions, startPebble } from './pebble.js';
import { type SynthesizedWorkflow, synthesizeWorkflow } from './state-machine.js';

/** How `usePebbleWorkflow` starts its CA. */
export interface PebbleWorkflowOptions {
  /** Passed to `startPebble` as is: `PEBBLE_*` environment, external account binding. @default {} */
  readonly pebble?: StartPebbleOptions;
}

/** What a run may add to or change from the fixture's own CA and workflow. */
export interface PebbleWorkflowRunOptions
  extends Omit<LocalIssuanceOptions, 'workflow' | 'ca' | 'aws' | 'input'> {
  /** The CA the handlers talk to, such as a proxy in front of Pebble. @default the fixture's Pebble */
  readonly ca?: LocalCa;
}

/** One Pebble and the synthesized issuance state machine for a `describe`, and AWS fakes per test. */
export interface PebbleWorkflow {
  readonly pebble: PebbleEnvironment;
  readonly workflow: SynthesizedWorkflow;
  /** The AWS fakes `install` put in place for the current test. */
  readonly aws: LocalAws;
  /**
   * Installs the AWS fakes with a hosted zone per registrable domain among `domains`; they are
   * restored after the test. Once per test.
   */
  install(domains: readonly string[], ca?: LocalCa): LocalAws;
  /** Runs the issuance state machine once against the fixture's Pebble and the installed fakes. */
  run(input: Record<string, unknown>, options?: PebbleWorkflowRunOptions): Promise<LocalIssuanceResult>;
  /** Every item of the registry table in the installed DynamoDB fake. */
  registryItems<T = Record<string, unknown>>(): T[];
  /** The registry's item for one certificate. */
  record<T extends { readonly certificateId?: string }>(certificateId: string): T | undefined;
}

/**
 * Registers the hooks every e2e file against Pebble needs (Pebble started and the workflow
 * synthesized once before all tests, the AWS fakes restored after each, Pebble stopped after all)
 * and returns accessors for them, valid inside the tests and later hooks of the same `describe`.
 */
export function usePebbleWorkflow(options: PebbleWorkflowOptions = {}): PebbleWorkflow {
  let pebble: PebbleEnvironment | undefined;
  let workflow: SynthesizedWorkflow | undefined;
  let aws: LocalAws | undefined;

  beforeAll(async () => {
    pebble = await startPebble(options.pebble);
    workflow = synthesizeWorkflow();
  });
  afterAll(async () => {
    await pebble?.stop();
  });
  afterEach(() => {
    aws?.restore();
    aws = undefined;
  });

  const fixture: PebbleWorkflow = {
    get pebble() {
      if (!pebble) throw new Error('Pebble is not running: use the fixture inside a test or hook');
      return pebble;
    },
    get workflow() {
      if (!workflow)
        throw new Error('The workflow is not synthesized: use the fixture inside a test or hook');
      return workflow;
    },
    get aws() {
      if (!aws) throw new Error('No AWS fakes in this test: call install(domains) first');
      return aws;
    },
    install(domains, ca = fixture.pebble) {
      if (aws) throw new Error('The AWS fakes are already installed in this test');
      aws = installLocalAws(ca, domains);
      return aws;
    },
    run(input, { ca = fixture.pebble, ...rest } = {}) {
      return runLocalIssuance({ workflow: fixture.workflow, ca, aws: fixture.aws, input, ...rest });
    },
    registryItems<T>() {
      return fixture.aws.dynamodb.items(String(fixture.workflow.environment.REGISTRY_TABLE)) as T[];
    },
    record<T extends { readonly certificateId?: string }>(certificateId: string) {
      return fixture.registryItems<T>().find((item) => item.certificateId === certificateId);
    },
  };
  return fixture;
}
