import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_FILE, BUNDLED_ASSETS_DIR, PACKAGE_ROOT, TRACING_FILE } from '../../lib/lambda-bundle.js';
import {
  bundleMetafilePath,
  handlerFolders,
  inlinedPackages,
  NO_LICENCE_FILE,
} from '../../scripts/build/lambda-bundles.js';

/**
 * What keeps cold starts short, checked on every bundle that ships (`dist/assets/<folder>/index.mjs`,
 * built by `npm run build` before the suite, with esbuild's metafile of that very build): the
 * bundle stays small, it imports no AWS SDK module when it loads (a static import anywhere in the
 * graph is hoisted to the top of the bundle, and the SDK clients together take several hundred
 * milliseconds to import), and no step carries @peculiar/x509 (with tsyringe and its Reflect
 * polyfill): the steps that build a CSR or read a certificate use the ASN.1 schemas underneath
 * it. `npm run bench` measures the sizes and init times themselves.
 */

/**
 * Budget per bundle, the product's target for cold starts. The certificate steps are the largest
 * (about 208 KB): they carry the ASN.1 schemas that build CSRs and read certificates.
 */
const MAX_BUNDLE_BYTES = 300_000;
/** SPDX licences that do not require their text to travel with the code. */
const NO_NOTICE_LICENCES = new Set(['MIT-0', '0BSD', 'CC0-1.0', 'Unlicense']);
/** The steps that build a CSR (Finalize) or read the issued certificate (WaitForCertificate). */
const PARSES_CERTIFICATES = new Set(['finalize', 'wait-for-certificate']);
/** ImportToAcm reads the Key Usages of the certificate it imports, with the ASN.1 schema alone. */
const READS_KEY_USAGES = new Set([...PARSES_CERTIFICATES, 'import-to-acm']);

describe.each(handlerFolders())('the %s bundle', (folder) => {
  let bytes: number;
  let output: Metafile['outputs'][string];
  let inputs: string[];
  let metafile: Metafile;

  beforeAll(() => {
    metafile = JSON.parse(readFileSync(bundleMetafilePath(folder), 'utf8')) as Metafile;
    bytes = statSync(join(BUNDLED_ASSETS_DIR, folder, BUNDLE_FILE)).size;
    output = Object.entries(metafile.outputs).find(([path]) =>
      path.endsWith(BUNDLE_FILE),
    )?.[1] as Metafile['outputs'][string];
    inputs = Object.keys(metafile.inputs);
  });

  it('is the file its metafile describes', () => {
    expect(output.bytes).toBe(bytes);
  });

  it('ships the licence of every package it inlines beside it', () => {
    const legal = readFileSync(join(BUNDLED_ASSETS_DIR, folder, `${BUNDLE_FILE}.LEGAL.txt`), 'utf8');
    const packages = inlinedPackages(metafile);
    expect(packages.length).toBeGreaterThan(0);
    for (const packageFolder of packages) {
      const manifest = JSON.parse(
        readFileSync(join(PACKAGE_ROOT, packageFolder, 'package.json'), 'utf8'),
      ) as {
        name: string;
        version: string;
        license: string;
      };
      const heading = `${manifest.name}@${manifest.version} (${manifest.license})`;
      expect(legal).toContain(heading);
      const section = legal.slice(legal.indexOf(heading)).split('\n---\n')[0] ?? '';
      // Only licences that ask for no notice may go without their text.
      if (!NO_NOTICE_LICENCES.has(manifest.license)) expect(section, heading).not.toContain(NO_LICENCE_FILE);
    }
  });

  it(`is at most ${MAX_BUNDLE_BYTES / 1000} KB minified`, () => {
    expect(bytes).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
  });

  it('imports AWS SDK modules only on first use, never when it loads', () => {
    const sdkImports = output.imports.filter((entry) => entry.external && entry.path.startsWith('@aws-sdk/'));

    expect(sdkImports.filter((entry) => entry.kind !== 'dynamic-import')).toEqual([]);
    expect(sdkImports.length).toBeGreaterThan(0);
  });

  it('leaves the X-Ray SDK to tracing.mjs, imported only on first use', () => {
    const xray = inputs.some((path) => path.includes('node_modules/aws-xray-sdk-core/'));
    const tracing = output.imports.filter((entry) => entry.path === `./${TRACING_FILE}`);

    expect(xray).toBe(false);
    expect(tracing.map((entry) => entry.kind)).toEqual(['dynamic-import']);
  });

  it('carries neither @peculiar/x509 nor the service container and polyfill it needs', () => {
    const x509 = inputs.filter((path) =>
      ['@peculiar/x509/', 'tsyringe/', 'reflect-metadata/'].some((name) =>
        path.includes(`node_modules/${name}`),
      ),
    );

    expect(x509).toEqual([]);
  });

  it(`carries an ASN.1 schema only if it reads certificates (${READS_KEY_USAGES.has(folder) ? 'it does' : 'it does not'})`, () => {
    // What the bundle holds, not what esbuild visited: a lazy import another step uses weighs nothing.
    const asn1 = Object.entries(output.inputs).some(
      ([path, input]) => path.includes('node_modules/@peculiar/asn1-') && input.bytesInOutput > 0,
    );

    expect(asn1).toBe(READS_KEY_USAGES.has(folder));
  });
});
