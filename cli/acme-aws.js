#!/usr/bin/env node
// The `acme-aws` bin: runs the TypeScript CLI (cli/main.ts) through tsx's loader, so there is no
// build step and `npm ci` is all it needs. tsx is a devDependency of this private project.
import { tsImport } from 'tsx/esm/api';

const { runCli } = await tsImport('./main.ts', import.meta.url);
process.exitCode = await runCli(process.argv.slice(2));
