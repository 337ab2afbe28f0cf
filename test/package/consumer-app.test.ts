import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeCertificates, type AcmeCertificatesProps } from '../../lib/index.js';
import { PACKAGE_ROOT } from '../../lib/lambda-bundle.js';
import { type Lockfile, lockfileSubset } from './lockfile-subset.js';

/**
 * The package as a user gets it: `npm pack` of what `npm run build` produced (the same bundles the
 * e2e suite deploys), installed offline into a fresh CDK app in a folder of its own, which
 * synthesizes a stack with `AcmeCertificates` under plain `node`. Its template must be the one
 * this repository synthesizes for the same props: same resources, IAM, state machines, and even
 * the same asset hashes, since the bundles are the same files.
 */

const PROPS = {
  directoryUrl: 'https://acme-staging-v02.api.letsencrypt.org/directory',
  contactEmail: 'ops@example.org',
  hostedZoneIds: ['Z0123456789ABCDEFGHIJ'],
  notificationEmails: ['oncall@example.org'],
  certificates: [
    { id: 'web', domains: ['example.org', '*.example.org'] },
    { id: 'api', domains: ['api.example.org'], keyType: 'RSA_2048', regions: ['us-east-1', 'eu-west-1'] },
  ],
} as const satisfies AcmeCertificatesProps;
const ENV = { account: '123456789012', region: 'eu-west-1' };

/** The consumer's app, written once for both module systems. */
function appSource(moduleSystem: 'esm' | 'cjs'): string {
  const imports =
    moduleSystem === 'esm'
      ? "import { App, Stack } from 'aws-cdk-lib';\nimport { AcmeCertificates } from 'acme-aws';\n"
      : "const { App, Stack } = require('aws-cdk-lib');\nconst { AcmeCertificates } = require('acme-aws');\n";
  return `${imports}
const app = new App({ outdir: process.argv[2], analyticsReporting: false });
const stack = new Stack(app, 'Consumer', { env: ${JSON.stringify(ENV)} });
new AcmeCertificates(stack, 'Acme', ${JSON.stringify(PROPS)});
app.synth();
`;
}

