import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { STEP_HANDLERS } from '../../lib/steps.js';

/**
 * Each Lambda bundled the way `cdk synth` bundles it, then imported by fresh `node` processes.
 *
 * The esbuild options mirror `lib/acme-certificates.ts` (its `bundling` block) plus what
 * `NodejsFunction` adds on its own: `--bundle --platform=node`, a target from the runtime, and
 * its default externals. For a Node.js 18+ runtime CDK externalizes `@aws-sdk/*` (the SDK v3 the
 * Lambda runtime provides), and also `@smithy/*` only when the feature flag
 * `@aws-cdk/aws-lambda-nodejs:sdkV3ExcludeSmithyPackages` is on; that flag is read from cdk.json.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The banner `lib/acme-certificates.ts` sets: some dependencies call require() in an ESM bundle. */
const BANNER =
  "import{createRequire as __acmeCreateRequire}from'node:module';const require=__acmeCreateRequire(import.meta.url);";
const SMITHY_FLAG = '@aws-cdk/aws-lambda-nodejs:sdkV3ExcludeSmithyPackages';

/** The esbuild settings used, for the results. */
export interface BundleSettings {
  readonly target: string;
  readonly format: 'esm';
  readonly platform: 'node';
  readonly minify: true;
  readonly mainFields: readonly string[];
  readonly external: readonly string[];
  readonly banner: string;
  /** Why `external` is what it is. */
  readonly externalReason: string;
}

/** One function's bundle, built but not yet timed. */
export interface BuiltBundle {
  /** The state-machine step it serves, or its folder for a function outside the state machine. */
  readonly name: string;
  readonly folder: string;
  readonly outfile: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  /** SHA-256 of the bundle, to compare with what `cdk synth` ships. */
  readonly sha256: string;
  /** The largest contributors to the output, by package (or by our own folder). */
  readonly largestInputs: readonly { readonly name: string; readonly bytes: number }[];
  /** The externalized modules the bundle imports (what the Lambda runtime provides). */
  readonly externalImports: readonly string[];
}

/** Init timings of one bundle, one entry per sample. */
export interface InitTimings {
  /** Milliseconds to `import()` the bundle in a fresh `node` process. */
  readonly importMs: readonly number[];
  /** Milliseconds from spawning that process to its exit. */
  readonly processMs: readonly number[];
  /** Milliseconds to import only the bundle's `externalImports` the same way. */
  readonly externalImportMs: readonly number[];
}

/** The esbuild options for a runtime such as `nodejs22.x`, mirroring CDK's NodejsFunction. */
export function bundleSettings(runtime: string): BundleSettings {
  const version = runtime.match(/^nodejs(\d+)/)?.[1];
  if (!version) throw new Error(`Not a Node.js Lambda runtime: ${runtime}`);
  const context = (
    JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> }
  ).context;
  const excludeSmithy = context?.[SMITHY_FLAG] === true;
  return {
    target: `node${version}`,
    format: 'esm',
    platform: 'node',
    minify: true,
    mainFields: ['module', 'main'],
    external: excludeSmithy ? ['@aws-sdk/*', '@smithy/*'] : ['@aws-sdk/*'],
    banner: BANNER,
    externalReason: excludeSmithy
      ? `CDK's default for ${runtime} with ${SMITHY_FLAG} on in cdk.json`
      : `CDK's default for ${runtime} (Node.js 18+ runtimes): ${SMITHY_FLAG} is not set in cdk.json, so @smithy/* is bundled`,
  };
}

/** Every `lambdas/<folder>/handler.ts`, named by its state-machine step where it has one. */
export function listHandlers(): { name: string; folder: string }[] {
  const stepByFolder = new Map<string, string>(
    Object.entries(STEP_HANDLERS).map(([step, folder]) => [folder, step]),
  );
  return readdirSync(join(ROOT, 'lambdas'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(ROOT, 'lambdas', entry.name, 'handler.ts')))
    .map((entry) => ({ name: stepByFolder.get(entry.name) ?? entry.name, folder: entry.name }))
    .sort((a, b) => order(a.folder) - order(b.folder) || a.folder.localeCompare(b.folder));

  function order(folder: string): number {
    const index = [...stepByFolder.keys()].indexOf(folder);
    return index === -1 ? Number.MAX_SAFE_INTEGER : index;
  }
}

/** Bundles every handler into `workDir/<folder>/index.mjs`. */
export async function buildBundles(workDir: string, settings: BundleSettings): Promise<BuiltBundle[]> {
  const bundles: BuiltBundle[] = [];
  for (const { name, folder } of listHandlers()) {
    const outfile = join(workDir, folder, 'index.mjs');
    const result = await build({
      entryPoints: [join(ROOT, 'lambdas', folder, 'handler.ts')],
      outfile,
      bundle: true,
      platform: settings.platform,
      format: settings.format,
      target: settings.target,
      minify: settings.minify,
      mainFields: [...settings.mainFields],
      external: [...settings.external],
      banner: { js: settings.banner },
      metafile: true,
      logLevel: 'error',
    });
    const code = readFileSync(outfile);
    bundles.push({
      name,
      folder,
      outfile,
      bytes: code.length,
      gzipBytes: gzipSync(code).length,
      sha256: createHash('sha256').update(code).digest('hex'),
      largestInputs: largestInputs(result.metafile),
      externalImports: importedExternals(code.toString('utf8'), settings.external),
    });
  }
  return bundles;
}

/**
 * Times a fresh `node` process importing each bundle, `samples` times, and importing only the SDK
 * modules it imports. Round-robin over the bundles, one SDK-only import per distinct set of SDK
 * modules per round, so that every series sees the same background load. `workDir/node_modules`
 * links to the project's, so the externalized `@aws-sdk/*` resolves as the Lambda runtime would
 * provide it.
 */
