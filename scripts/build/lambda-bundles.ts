import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import {
  BUNDLE_FILE,
  BUNDLED_ASSETS_DIR,
  OLDEST_NODE_MAJOR,
  PACKAGE_ROOT,
  TRACING_FILE,
} from '../../lib/lambda-bundle.js';

/**
 * How every step's Lambda bundle is built: the one definition behind `npm run build`, whose output
 * (`dist/assets/<folder>/`) the construct deploys, the npm package ships, the e2e suite runs and
 * the benchmarks measure.
 *
 * esbuild runs in-process through its JavaScript API, with no Docker and no `npx`. The options
 * are those `NodejsFunction` would pass, plus `keepNames`: Lambda reports a thrown error's `name`
 * as its `errorType`, Step Functions matches `Retry` and `Catch` on it, and a minifier that
 * renames classes would turn `BadNonceError` into `Q`.
 */

/** The runtimes the bundles are built for: the oldest accepted and the default (`nodejs24.x`). */
export const BUNDLE_TARGETS: string[] = [`node${OLDEST_NODE_MAJOR}`, 'node24'];

/**
 * Options for every bundle, without the entry point. `@aws-sdk/*` stays external because the
 * Node.js 18+ Lambda runtimes provide the SDK v3 (CDK's default for those runtimes), and so does
 * the tracing module, which ships beside the bundle ({@link TRACING_FILE}); everything else is
 * inlined, so a bundle imports nothing its asset and the runtime lack.
 */
export const BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: BUNDLE_TARGETS,
  minify: true,
  keepNames: true,
  sourcemap: false,
  mainFields: ['module', 'main'],
  external: ['@aws-sdk/*', `./${TRACING_FILE}`],
  // The licence texts of the inlined packages ship beside the bundle, in the same asset
  // (`index.mjs.LEGAL.txt`), instead of inside the code that Lambda loads at every cold start.
  legalComments: 'linked',
  // Some dependencies still call require(); an ESM bundle needs it defined.
  banner: {
    js: "import{createRequire as __acmeCreateRequire}from'node:module';const require=__acmeCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
} as const satisfies BuildOptions;

/** esbuild's metafile of each bundle, beside the assets but outside them (and outside the package). */
export const BUNDLE_METAFILES_DIR = join(PACKAGE_ROOT, 'dist', 'bundle-meta');

/** The handler source of a step folder, `lambdas/<folder>/handler.ts`. */
export function handlerEntry(folder: string): string {
  return join(PACKAGE_ROOT, 'lambdas', folder, 'handler.ts');
}

/** The tracing module's source, bundled into {@link TRACING_FILE}. */
export const TRACING_ENTRY = fileURLToPath(new URL('../../lambdas/adapters/tracing.mts', import.meta.url));

/** Every step folder: each folder of `lambdas/` with a `handler.ts`. */
export function handlerFolders(): string[] {
  const lambdas = join(PACKAGE_ROOT, 'lambdas');
  return readdirSync(lambdas, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(lambdas, entry.name, 'handler.ts')))
    .map((entry) => entry.name)
    .sort();
}

/** One bundle as built. */
export interface BuiltBundle {
  readonly folder: string;
  /** The asset folder: `index.mjs`, `tracing.mjs` and their licence texts. */
  readonly assetDir: string;
  readonly bytes: number;
}

/** The metafile `npm run build` wrote for a step's `index.mjs`. */
export function bundleMetafilePath(folder: string): string {
  return join(BUNDLE_METAFILES_DIR, `${folder}.json`);
}

/**
 * Builds every step's bundle into a fresh `dist/assets`, with the tracing module built once and
 * copied beside each, and writes each bundle's metafile to `dist/bundle-meta`. The build goes to
 * folders of this process first and replaces the old ones at the end, so a build running at the
 * same time (a test run beside `npm run bench`) never sees half of another's output.
 */
