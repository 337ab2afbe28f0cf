import { request as httpsRequest } from 'node:https';
import { describe, expect, it } from 'vitest';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';
import type { PebbleEnvironment } from '../harness/pebble.js';

interface RegistryItem {
  readonly certificateId?: string;
  readonly status?: string;
  readonly issued?: { readonly serial: string };
  readonly acmArns?: Record<string, string>;
}

/** Pebble's view of a certificate, from its management API. */
async function certificateStatus(pebble: PebbleEnvironment, serial: string): Promise<unknown> {
  // Pebble names certificates by the hex of their serial number, lower case.
  const url = `${pebble.managementUrl}/cert-status-by-serial/${serial.toLowerCase()}`;
  const body = await new Promise<string>((resolve, reject) => {
    const request = httpsRequest(
      url,
      { ca: pebble.caBundlePem, agent: false, timeout: 5_000 },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (response.statusCode === 200) resolve(text);
          else reject(new Error(`GET ${url} answered HTTP ${response.statusCode}: ${text}`));
        });
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
    request.end();
  });
  return JSON.parse(body);
}

/**
 * The message of the error a function threw, from the Cause Step Functions recorded for it: Lambda
 * reports `{"errorType","errorMessage","trace"}`, and the Fail state passes that JSON on as is.
 */
function errorMessageOf(cause: string | undefined): string {
  return (JSON.parse(cause ?? '{}') as { errorMessage?: string }).errorMessage ?? '';
}

describe('revocation through the synthesized state machine against Pebble', () => {
  const e2e = usePebbleWorkflow();

  it('revokes the certificate at the CA and imports its replacement into the same ACM ARN', async () => {
    const domains = ['revoke.example.org'];
    const aws = await e2e.install(domains);
    const first = await e2e.run({ certificateId: 'web', domains });
    expect(first.execution.status).toBe('SUCCEEDED');
    const arn = (first.execution.output as { certificateArn: string }).certificateArn;
    const oldSerial = (await e2e.record<RegistryItem>('web'))?.issued?.serial ?? '';
    expect(oldSerial).not.toBe('');
    const oldPem = aws.acm.certificates.get(arn)?.certificatePem;

    const run = await e2e.run({ action: 'revoke', certificateId: 'web', reason: 'keyCompromise' });

    expect(run.execution.error).toBeUndefined();
    expect(run.execution.status).toBe('SUCCEEDED');
    expect(run.execution.steps.map((step) => step.name)).toEqual(
      expect.arrayContaining([
        'RegisterAccount',
        'RevokeCertificate',
        'CreateOrder',
        'ImportToAcm',
        'Cleanup',
      ]),
    );
    expect(await certificateStatus(e2e.pebble, oldSerial)).toMatchObject({ Status: 'Revoked', Reason: 1 });

    expect(aws.acm.certificates.size).toBe(1);
    const imported = aws.acm.certificates.get(arn);
    expect(imported?.importCount).toBe(2);
    expect(imported?.certificatePem).not.toBe(oldPem);
    const after = await e2e.record<RegistryItem>('web');
    const newSerial = after?.issued?.serial ?? '';
    expect(newSerial).not.toBe('');
    expect(newSerial).not.toBe(oldSerial);
    expect(after?.status).toBe('imported');
    expect(after?.acmArns).toEqual({ 'us-east-1': arn });
    expect(await certificateStatus(e2e.pebble, newSerial)).toMatchObject({ Status: 'Valid' });

    const revoked = aws.eventBridge.events.filter((event) => event.detailType === 'Certificate Revoked');
    expect(revoked).toHaveLength(1);
    expect(revoked[0]?.detail).toMatchObject({
      certificateId: 'web',
      serial: oldSerial,
      reason: 'keyCompromise',
      reasonCode: 1,
      replacement: { serial: newSerial, acmArns: { 'us-east-1': arn } },
    });
    expect(aws.eventBridge.events.map((event) => event.detailType)).toEqual([
      'Certificate Issued',
      'Certificate Renewed',
      'Certificate Revoked',
    ]);
  });

  it('refuses to revoke a certificate the registry does not know, before any CA request', async () => {
    await e2e.install(['example.org']);

    const run = await e2e.run({ action: 'revoke', certificateId: 'ghost', reason: 'superseded' });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('InvalidInputError');
    expect(errorMessageOf(run.execution.error?.cause)).toMatch(
      /no certificate "ghost" in the registry to revoke/,
    );
    expect(run.acmeRequests).toBe(0);
    expect(run.execution.steps.map((step) => step.name)).not.toContain('RevokeCertificate');
  });
});