export async function timeInit(options: {
  readonly workDir: string;
  readonly bundles: readonly BuiltBundle[];
  readonly environment: Readonly<Record<string, string>>;
  readonly samples: number;
}): Promise<Map<string, InitTimings>> {
  await symlink(join(ROOT, 'node_modules'), join(options.workDir, 'node_modules'), 'dir');
  const probe = join(options.workDir, 'import-probe.mjs');
  await writeFile(
    probe,
    [
      'const started = performance.now();',
      'await import(process.argv[2]);',
      'process.stdout.write(String(performance.now() - started));',
      '',
    ].join('\n'),
  );
  const externalsModules = new Map<string, string>();
  for (const bundle of options.bundles) {
    const key = bundle.externalImports.join('\n');
    if (externalsModules.has(key)) continue;
    const file = join(options.workDir, `externals-${externalsModules.size}.mjs`);
    await writeFile(file, bundle.externalImports.map((name) => `import ${JSON.stringify(name)};\n`).join(''));
    externalsModules.set(key, file);
  }

  const timings = new Map(
    options.bundles.map((bundle) => [
      bundle.folder,
      { importMs: [] as number[], processMs: [] as number[], externalImportMs: [] as number[] },
    ]),
  );
  const externalsMs = new Map<string, number[]>([...externalsModules.keys()].map((key) => [key, []]));
  for (let sample = 0; sample < options.samples; sample += 1) {
    for (const bundle of options.bundles) {
      const timing = await importOnce(probe, bundle.outfile, options.environment);
      timings.get(bundle.folder)?.importMs.push(timing.importMs);
      timings.get(bundle.folder)?.processMs.push(timing.processMs);
    }
    for (const [key, file] of externalsModules) {
      externalsMs.get(key)?.push((await importOnce(probe, file, options.environment)).importMs);
    }
  }
  for (const bundle of options.bundles) {
    timings
      .get(bundle.folder)
      ?.externalImportMs.push(...(externalsMs.get(bundle.externalImports.join('\n')) ?? []));
  }
  return timings;
}

function importOnce(
  probe: string,
  bundle: string,
  environment: Readonly<Record<string, string>>,
): Promise<{ importMs: number; processMs: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [probe, bundle], {
      env: { PATH: process.env.PATH ?? '', ...environment },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const processMs = performance.now() - started;
      const importMs = Number(stdout);
      if (code !== 0 || !Number.isFinite(importMs)) {
        reject(new Error(`importing ${bundle} failed (exit ${code}):\n${stderr.slice(-2000)}`));
      } else {
        resolve({ importMs, processMs });
      }
    });
  });
}

/**
 * Runs the project's own `cdk synth` (bin/app.ts, cdk.json, local esbuild) into `outDir` and
 * returns the SHA-256 of each function's `index.mjs` by handler folder: what `cdk deploy` would
 * upload, to check the bench's bundles against. Undefined, with the reason, when synth fails.
 */
export function cdkSynthBundles(outDir: string): { hashes?: Map<string, string>; error?: string } {
  const cdk = join(ROOT, 'node_modules', '.bin', 'cdk');
  const result = spawnSync(cdk, ['synth', '--quiet', '--output', outDir], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (result.status !== 0) {
    const output = `${result.stderr ?? ''} ${result.error?.message ?? ''}`.replace(/\s+/g, ' ').trim();
    return { error: `cdk synth failed (exit ${result.status}): ${output.slice(-400)}` };
  }
  const hashes = new Map<string, string>();
  for (const file of readdirSync(outDir).filter((name) => name.endsWith('.template.json'))) {
    const template = JSON.parse(readFileSync(join(outDir, file), 'utf8')) as {
      Resources?: Record<
        string,
        { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> }
      >;
    };
    for (const resource of Object.values(template.Resources ?? {})) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const folder = (resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables?.ACME_STEP;
      const assetPath = resource.Metadata?.['aws:asset:path'];
      if (typeof folder !== 'string' || typeof assetPath !== 'string') continue;
      const code = readFileSync(join(outDir, assetPath, 'index.mjs'));
      hashes.set(folder, createHash('sha256').update(code).digest('hex'));
    }
  }
  return { hashes };
}

/** The module specifiers a minified ESM bundle imports that match the external patterns. */
function importedExternals(code: string, externals: readonly string[]): string[] {
  const prefixes = externals.map((pattern) => pattern.replace(/\*$/, ''));
  const found = new Set<string>();
  // Static imports and the adapters' lazy `import("@aws-sdk/…")` alike: either way the module is
  // loaded before the step's first call returns, so its cost belongs to a cold start.
  for (const match of code.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*["']([^"']+)["']/g)) {
    const name = match[1];
    if (name && prefixes.some((prefix) => name.startsWith(prefix))) found.add(name);
  }
  return [...found].sort();
}

/** Output bytes per npm package (scoped ones whole) or per folder of ours, largest first. */
function largestInputs(metafile: Metafile): { name: string; bytes: number }[] {
  // One entry point, no splitting: the bundle is the only output.
  const output = Object.values(metafile.outputs)[0];
  const byName = new Map<string, number>();
  for (const [path, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    const packagePath = path.split('node_modules/').at(-1) ?? path;
    const name = path.includes('node_modules/')
      ? packagePath
          .split('/')
          .slice(0, packagePath.startsWith('@') ? 2 : 1)
          .join('/')
      : path.split('/').slice(0, 2).join('/');
    byName.set(name, (byName.get(name) ?? 0) + bytesInOutput);
  }
  return [...byName]
    .map(([name, bytes]) => ({ name, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 4);
}
