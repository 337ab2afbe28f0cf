/**
 * The one entry point to @peculiar/x509 for this project. x509 2.x resolves its services through
 * tsyringe, which refuses to load unless the Reflect metadata API exists, so the polyfill is
 * imported first; importing `@peculiar/x509` directly fails with "tsyringe requires a reflect
 * polyfill".
 */
import 'reflect-metadata';

export * from '@peculiar/x509';
