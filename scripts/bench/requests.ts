/**
 * What each ACME request is for, and the fewest requests an issuance can make: the floor
 * DESIGN.md's table states, derived here from the protocol so that it is never typed in.
 */

/** The roles of ACME requests, in protocol order. */
export const ROLES = [
  'directory',
  'newNonce',
  'newAccount',
  'keyChange',
  'account',
  'newOrder',
  'authorization',
  'challenge',
  'order poll',
  'finalize',
  'certificate',
  'renewalInfo',
  'other',
] as const;
export type Role = (typeof ROLES)[number];

/**
 * Pebble 2.4's paths (`METHOD /path` with ids elided, as the counting proxy keys them), and the
 * ARI stand-in's `renewalInfo` (test/harness/ari-stand-in.ts), since Pebble 2.4 has none.
 */
const PEBBLE_PATHS: readonly (readonly [RegExp, Role])[] = [
  [/^GET \/dir$/, 'directory'],
  [/^(HEAD|GET) \/nonce-plz$/, 'newNonce'],
  [/^POST \/sign-me-up$/, 'newAccount'],
  [/^POST \/rollover-account-key$/, 'keyChange'],
  // The account URL itself: a contact update or a deactivation (RFC 8555 §7.3.2, §7.3.6).
  [/^POST \/my-account\//, 'account'],
  [/^POST \/order-plz$/, 'newOrder'],
  [/^POST \/authZ\//, 'authorization'],
  [/^POST \/chalZ\//, 'challenge'],
  [/^POST \/my-order\//, 'order poll'],
  [/^POST \/finalize-order\//, 'finalize'],
  [/^POST \/certZ\//, 'certificate'],
  [/^GET \/renewal-info\//, 'renewalInfo'],
];

/** Requests per role, from the proxy's per-path counts. */
export function requestsByRole(byPath: Readonly<Record<string, number>>): Record<Role, number> {
  const counts = Object.fromEntries(ROLES.map((role) => [role, 0])) as Record<Role, number>;
  for (const [path, count] of Object.entries(byPath)) {
    const role = PEBBLE_PATHS.find(([pattern]) => pattern.test(path))?.[1] ?? 'other';
    counts[role] += count;
  }
  return counts;
}

/**
 * The fewest requests for an order of `authorizations` pending authorizations with one dns-01
 * challenge each, against a CA that (like Pebble) answers finalize with `processing`:
 * - the directory, and one newNonce for the first JWS;
 * - newAccount, only when no account URL is recorded;
 * - newOrder, then one POST-as-GET per authorization for its challenge token;
 * - one POST per challenge;
 * - one order poll to see it `ready`, finalize, one order poll to see it `valid`;
 * - the certificate download.
 * Every later request reuses the Replay-Nonce of the previous response.
 */
export function requestFloor(authorizations: number, newAccount: boolean): Record<Role, number> {
  return {
    directory: 1,
    newNonce: 1,
    newAccount: newAccount ? 1 : 0,
    keyChange: 0,
    account: 0,
    newOrder: 1,
    authorization: authorizations,
    challenge: authorizations,
    'order poll': 2,
    finalize: 1,
    certificate: 1,
    renewalInfo: 0,
    other: 0,
  };
}

export function total(byRole: Readonly<Record<Role, number>>): number {
  return ROLES.reduce((sum, role) => sum + byRole[role], 0);
}
