import '../../setup/polyfills.js';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AcmeStack, type AcmeStackProps } from '../../../lib/acme-stack.js';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './constants.js';

/**
 * The cloud assembly `cdk synth` writes, as `cdk deploy` would upload it: the stack template and
 * the bundled asset of every function. Synthesis copies the bundles `npm run build` wrote to
 * dist/assets (the files the package ships) into the assembly; one output folder per process lets CDK reuse an asset it already staged
 * in this process for another synthesis.
 */

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DependsOn?: string | readonly string[];
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
  readonly Condition?: string;
}

export interface CfnTemplate {
  readonly Resources: Readonly<Record<string, CfnResource>>;
  readonly Outputs?: Readonly<Record<string, { readonly Value: unknown }>>;
  readonly Conditions?: Readonly<Record<string, unknown>>;
}

export interface SynthesizedStack {
  readonly stackName: string;
  readonly template: CfnTemplate;
  /** The cloud assembly folder. */
  readonly directory: string;
  /** The folder of each file asset in the assembly, by the S3 object key the template refers to. */
  readonly assetFolders: Readonly<Record<string, string>>;
  /** The props the stack was synthesized with, for a redeploy with changes. */
  readonly props: StackPropsForTest;
}

/** The stack's props, as tests pass them: `acme` is merged over the defaults. */
export interface StackPropsForTest {
  readonly acme?: Partial<AcmeStackProps['acme']>;
  readonly stackName?: string;
  /** `externalAccountBindingSecret`, as an existing secret's complete ARN. */
  readonly externalAccountBindingSecretArn?: string;
  /** `kmsKey` of declared certificates, as existing keys' ARNs by certificate id (the caller's own keys). */
  readonly certificateKeyArns?: Readonly<Record<string, string>>;
}

const OUTDIR = join(tmpdir(), `acme-aws-assembly-${process.pid}`);
process.once('exit', () => rmSync(OUTDIR, { recursive: true, force: true }));
const cache = new Map<string, SynthesizedStack>();

/** Synthesizes the stack with its bundled assets, once per distinct configuration in this process. */
export function synthesizeStack(props: StackPropsForTest = {}): SynthesizedStack {
  const key = JSON.stringify(props, (_key, value) =>
    typeof value === 'object' && value !== null && !Array.isArray(value) && value.constructor !== Object
      ? `${value.constructor.name}:${JSON.stringify(value)}`
      : value,
  );
  const cached = cache.get(key);
  if (cached) return cached;
  const stackName = props.stackName ?? 'AcmeLocal';
  // CDK's built-in template validation (a WASM linter, seconds per synthesis) runs in the CDK tests;
  // here the template goes on to a deployment that checks what it uses.
  const app = new App({ outdir: OUTDIR, builtinCloudFormationValidation: false });
  const env = { account: LOCAL_ACCOUNT, region: LOCAL_REGION };
  // Existing resources are imported by ARN in a stack of their own, as an app would reference them.
  const imports = new Stack(app, `${stackName}Imports`, { env });
  const secretArn = props.externalAccountBindingSecretArn;
  const certificates = props.acme?.certificates?.map((certificate) => {
    const keyArn = props.certificateKeyArns?.[certificate.id];
    return keyArn
      ? { ...certificate, kmsKey: kms.Key.fromKeyArn(imports, `Key-${certificate.id}`, keyArn) }
      : certificate;
  });
  const stack = new AcmeStack(app, stackName, {
    acme: {
      // A list of CAs replaces the one directory URL.
      ...(props.acme?.certificateAuthorities ? {} : { directoryUrl: 'https://acme.invalid/directory' }),
      ...props.acme,
      ...(certificates ? { certificates } : {}),
      ...(secretArn
        ? {
            externalAccountBindingSecret: secretsmanager.Secret.fromSecretCompleteArn(
              imports,
              'Eab',
              secretArn,
            ),
          }
        : {}),
    },
    env,
  });
  const assembly = app.synth();
  const artifact = assembly.getStackArtifact(stack.artifactId);
  // Read at once: the next synthesis in this process writes its own template to the same folder.
  const template = structuredClone(artifact.template) as CfnTemplate;
  const manifest = JSON.parse(
    readFileSync(join(assembly.directory, `${artifact.stackName}.assets.json`), 'utf8'),
  ) as {
    files: Record<string, { source: { path: string }; destinations: Record<string, { objectKey: string }> }>;
  };
  const assetFolders: Record<string, string> = {};
  for (const file of Object.values(manifest.files)) {
    for (const destination of Object.values(file.destinations)) {
      assetFolders[destination.objectKey] = join(assembly.directory, file.source.path);
    }
  }
  const synthesized = { stackName, template, directory: assembly.directory, assetFolders, props };
  cache.set(key, synthesized);
  return synthesized;
}
