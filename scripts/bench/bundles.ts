import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { BUNDLE_FILE, PACKAGE_ROOT } from '../../lib/lambda-bundle.js';
import { STEP_HANDLERS } from '../../lib/steps.js';
import type { SynthesizedStack } from '../../test/harness/cloud/assembly.js';
import { BUNDLE_OPTIONS, handlerEntry } from '../build/lambda-bundles.js';

/**
 * The Lambda bundles that ship: each function's `index.mjs` in the synthesized cloud assembly
 * (what `cdk deploy` uploads), measured as they are, then imported by fresh `node` processes.
 * `npm run build` builds them (scripts/build/lambda-bundles.ts, with its `BUNDLE_OPTIONS`) into
 * `dist/assets/<folder>/`, which the npm package ships; the construct deploys those folders with
 * `lambda.Code.fromAsset`, and synthesis copies them into the cloud assembly. What went into each
 * bundle comes from esbuild's metafile of a second build with the same options, here, which the
 * bench checks is byte-identical to the asset (so the sources did not change since the build).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The esbuild options of every bundle, as scripts/build/lambda-bundles.ts defines them, for the results. */
export interface BundleSettings {
  /** esbuild's targets, comma-separated as its `--target` takes them. */
  readonly target: string;
  readonly format: string;
  readonly platform: string;
  readonly minify: boolean;
  readonly keepNames: boolean;
  readonly mainFields: readonly string[];
  readonly external: readonly string[];
  readonly banner: string;
  /** Why `external` is what it is. */
  readonly externalReason: string;
}

export function bundleSettings(): BundleSettings {
  return {
    target: BUNDLE_OPTIONS.target.join(','),
    format: BUNDLE_OPTIONS.format,
    platform: BUNDLE_OPTIONS.platform,
    minify: BUNDLE_OPTIONS.minify,
    keepNames: BUNDLE_OPTIONS.keepNames,
    mainFields: [...BUNDLE_OPTIONS.mainFields],
    external: [...BUNDLE_OPTIONS.external],
    banner: BUNDLE_OPTIONS.banner.js,
    externalReason:
      'the Node.js 18+ Lambda runtimes provide the AWS SDK v3, so `npm run build` leaves `@aws-sdk/*` out and inlines everything else (`@smithy/*` included); the X-Ray tracing module is built once into `tracing.mjs`, copied beside each bundle in its asset folder and imported only by traced invocations',
  };
}

/** The configuration of one function in the synthesized template. */
export interface FunctionConfig {
  readonly logicalId: string;
  readonly memoryMb: number;
  readonly architecture: 'arm64' | 'x86_64';
  readonly runtime: string;
}

/** One function's bundle as the cloud assembly holds it, not yet timed. */
export interface ShippedBundle {
  /** The state-machine step it serves, or its folder for a function outside the state machine. */
  readonly name: string;
  readonly folder: string;
  /** The `index.mjs` in the assembly's asset folder. */
  readonly file: string;
  /** The S3 object key the template's function code refers to. */
  readonly objectKey: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  /** SHA-256 of the asset's `index.mjs`. */
  readonly sha256: string;
  /** SHA-256 of `index.mjs` built again with scripts/build/lambda-bundles.ts's options, for the metafile. */
  readonly rebuiltSha256: string;
  /** Bytes of the same build without `keepNames`: what keeping class and function names costs. */
  readonly bytesWithoutKeepNames: number;
  /** The largest contributors to the output, by package (or by our own folder), from the rebuild's metafile. */
  readonly largestInputs: readonly { readonly name: string; readonly bytes: number }[];
  /** The externalized modules the bundle imports (what the Lambda runtime provides). */
  readonly externalImports: readonly string[];
  readonly config: FunctionConfig;
}

/**
 * Every function's bundle in the synthesized stacks, one per step folder (`ACME_STEP`); a folder
 * in more than one stack is taken from the first. The `index.mjs` is read from the asset folder
 * the function's `Code.S3Key` names.
 */
