import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_FILE, PACKAGE_ROOT, TRACING_FILE } from '../../lib/lambda-bundle.js';
import { handlerFolders } from '../../scripts/build/lambda-bundles.js';

/**
 * What `npm pack` would put into the package, read from `npm pack --dry-run` after the suite's
 * build: the compiled library and CLI with their declarations, the prebuilt bundles, and nothing
 * a user should not download (tests, fakes, bench, demo, sources, build metadata).
 */

interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly private?: boolean;
  readonly type: string;
  readonly exports: Record<string, unknown>;
  readonly bin: Record<string, string>;
  readonly dependencies: Record<string, string>;
  readonly peerDependencies: Record<string, string>;
  readonly devDependencies: Record<string, string>;
}

const manifest = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as Manifest;
let files: string[];

beforeAll(() => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('npm_')));
  const output = execFileSync('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], {
    cwd: PACKAGE_ROOT,
    env,
    encoding: 'utf8',
  });
  const [pack] = JSON.parse(output) as { files: { path: string }[] }[];
  files = (pack?.files ?? []).map((file) => file.path).sort();
});

/** The bare module names the compiled JavaScript imports, `aws-cdk-lib/aws-iam` as `aws-cdk-lib`. */
function bareImports(path: string): string[] {
  const code = readFileSync(join(PACKAGE_ROOT, path), 'utf8');
  const statements = [...code.matchAll(/^\s*(?:import|export)\b[^;'"]*?from\s*['"]([^'"]+)['"]/gm)];
  const dynamic = [...code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)];
  const specifiers = [...statements, ...dynamic]
    .map((match) => match[1] as string)
    .filter((specifier) => !specifier.startsWith('.'));
  return specifiers.map((specifier) => {
    const parts = specifier.split('/');
    return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
  });
}

describe('the npm package', () => {
  it('holds only the compiled library and CLI, the bundles, and the package documents', () => {
    const allowed = [
      /^(package\.json|README\.md|LICENSE|CHANGELOG\.md)$/,
      /^dist\/(lib|cli|lambdas)\/.+\.(js|d\.ts)$/,
      new RegExp(
        `^dist/assets/[a-z-]+/(${[BUNDLE_FILE, TRACING_FILE]
          .map((file) => `${file}(\\.LEGAL\\.txt)?`)
          .join('|')
          .replaceAll('.mjs', '\\.mjs')})$`,
      ),
    ];

    expect(files.filter((file) => !allowed.some((pattern) => pattern.test(file)))).toEqual([]);
    expect(files.filter((file) => /(^|\/)(test|fakes|bench|scripts|demo|bundle-meta)\//.test(file))).toEqual(
      [],
    );
  });

  it('ships every step’s bundle with its tracing module', () => {
    for (const folder of handlerFolders()) {
      expect(files).toEqual(
        expect.arrayContaining([
          `dist/assets/${folder}/${BUNDLE_FILE}`,
          `dist/assets/${folder}/${TRACING_FILE}`,
        ]),
      );
    }
  });

  it('ships JavaScript with declarations for the public surface, the exports map and the CLI bin', () => {
    expect(manifest.private).toBeUndefined();
    expect(manifest.type).toBe('module');
    expect(manifest.exports['.']).toEqual({ types: './dist/lib/index.d.ts', default: './dist/lib/index.js' });
    expect(files).toEqual(expect.arrayContaining(['dist/lib/index.js', 'dist/lib/index.d.ts']));
    for (const bin of Object.values(manifest.bin)) expect(files).toContain(bin);
    expect(readFileSync(join(PACKAGE_ROOT, manifest.bin['acme-aws'] as string), 'utf8')).toMatch(
      /^#!\/usr\/bin\/env node\n/,
    );
  });

  it('declares every module its JavaScript imports, with aws-cdk-lib and constructs as peers', () => {
    const declared = new Set([
      ...Object.keys(manifest.dependencies),
      ...Object.keys(manifest.peerDependencies),
    ]);
    const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
    const imported = new Set(files.filter((file) => file.endsWith('.js')).flatMap(bareImports));

    expect([...imported]).toEqual(
      expect.arrayContaining(['aws-cdk-lib', 'constructs', 'valibot', '@aws-sdk/client-sfn']),
    );
    expect([...imported].filter((name) => !declared.has(name) && !builtins.has(name))).toEqual([]);
    expect(Object.keys(manifest.peerDependencies).sort()).toEqual(['aws-cdk-lib', 'constructs']);
    expect(Object.keys(manifest.dependencies)).not.toContain('aws-cdk-lib');
    expect(Object.keys(manifest.dependencies)).not.toContain('constructs');
  });

  it('leaves the packages inlined into the bundles to development: a user downloads them once, in the bundles', () => {
    for (const inlined of [
      'jose',
      '@aws-lambda-powertools/logger',
      '@peculiar/asn1-x509',
      'esbuild',
      'tsx',
    ]) {
      expect(Object.keys(manifest.dependencies)).not.toContain(inlined);
      expect(Object.keys(manifest.devDependencies)).toContain(inlined);
    }
  });
});
