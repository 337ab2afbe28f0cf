import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { PACKAGE_ROOT, TRACING_FILE } from '../../lib/lambda-bundle.js';
import { buildPackage } from '../build/build-package.js';

/**
 * The npm package as a user downloads it: `npm run build` first (scripts/build/build-package.ts,
 * what `prepack` runs), then `npm pack --ignore-scripts --dry-run --json` in the repository root,
 * which lists every file the tarball would hold and the tarball's size without writing it. The
 * prebuilt Lambda bundles ship in `dist/assets/<folder>/`, each folder with its own copy of the
 * tracing module: what those copies cost is measured from the files themselves.
 */

const run = promisify(execFile);

/** The command the section runs, as the results record it. */
export const PACK_COMMAND = 'npm pack --ignore-scripts --dry-run --json';

/** The top folders the breakdown names; every other file is counted under {@link OTHER_FILES}. */
export const PACKAGE_FOLDERS = ['dist/assets', 'dist/lib', 'dist/cli', 'dist/lambdas'] as const;
export const OTHER_FILES = 'other files';

/** Files and bytes (unpacked) of one part of the package. */
export interface PackagePart {
  readonly name: string;
  readonly files: number;
  readonly bytes: number;
  /** For {@link OTHER_FILES}: which files they are. */
  readonly paths?: readonly string[];
}

/** What the package's copies of the tracing module cost. */
export interface TracingCopies {
  readonly file: string;
  readonly copies: number;
  /** Distinct contents among the copies (SHA-256): 1 when they are identical. */
  readonly distinctContents: number;
  /** Bytes of one copy (the largest, should they differ). */
  readonly bytesEach: number;
  /** Bytes of every copy together, unpacked. */
  readonly totalBytes: number;
  /** Bytes beyond one copy of each distinct content: what shipping it once would save. */
  readonly redundantBytes: number;
  /**
   * One copy gzipped (zlib's default level). Each copy costs about that much in the tarball: the
   * copies are far larger than gzip's 32 KB window, so one cannot be compressed against another.
   */
  readonly gzipBytesEach: number;
}

/** The package as `npm pack --dry-run` reports it after the build. */
export interface PackageMeasurement {
  readonly command: string;
  /** `name@version`. */
  readonly id: string;
  readonly filename: string;
  /** Seconds `npm run build`'s two halves took in this run before the pack. */
  readonly build: { readonly bundleSeconds: number; readonly compileSeconds: number };
  /** The .tgz's size in bytes. */
  readonly tarballBytes: number;
  /** Every file's size added up, as npm reports it. */
  readonly unpackedBytes: number;
  readonly files: number;
  /** {@link PACKAGE_FOLDERS} in order, then {@link OTHER_FILES}. */
  readonly byFolder: readonly PackagePart[];
  /** dist/assets by file name (`index.mjs`, `tracing.mjs` and their licence texts). */
  readonly assetsByFile: readonly PackagePart[];
  /** The five largest files, largest first (ties by path). */
  readonly largestFiles: readonly { readonly path: string; readonly bytes: number }[];
  readonly tracing: TracingCopies;
  /** What npm printed on stderr (warnings), if anything. */
  readonly npmWarnings: readonly string[];
}

/** The section when it was not measured (`--only`) or failed. */
export interface PackageNotMeasured {
  readonly error: string;
}

export type PackageResult = PackageMeasurement | PackageNotMeasured;

interface PackJson {
  readonly id: string;
  readonly filename: string;
  readonly size: number;
  readonly unpackedSize: number;
  readonly entryCount: number;
  readonly files: readonly { readonly path: string; readonly size: number }[];
}

/** Builds the package as `npm run build` does, then measures what `npm pack` would put in it. */
export async function measurePackage(): Promise<PackageMeasurement> {
  const { bundleSeconds, compileSeconds } = await buildPackage();
  // Without the npm_* variables `npm run bench` sets, the child npm reads only the project's and
  // the user's configuration, as `npm pack` typed in a shell would.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('npm_')));
  const [command, ...args] = PACK_COMMAND.split(' ') as [string, ...string[]];
  const { stdout, stderr } = await run(command, args, {
    cwd: PACKAGE_ROOT,
    env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const [pack] = JSON.parse(stdout) as PackJson[];
  if (!pack) throw new Error(`${PACK_COMMAND} printed no package`);
  const files = [...pack.files].sort((a, b) => a.path.localeCompare(b.path));
  return {
    command: PACK_COMMAND,
    id: pack.id,
    filename: pack.filename,
    build: { bundleSeconds, compileSeconds },
    tarballBytes: pack.size,
    unpackedBytes: pack.unpackedSize,
    files: files.length,
    byFolder: byFolder(files),
    assetsByFile: assetsByFile(files),
    largestFiles: [...files]
      .sort((a, b) => b.size - a.size || a.path.localeCompare(b.path))
      .slice(0, 5)
      .map((file) => ({ path: file.path, bytes: file.size })),
    tracing: await tracingCopies(files),
    npmWarnings: stderr
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line.length > 0),
  };
}

function byFolder(files: readonly { readonly path: string; readonly size: number }[]): PackagePart[] {
  const folderOf = (path: string) =>
    PACKAGE_FOLDERS.find((folder) => path.startsWith(`${folder}/`)) ?? OTHER_FILES;
  const parts: PackagePart[] = [...PACKAGE_FOLDERS, OTHER_FILES].map((name) => {
    const inPart = files.filter((file) => folderOf(file.path) === name);
    return {
      name,
      files: inPart.length,
      bytes: inPart.reduce((sum, file) => sum + file.size, 0),
      ...(name === OTHER_FILES ? { paths: inPart.map((file) => file.path) } : {}),
    };
  });
  return parts;
}

function assetsByFile(files: readonly { readonly path: string; readonly size: number }[]): PackagePart[] {
  const parts = new Map<string, { files: number; bytes: number }>();
  for (const file of files.filter((candidate) => candidate.path.startsWith('dist/assets/'))) {
    const part = parts.get(basename(file.path)) ?? { files: 0, bytes: 0 };
    parts.set(basename(file.path), { files: part.files + 1, bytes: part.bytes + file.size });
  }
  return [...parts]
    .map(([name, part]) => ({ name, ...part }))
    .sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name));
}

/** Every `dist/assets/<folder>/tracing.mjs` the package lists, read from disk and compared. */
async function tracingCopies(
  files: readonly { readonly path: string; readonly size: number }[],
): Promise<TracingCopies> {
  const copies = files.filter(
    (file) => file.path.startsWith('dist/assets/') && basename(file.path) === TRACING_FILE,
  );
  const contents = await Promise.all(copies.map((file) => readFile(join(PACKAGE_ROOT, file.path))));
  const sizeByHash = new Map<string, number>();
  for (const content of contents) {
    sizeByHash.set(createHash('sha256').update(content).digest('hex'), content.length);
  }
  const totalBytes = copies.reduce((sum, file) => sum + file.size, 0);
  const largest = [...contents].sort((a, b) => b.length - a.length)[0];
  return {
    file: TRACING_FILE,
    copies: copies.length,
    distinctContents: sizeByHash.size,
    bytesEach: largest?.length ?? 0,
    totalBytes,
    redundantBytes: totalBytes - [...sizeByHash.values()].reduce((sum, bytes) => sum + bytes, 0),
    gzipBytesEach: largest ? gzipSync(largest).length : 0,
  };
}