export async function shippedBundles(stacks: readonly SynthesizedStack[]): Promise<ShippedBundle[]> {
  const found = new Map<string, { file: string; objectKey: string; config: FunctionConfig }>();
  for (const stack of stacks) {
    for (const [logicalId, resource] of Object.entries(stack.template.Resources)) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const properties = resource.Properties ?? {};
      const folder = (properties.Environment as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables?.ACME_STEP;
      const objectKey = (properties.Code as { S3Key?: unknown } | undefined)?.S3Key;
      if (typeof folder !== 'string' || typeof objectKey !== 'string' || found.has(folder)) continue;
      const assetFolder = stack.assetFolders[objectKey];
      if (!assetFolder)
        throw new Error(`${logicalId}: no asset folder for ${objectKey} in the cloud assembly`);
      const architectures = properties.Architectures as string[] | undefined;
      found.set(folder, {
        file: join(assetFolder, BUNDLE_FILE),
        objectKey,
        config: {
          logicalId,
          // Lambda's defaults when the template leaves them out.
          memoryMb: Number(properties.MemorySize ?? 128),
          architecture: architectures?.[0] === 'arm64' ? 'arm64' : 'x86_64',
          runtime: String(properties.Runtime ?? 'unknown'),
        },
      });
    }
  }
  const stepByFolder = new Map<string, string>(
    Object.entries(STEP_HANDLERS).map(([step, folder]) => [folder, step]),
  );
  const order = (folder: string) => {
    const index = [...stepByFolder.keys()].indexOf(folder);
    return index === -1 ? Number.MAX_SAFE_INTEGER : index;
  };
  const bundles: ShippedBundle[] = [];
  for (const [folder, { file, objectKey, config }] of [...found].sort(
    ([a], [b]) => order(a) - order(b) || a.localeCompare(b),
  )) {
    const code = readFileSync(file);
    // As scripts/build/lambda-bundles.ts builds it (`absWorkingDir` too: the metafile's paths are
    // relative to it), but into memory.
    const rebuilt = await build({
      ...BUNDLE_OPTIONS,
      absWorkingDir: PACKAGE_ROOT,
      mainFields: [...BUNDLE_OPTIONS.mainFields],
      external: [...BUNDLE_OPTIONS.external],
      entryPoints: [handlerEntry(folder)],
      outfile: join(ROOT, 'bench-rebuild', folder, BUNDLE_FILE),
      write: false,
      metafile: true,
      logLevel: 'error',
    });
    const rebuiltCode = codeOf(rebuilt.outputFiles);
    const withoutKeepNames = await build({
      ...BUNDLE_OPTIONS,
      absWorkingDir: PACKAGE_ROOT,
      keepNames: false,
      mainFields: [...BUNDLE_OPTIONS.mainFields],
      external: [...BUNDLE_OPTIONS.external],
      entryPoints: [handlerEntry(folder)],
      outfile: join(ROOT, 'bench-rebuild', folder, BUNDLE_FILE),
      write: false,
      logLevel: 'error',
    });
    bundles.push({
      name: stepByFolder.get(folder) ?? folder,
      folder,
      file,
      objectKey,
      bytes: code.length,
      gzipBytes: gzipSync(code).length,
      sha256: sha256(code),
      rebuiltSha256: sha256(rebuiltCode),
      bytesWithoutKeepNames: codeOf(withoutKeepNames.outputFiles).length,
      largestInputs: largestInputs(rebuilt.metafile),
      // tracing.mjs ships in the asset, not the runtime, and loads only for traced invocations.
      externalImports: importedExternals(
        code.toString('utf8'),
        BUNDLE_OPTIONS.external.filter((module) => module.startsWith('@aws-sdk/')),
      ),
      config,
    });
  }
  return bundles;
}

/** Handler folders under lambdas/ that no function of the synthesized stacks runs. */
export function handlersOutsideStacks(bundles: readonly ShippedBundle[]): string[] {
  const shipped = new Set(bundles.map((bundle) => bundle.folder));
  return readdirSync(join(ROOT, 'lambdas'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(ROOT, 'lambdas', entry.name, 'handler.ts')))
    .map((entry) => entry.name)
    .filter((folder) => !shipped.has(folder))
    .sort();
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

/**
 * Times a fresh `node` process importing each bundle, `samples` times, and importing only the SDK
 * modules it imports. Round-robin over the bundles, one SDK-only import per distinct set of SDK
 * modules per round, so that every series sees the same background load. Each bundle is copied
 * from the assembly into `workDir/<folder>/index.mjs`, next to a `node_modules` that links to the
 * project's, so the externalized `@aws-sdk/*` resolves as the Lambda runtime would provide it.
 */
export async function timeInit(options: {
  readonly workDir: string;
  readonly bundles: readonly ShippedBundle[];
  /** Each function's environment variables, as deployed, by step folder. */
  readonly environment: (folder: string) => Readonly<Record<string, string>>;
  readonly samples: number;
}): Promise<Map<string, InitTimings>> {
  await mkdir(options.workDir, { recursive: true });
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
  const copies = new Map<string, string>();
  for (const bundle of options.bundles) {
    const copy = join(options.workDir, bundle.folder, BUNDLE_FILE);
    await mkdir(join(options.workDir, bundle.folder), { recursive: true });
    await copyFile(bundle.file, copy);
    copies.set(bundle.folder, copy);
  }
  const externalsModules = new Map<string, { file: string; folder: string }>();
  for (const bundle of options.bundles) {
    const key = bundle.externalImports.join('\n');
    if (externalsModules.has(key)) continue;
    const file = join(options.workDir, `externals-${externalsModules.size}.mjs`);
    await writeFile(file, bundle.externalImports.map((name) => `import ${JSON.stringify(name)};\n`).join(''));
    externalsModules.set(key, { file, folder: bundle.folder });
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
      const timing = await importOnce(
        probe,
        copies.get(bundle.folder) ?? bundle.file,
        options.environment(bundle.folder),
      );
      timings.get(bundle.folder)?.importMs.push(timing.importMs);
      timings.get(bundle.folder)?.processMs.push(timing.processMs);
    }
    for (const [key, { file, folder }] of externalsModules) {
      externalsMs.get(key)?.push((await importOnce(probe, file, options.environment(folder))).importMs);
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
      env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1', ...environment },
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

function sha256(code: Uint8Array): string {
  return createHash('sha256').update(code).digest('hex');
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
  // One entry point, no splitting: the bundle is the only output with inputs (`legalComments:
  // 'linked'` adds its licence text, `index.mjs.LEGAL.txt`, as another output, with none).
  const output = Object.entries(metafile.outputs).find(([path]) => path.endsWith(BUNDLE_FILE))?.[1];
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

/** The bundle itself among esbuild's outputs (the licence texts are written beside it). */
function codeOf(outputs: readonly { readonly path: string; readonly contents: Uint8Array }[]): Uint8Array {
  return outputs.find((output) => output.path.endsWith(BUNDLE_FILE))?.contents ?? new Uint8Array();
}
