#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { AcmeStack } from '../lib/acme-stack.js';
import { stackPropsFromContext } from '../lib/context.js';

const app = new App();
new AcmeStack(app, String(app.node.tryGetContext('stackName') ?? 'AcmeCertificates'), {
  ...stackPropsFromContext((key) => app.node.tryGetContext(key)),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
