#!/usr/bin/env node
// The package's `acme-aws` bin, compiled to dist/cli/bin.js by `npm run build`.
import { runCli } from './main.js';

process.exitCode = await runCli(process.argv.slice(2));
