import type { WorkflowConfig } from '../../lambdas/core/workflow/deps.js';

/**
 * Deployment settings for workflow unit tests: the defaults the Lambda environment gives, with
 * `https://ca.example/directory` as the CA. Tests spread it and override what they exercise.
 */
export const TEST_WORKFLOW_CONFIG: WorkflowConfig = {
  defaultDirectoryUrl: 'https://ca.example/directory',
  defaultRegion: 'eu-west-1',
  managedByTag: 'acme-aws',
  dnsPollSeconds: 10,
  orderPollSeconds: 3,
  maxPolls: 120,
  lockTtlSeconds: 10_800,
};
