/**
 * certbot's --manual-auth-hook / --manual-cleanup-hook for the bench: publishes the dns-01 TXT
 * value at pebble-challtestsrv (`set`) or removes it (`clear`). Plain JavaScript so that each hook
 * call costs one `node` start, not a TypeScript compile.
 *
 *   node certbot-dns-hook.mjs set|clear    (env: CERTBOT_DOMAIN, CERTBOT_VALIDATION, CHALLTESTSRV_URL)
 */
const [action] = process.argv.slice(2);
const domain = process.env.CERTBOT_DOMAIN;
const base = process.env.CHALLTESTSRV_URL;
if ((action !== 'set' && action !== 'clear') || !domain || !base) {
  process.stderr.write('usage: CERTBOT_DOMAIN=… CHALLTESTSRV_URL=… node certbot-dns-hook.mjs set|clear\n');
  process.exit(2);
}
// challtestsrv matches hosts verbatim: lower-case FQDN with the trailing dot.
const host = `_acme-challenge.${domain.replace(/^\*\./, '').replace(/\.$/, '').toLowerCase()}.`;
const body = action === 'set' ? { host, value: process.env.CERTBOT_VALIDATION ?? '' } : { host };
const response = await fetch(new URL(`/${action}-txt`, base), { method: 'POST', body: JSON.stringify(body) });
if (!response.ok) {
  process.stderr.write(`challtestsrv /${action}-txt answered ${response.status}: ${await response.text()}\n`);
  process.exit(1);
}
