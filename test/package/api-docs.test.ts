import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../lib/lambda-bundle.js';

/**
 * The API reference (docs/api, linked from the README) is generated from the JSDoc of the public
 * surface by `npm run docs` (typedoc, typedoc.json). Generating it again must give the committed
 * pages, and must warn about nothing: every export, prop and public member documented, every
 * type it mentions reachable.
 */

const out = mkdtempSync(join(tmpdir(), 'acme-aws-api-docs-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function pages(root: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(root, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => {
        const path = join(entry.parentPath, entry.name);
        return [relative(root, path), readFileSync(path, 'utf8')];
      }),
  );
}

describe('the API reference', () => {
  it('is generated without a warning and matches docs/api (run `npm run docs` after changing the JSDoc)', () => {
    const typedoc = spawnSync(
      process.execPath,
      [join(PACKAGE_ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--out', out, '--logLevel', 'Warn'],
      { cwd: PACKAGE_ROOT, encoding: 'utf8' },
    );

    expect(`${typedoc.stdout}${typedoc.stderr}`.trim()).toBe('');
    expect(typedoc.status).toBe(0);
    expect(pages(out)).toEqual(pages(join(PACKAGE_ROOT, 'docs', 'api')));
  }, 60_000);
});
