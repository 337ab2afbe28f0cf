/**
 * The one entry point to @peculiar/x509 for this project's tests, which build CAs, certificates
 * and CSRs with it and read what the shipped code produces. The Lambda bundles do not use it:
 * they parse certificates with `parsed-certificate.ts` and build CSRs in `csr.ts`, on the much
 * smaller ASN.1 schemas underneath, so that x509's service container (tsyringe and its Reflect
 * polyfill) stays out of them. x509 2.x resolves its services through tsyringe, which refuses to
 * load unless the Reflect metadata API exists, so the polyfill is imported first; importing
 * `@peculiar/x509` directly fails with "tsyringe requires a reflect polyfill". The `lite` build is
 * the same API without its own Map, Set and WeakMap polyfills, which Node has always had.
 */
import 'reflect-metadata/lite';

export * from '@peculiar/x509';
