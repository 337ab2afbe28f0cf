import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliHarness, setUpCli } from './cli-harness.js';

let cli: CliHarness;

beforeEach(() => {
  cli = setUpCli();
});

afterEach(async () => {
  await cli.restore();
});

describe('acme-aws checks input with the workflow’s own rules', () => {
  const names = (count: number) =>
    Array.from({ length: count }, (_, index) => `n${index}.example.org`).join(',');

  it.each([
    [
      ['issue', 'web', '--domains', names(101)],
      'domains has 101 names; ACME CAs accept at most 100 per certificate',
    ],
    [['account', 'rollover', '--directory', 'http://acme.example/directory'], 'is not an https URL'],
    [['account', 'rollover', '--directory', 'htps://acme.example/directory'], 'is not an https URL'],
  ])('refuses %j with exit 2 before any AWS call', async (argv, message) => {
    const result = await cli.run(...argv);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(cli.cloudFormation.requests).toEqual([]);
    expect(cli.stepFunctions.requests).toEqual([]);
  });

  it('takes 100 names, counted after duplicates are dropped', async () => {
    const result = await cli.run('issue', 'web', '--domains', `${names(100)},N0.example.org.`, '--no-wait');

    expect(result.code).not.toBe(2);
    expect(result.stderr).not.toContain('at most 100');
  });
});