export async function buildLambdaBundles(): Promise<BuiltBundle[]> {
  const assetsDir = `${BUNDLED_ASSETS_DIR}.building-${process.pid}`;
  const metafilesDir = `${BUNDLE_METAFILES_DIR}.building-${process.pid}`;
  const tracingDir = join(metafilesDir, 'tracing');
  mkdirSync(metafilesDir, { recursive: true });
  try {
    const tracing = await build({
      ...BUNDLE_OPTIONS,
      absWorkingDir: PACKAGE_ROOT,
      entryPoints: [TRACING_ENTRY],
      outfile: join(tracingDir, TRACING_FILE),
      metafile: true,
    });
    appendPackageLicences(tracing.metafile, join(tracingDir, `${TRACING_FILE}.LEGAL.txt`));
    const tracingFiles = readdirSync(tracingDir);
    const bundles = await Promise.all(
      handlerFolders().map(async (folder): Promise<BuiltBundle> => {
        const result = await build({
          ...BUNDLE_OPTIONS,
          absWorkingDir: PACKAGE_ROOT,
          entryPoints: [handlerEntry(folder)],
          outfile: join(assetsDir, folder, BUNDLE_FILE),
          metafile: true,
        });
        appendPackageLicences(result.metafile, join(assetsDir, folder, `${BUNDLE_FILE}.LEGAL.txt`));
        for (const file of tracingFiles) copyFileSync(join(tracingDir, file), join(assetsDir, folder, file));
        writeFileSync(join(metafilesDir, `${folder}.json`), JSON.stringify(result.metafile));
        return { folder, assetDir: join(BUNDLED_ASSETS_DIR, folder), bytes: bundleBytes(result.metafile) };
      }),
    );
    rmSync(tracingDir, { recursive: true, force: true });
    replaceFolder(assetsDir, BUNDLED_ASSETS_DIR);
    replaceFolder(metafilesDir, BUNDLE_METAFILES_DIR);
    return bundles;
  } finally {
    rmSync(assetsDir, { recursive: true, force: true });
    rmSync(metafilesDir, { recursive: true, force: true });
  }
}

/**
 * The npm packages whose code a bundle inlines, as their folders relative to the package root
 * (a nested `node_modules` copy is its own package), by the input paths its metafile lists.
 */
export function inlinedPackages(metafile: Metafile): string[] {
  const folders = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match?.[1]) folders.add(match[1]);
  }
  return [...folders].sort();
}

/** Written for a package with no licence file, such as Powertools (MIT-0, which asks for no notice). */
export const NO_LICENCE_FILE = '(the package ships no licence file; its licence is the one named above)';

const LICENCE_FILE = /^(?:licen[cs]e|copying|notice)(?:\.(?:md|txt))?$/i;

/**
 * Appends the licence of every package the bundle inlines to its `LEGAL.txt`: esbuild keeps only
 * comments annotated `@license` or `@preserve`, and most packages (jose, tldts, the asn1 schemas)
 * carry their MIT or Apache text in a LICENSE file instead, which their licences require us to
 * ship with the code.
 */
function appendPackageLicences(metafile: Metafile, legalPath: string): void {
  const sections = inlinedPackages(metafile).map((packageFolder) => {
    const folder = join(PACKAGE_ROOT, packageFolder);
    const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as {
      name?: string;
      version?: string;
      license?: string;
    };
    const files = readdirSync(folder)
      .filter((file) => LICENCE_FILE.test(file))
      .sort();
    const texts = files.map((file) => readFileSync(join(folder, file), 'utf8').trim());
    const heading = `${manifest.name ?? packageFolder}@${manifest.version ?? '?'} (${manifest.license ?? 'licence not declared'})`;
    return [heading, ...(texts.length > 0 ? texts : [NO_LICENCE_FILE])].join('\n\n');
  });
  if (sections.length === 0) return;
  appendFileSync(
    legalPath,
    `\n\nLicences of the packages inlined in this file:\n\n${sections.join('\n\n---\n\n')}\n`,
  );
}

function replaceFolder(built: string, target: string): void {
  rmSync(target, { recursive: true, force: true });
  renameSync(built, target);
}

function bundleBytes(metafile: Metafile): number {
  const output = Object.entries(metafile.outputs).find(([path]) => path.endsWith(BUNDLE_FILE));
  return output?.[1].bytes ?? 0;
}
