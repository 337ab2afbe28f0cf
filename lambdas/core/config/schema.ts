/**
 * The config schema: one place for the rules of a certificate's configuration and of an
 * execution input, written with valibot. Synth (`parseCertificateDeclarations`), the state
 * machine (`workflow/input.ts`) and the CLI (`cli/args.ts`) all parse through it, so what one
 * accepts the others accept, normalized the same way. Each caller names fields its own way
 * (see `FieldLabel`) and throws its own error class.
 */
export * from './bounds.js';
export * from './certificate.js';
export * from './declarations.js';
export * from './delivery.js';
export * from './execution-input.js';
export * from './fields.js';
export {
  FIELD,
  type FieldLabel,
  type FieldPath,
  issueMessage,
  parseWith,
  pathLabel,
  shown,
} from './messages.js';
export * from './names.js';
