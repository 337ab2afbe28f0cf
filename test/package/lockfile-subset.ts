/**
 * A consumer's package-lock.json cut from this repository's: the packages a consumer app needs,
 * at the versions, integrity hashes and tree positions `npm ci` put into the npm cache here. An
 * install from a lockfile needs only tarballs, which `npm ci` cached; a version range would need
 * the registry's package documents, which it did not, so `npm install --offline` of ranges fails
 * with ENOTCACHED.
 */

interface LockEntry {
  readonly version?: string;
  readonly resolved?: string;
  readonly integrity?: string;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly peerDependenciesMeta?: Readonly<Record<string, { readonly optional?: boolean }>>;
  readonly inBundle?: boolean;
  readonly [key: string]: unknown;
}

export interface Lockfile {
  readonly name?: string;
  readonly version?: string;
  readonly lockfileVersion: number;
  readonly requires?: boolean;
  readonly packages: Readonly<Record<string, LockEntry>>;
}

/** What the consumer's root depends on, and entries that are not in the source lock (the tarball). */
export interface SubsetRequest {
  readonly name: string;
  readonly dependencies: Readonly<Record<string, string>>;
  readonly extraEntries: Readonly<Record<string, LockEntry>>;
}

/** Where Node would find `dependency` from the package at `from` (a `node_modules/...` path or ''). */
function resolveFrom(
  packages: Readonly<Record<string, LockEntry>>,
  from: string,
  dependency: string,
): string | undefined {
  for (let base = from; ; ) {
    const candidate = base ? `${base}/node_modules/${dependency}` : `node_modules/${dependency}`;
    if (packages[candidate]) return candidate;
    if (!base) return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut === -1 ? '' : base.slice(0, cut);
  }
}

/** The lockfile of an app depending on `request.dependencies`, resolved as `source` resolves them. */
export function lockfileSubset(source: Lockfile, request: SubsetRequest): Lockfile {
  const all = { ...source.packages, ...request.extraEntries };
  const chosen: Record<string, LockEntry> = {};
  const pending: { from: string; name: string; optional: boolean }[] = Object.keys(request.dependencies).map(
    (name) => ({ from: '', name, optional: false }),
  );
  while (pending.length > 0) {
    const { from, name, optional } = pending.pop() as (typeof pending)[number];
    const path =
      request.extraEntries[`node_modules/${name}`] && from === ''
        ? `node_modules/${name}`
        : resolveFrom(all, from, name);
    if (!path) {
      if (optional) continue;
      throw new Error(`lockfileSubset: ${name} (needed by ${from || 'the app'}) is not in the lockfile`);
    }
    if (chosen[path]) continue;
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = all[path] as LockEntry;
    chosen[path] = entry;
    for (const [nested, nestedEntry] of Object.entries(all)) {
      if (nested.startsWith(`${path}/node_modules/`) && nestedEntry.inBundle) chosen[nested] = nestedEntry;
    }
    for (const dependency of Object.keys(entry.dependencies ?? {})) {
      pending.push({ from: path, name: dependency, optional: false });
    }
    for (const dependency of Object.keys(entry.optionalDependencies ?? {})) {
      pending.push({ from: path, name: dependency, optional: true });
    }
    for (const dependency of Object.keys(entry.peerDependencies ?? {})) {
      const peerOptional = entry.peerDependenciesMeta?.[dependency]?.optional === true;
      pending.push({ from: path, name: dependency, optional: peerOptional });
    }
  }
  return {
    name: request.name,
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: request.name, version: '1.0.0', dependencies: request.dependencies },
      ...Object.fromEntries(Object.entries(chosen).sort(([a], [b]) => a.localeCompare(b))),
    },
  };
}
