import { setTimeout as delay } from 'node:timers/promises';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';

/**
 * Everything a command touches outside itself: output streams, time and AWS clients. `main`
 * builds the real one; tests pass their own clock and sleep so polling is instant.
 */
export interface CliEnvironment {
  /** Writes to standard output; `text` carries its own newlines. */
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly now: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
  /** Time between two polls of a running execution. */
  readonly pollIntervalMs: number;
  readonly clients: AwsClients;
}

/**
 * SDK clients. Region `undefined` means the SDK's default chain (AWS_REGION, the profile);
 * state machines and the table are always reached in the stack's own region.
 */
export interface AwsClients {
  cloudFormation(region: string | undefined): CloudFormationClient;
  stepFunctions(region: string): SFNClient;
  dynamoDb(region: string): DynamoDBClient;
}

const CUSTOM_USER_AGENT = 'acme-aws-cli';

/** Clients built on first use per region, with the SDK's credential and retry defaults. */
export function sdkClients(): AwsClients {
  const cache = new Map<string, unknown>();
  const cached = <T>(key: string, create: () => T): T => {
    if (!cache.has(key)) cache.set(key, create());
    return cache.get(key) as T;
  };
  const config = (region: string | undefined) => ({
    customUserAgent: CUSTOM_USER_AGENT,
    ...(region ? { region } : {}),
  });
  return {
    cloudFormation: (region) =>
      cached(`cloudformation:${region ?? ''}`, () => new CloudFormationClient(config(region))),
    stepFunctions: (region) => cached(`sfn:${region}`, () => new SFNClient(config(region))),
    dynamoDb: (region) => cached(`dynamodb:${region}`, () => new DynamoDBClient(config(region))),
  };
}

/** The process's streams, the system clock, real sleeps and SDK clients. */
export function processEnvironment(): CliEnvironment {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    now: () => new Date(),
    sleep: (ms) => delay(ms),
    pollIntervalMs: 2000,
    clients: sdkClients(),
  };
}