/** The environment of a child npm or node: none of the npm script's settings, no loaders. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !key.toLowerCase().startsWith('npm_') && key !== 'NODE_OPTIONS' && !key.startsWith('VITEST'),
    ),
  );
}

interface PackedFile {
  readonly path: string;
  readonly size: number;
}

let work: string;
let consumer: string;
let packed: { filename: string; files: PackedFile[]; size: number; unpackedSize: number };

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'acme-aws-consumer-'));
  consumer = join(work, 'app');
  mkdirSync(consumer);
  // --ignore-scripts: pack the dist/ the suite's setup built and the other tests ran, not a rebuild.
  const pack = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', consumer], {
    cwd: PACKAGE_ROOT,
    env: cleanEnv(),
    encoding: 'utf8',
  });
  const [result] = JSON.parse(pack) as (typeof packed)[];
  if (!result) throw new Error(`npm pack reported nothing: ${pack}`);
  packed = result;
  const tarball = readFileSync(join(consumer, packed.filename));
  const ourManifest = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
    version: string;
    dependencies: Record<string, string>;
    peerDependencies: Record<string, string>;
    bin: Record<string, string>;
    engines: Record<string, string>;
    license: string;
  };
  const repoLock = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package-lock.json'), 'utf8')) as Lockfile;
  const versionOf = (name: string) => String(repoLock.packages[`node_modules/${name}`]?.version);
  const dependencies = {
    'acme-aws': `file:${packed.filename}`,
    'aws-cdk-lib': versionOf('aws-cdk-lib'),
    constructs: versionOf('constructs'),
    // As in a TypeScript CDK app (`cdk init` adds it): the Node.js globals that declarations mention.
    '@types/node': versionOf('@types/node'),
  };
  const lock = lockfileSubset(repoLock, {
    name: 'consumer-app',
    dependencies,
    extraEntries: {
      'node_modules/acme-aws': {
        version: ourManifest.version,
        resolved: `file:${packed.filename}`,
        integrity: `sha512-${createHash('sha512').update(tarball).digest('base64')}`,
        license: ourManifest.license,
        dependencies: ourManifest.dependencies,
        peerDependencies: ourManifest.peerDependencies,
        bin: ourManifest.bin,
        engines: ourManifest.engines,
      },
    },
  });
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer-app', version: '1.0.0', private: true, dependencies }, null, 2),
  );
  writeFileSync(join(consumer, 'package-lock.json'), JSON.stringify(lock, null, 2));
  execFileSync('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
    cwd: consumer,
    env: cleanEnv(),
    encoding: 'utf8',
  });
  writeFileSync(join(consumer, 'app.mjs'), appSource('esm'));
  writeFileSync(join(consumer, 'app.cjs'), appSource('cjs'));
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function synthInConsumer(file: string): Record<string, unknown> {
  const outdir = join(work, `out-${file}`);
  const run = spawnSync(process.execPath, [file, outdir], {
    cwd: consumer,
    env: cleanEnv(),
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`node ${file} failed (${run.status}):\n${run.stderr}`);
  return JSON.parse(readFileSync(join(outdir, 'Consumer.template.json'), 'utf8')) as Record<string, unknown>;
}

function synthInRepo(): Record<string, unknown> {
  const app = new App({ outdir: join(work, 'out-repo'), analyticsReporting: false });
  const stack = new Stack(app, 'Consumer', { env: ENV });
  new AcmeCertificates(stack, 'Acme', PROPS);
  return app.synth().getStackArtifact(stack.artifactId).template as Record<string, unknown>;
}

describe('the npm package in a CDK app of its own', () => {
  it('installs offline with only the packages it declares: no TypeScript, tsx or esbuild', () => {
    const installed = readdirSync(join(consumer, 'node_modules'));

    expect(installed).toEqual(expect.arrayContaining(['acme-aws', 'aws-cdk-lib', 'constructs', 'valibot']));
    for (const tool of ['typescript', 'tsx', 'esbuild', '@esbuild', 'vitest'])
      expect(installed).not.toContain(tool);
  });

  it('synthesizes under plain node from an ES module app the same template as this repository, asset hashes included', () => {
    expect(synthInConsumer('app.mjs')).toEqual(synthInRepo());
  });

  it('synthesizes the same template from a CommonJS app (require of the ES module package)', () => {
    expect(synthInConsumer('app.cjs')).toEqual(synthInRepo());
  });

  it('type-checks the README example against the package’s declarations, as a TypeScript app would', () => {
    const readme = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Use it in your CDK app'));
    const example = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    if (!example) throw new Error('README: no TypeScript example under "Use it in your CDK app"');
    writeFileSync(join(consumer, 'stack.ts'), example);
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          lib: ['ES2022', 'ESNext.Disposable'],
          noEmit: true,
          types: ['node'],
        },
        files: ['stack.ts'],
      }),
    );
    // The repository's compiler, run in the consumer's folder: the consumer installs no TypeScript.
    const tsc = spawnSync(
      process.execPath,
      [join(PACKAGE_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'],
      {
        cwd: consumer,
        env: cleanEnv(),
        encoding: 'utf8',
      },
    );

    expect(example).toContain("from 'acme-aws'");
    expect(`${tsc.stdout}${tsc.stderr}`).toBe('');
    expect(tsc.status).toBe(0);
  });

  it('runs the acme-aws CLI from node_modules/.bin', () => {
    const run = spawnSync(join(consumer, 'node_modules', '.bin', 'acme-aws'), ['--help'], {
      cwd: consumer,
      env: cleanEnv(),
      encoding: 'utf8',
    });

    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^Usage: acme-aws/m);
  });
});
