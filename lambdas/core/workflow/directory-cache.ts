import { AcmeClient, parseDirectory } from '../acme/client.js';
import type { AcmeDirectory } from '../acme/types.js';
import type { CertificateRecord } from '../ports.js';
import type { StepDeps } from './deps.js';

/**
 * How long a kept directory is used before it is fetched again. RFC 8555 §7.1.1 lets a client
 * keep the directory, and CAs change it rarely and compatibly (a new `meta` field, a profile
 * added); a day keeps one fetch per CA and day, and bounds how long a change goes unseen where
 * no request fails over it (a new profile is seen at once: a missing one triggers a fetch).
 */
export const DIRECTORY_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/**
 * The largest directory kept, as JSON. Let's Encrypt's is about 1 KB; a far larger one is not a
 * directory we understand better by keeping, and the registry item stays small (DynamoDB items
 * hold at most 400 KB). A larger one is used for this run and fetched again next time.
 */
export const MAX_KEPT_DIRECTORY_BYTES = 16 * 1024;

/**
 * The errors a directory URL gives once the CA has moved it: a bare 404 or another answer that
 * is not ACME (`AcmeProtocolError`), or a problem of type `malformed`, which Boulder sends with
 * its 404s. A run that failed with one of them may have used a directory that is out of date, so
 * the next run fetches it again. Both also mean other things (a malformed request of ours), so
 * this costs at most one directory GET per failed run and never loops.
 */
const SUSPECT_DIRECTORY_ERRORS: ReadonlySet<string> = new Set(['AcmeProtocolError', 'MalformedError']);

type DirectoryDeps = Pick<StepDeps, 'transport' | 'signer' | 'registry' | 'clock' | 'log'>;

/**
 * The directory of the CA at `directoryUrl` for this run: the one kept in the registry when it is
 * fresh (fetched less than `DIRECTORY_MAX_AGE_MS` ago), trusted (the certificate's last run did not
 * fail with an error a moved URL gives, since it was kept) and offers `profile` when one is wanted;
 * otherwise fetched, and kept for the next runs. A kept directory is checked as a fetched one is.
 */
export async function directoryForRun(
  deps: DirectoryDeps,
  directoryUrl: string,
  options: { readonly profile?: string; readonly lastError?: CertificateRecord['lastError'] },
): Promise<AcmeDirectory> {
  const now = deps.clock.now();
  const kept = await keptDirectory(deps, directoryUrl, now, options.lastError);
  if (kept && (options.profile === undefined || kept.meta?.profiles?.[options.profile] !== undefined)) {
    return kept;
  }
  if (kept)
    deps.log.info('The kept directory does not offer the profile; fetching it', { profile: options.profile });
  const directory = await new AcmeClient({
    directoryUrl,
    transport: deps.transport,
    signer: deps.signer,
  }).directory();
  const body = JSON.stringify(directory);
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > MAX_KEPT_DIRECTORY_BYTES) {
    deps.log.warn('The directory is too large to keep; the next run fetches it again', {
      bytes,
      maxBytes: MAX_KEPT_DIRECTORY_BYTES,
    });
  } else {
    await deps.registry.putDirectory({ directoryUrl, body, fetchedAt: now.toISOString() });
  }
  return directory;
}

/** The kept directory when it may be used at `now`, else `undefined` (with the reason logged). */
async function keptDirectory(
  deps: DirectoryDeps,
  directoryUrl: string,
  now: Date,
  lastError: CertificateRecord['lastError'],
): Promise<AcmeDirectory | undefined> {
  const record = await deps.registry.getDirectory(directoryUrl);
  if (!record) return undefined;
  const fetchedAt = Date.parse(record.fetchedAt);
  const age = now.getTime() - fetchedAt;
  // A time ahead of ours is as unknown as no time: the clock that wrote it cannot be trusted.
  if (!Number.isFinite(age) || age < 0 || age >= DIRECTORY_MAX_AGE_MS) {
    deps.log.info('The kept directory is too old; fetching it', { fetchedAt: record.fetchedAt });
    return undefined;
  }
  if (lastError && SUSPECT_DIRECTORY_ERRORS.has(lastError.name) && !(Date.parse(lastError.at) < fetchedAt)) {
    deps.log.info('The last run failed in a way a moved CA URL explains; fetching the directory', {
      lastError: lastError.name,
      fetchedAt: record.fetchedAt,
    });
    return undefined;
  }
  try {
    return parseDirectory(JSON.parse(record.body), directoryUrl);
  } catch (error) {
    deps.log.warn('The kept directory is unreadable; fetching it', {
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}
