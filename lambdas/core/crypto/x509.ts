/**
 * The one entry point to @peculiar/x509 for this project. x509 2.x resolves its services through
 * tsyringe, which refuses to load unless the Reflect metadata API exists, so the polyfill is
 * imported first; importing `@peculiar/x509` directly fails with "tsyringe requires a reflect
 * polyfill". The `lite` build is the same API without its own Map, Set and WeakMap polyfills,
 * which Node has always had: a third smaller in every bundle that parses certificates.
 */
import 'reflect-metadata/lite';

export * from '@peculiar/x509';
