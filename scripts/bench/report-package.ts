import { OTHER_FILES, type PackageResult, type TracingCopies } from './package.js';
import { kb, table } from './report-format.js';
import { text } from './report-text.js';

/** `1,234,567 bytes (1.23 MB)`, in npm's decimal megabytes. */
export const bytesAndMb = (bytes: number) =>
  `${bytes.toLocaleString('en-US')} bytes (${(bytes / 1_000_000).toFixed(2)} MB)`;

/** `12.3%`. */
const share = (part: number, whole: number) => `${whole > 0 ? ((part / whole) * 100).toFixed(1) : '0.0'}%`;

/** Whether `path` is one of several copies of the tracing module. */
const copyOfTracing = (path: string, tracing: TracingCopies) =>
  tracing.copies > 1 && path.startsWith('dist/assets/') && path.endsWith(`/${tracing.file}`);

/** Section 11: the npm package as `npm pack --dry-run` reports it after `npm run build`. */
export function packageSection(pkg: PackageResult): string[] {
  const heading = ['## 11. The npm package', ''];
  if ('error' in pkg) return [...heading, text('package-not-measured', { error: pkg.error }), ''];
  const { tracing } = pkg;
  return [
    ...heading,
    text('package-method', {
      command: pkg.command,
      id: pkg.id,
      bundleSeconds: pkg.build.bundleSeconds.toFixed(1),
      compileSeconds: pkg.build.compileSeconds.toFixed(1),
    }),
    '',
    table(
      ['package', 'tarball (.tgz)', 'unpacked', 'files'],
      [
        [
          `\`${pkg.filename}\``,
          bytesAndMb(pkg.tarballBytes),
          bytesAndMb(pkg.unpackedBytes),
          String(pkg.files),
        ],
      ],
    ),
    '',
    table(
      ['top folder', 'files', 'unpacked', 'share of unpacked'],
      pkg.byFolder.map((part) => [
        part.name === OTHER_FILES ? `${OTHER_FILES} (${(part.paths ?? []).join(', ') || 'none'})` : part.name,
        String(part.files),
        kb(part.bytes),
        share(part.bytes, pkg.unpackedBytes),
      ]),
    ),
    '',
    text('package-assets-by-file'),
    '',
    table(
      ['file', 'copies', 'unpacked', 'share of unpacked'],
      pkg.assetsByFile.map((part) => [
        `\`${part.name}\``,
        String(part.files),
        kb(part.bytes),
        share(part.bytes, pkg.unpackedBytes),
      ]),
    ),
    '',
    text('package-largest-files'),
    '',
    table(
      ['file', 'unpacked'],
      pkg.largestFiles.map((file) => [
        `\`${file.path}\`${copyOfTracing(file.path, tracing) ? ` (one of the ${tracing.copies} copies below)` : ''}`,
        kb(file.bytes),
      ]),
    ),
    '',
    text('package-tracing', {
      file: tracing.file,
      copies: tracing.copies,
      identical:
        tracing.distinctContents <= 1
          ? text('package-tracing-identical')
          : text('package-tracing-differ', { distinct: tracing.distinctContents }),
      bytesEach: kb(tracing.bytesEach),
      totalBytes: kb(tracing.totalBytes),
      unpackedShare: share(tracing.totalBytes, pkg.unpackedBytes),
      redundantBytes: kb(tracing.redundantBytes),
      gzipEach: kb(tracing.gzipBytesEach),
      gzipTotal: kb(tracing.gzipBytesEach * tracing.copies),
      tarballShare: share(tracing.gzipBytesEach * tracing.copies, pkg.tarballBytes),
      gzipRedundant: kb(tracing.gzipBytesEach * Math.max(0, tracing.copies - tracing.distinctContents)),
    }),
    '',
    ...(pkg.npmWarnings.length > 0
      ? [
          text('package-npm-warnings', { warnings: pkg.npmWarnings.map((line) => `\`${line}\``).join('; ') }),
          '',
        ]
      : []),
  ];
}
