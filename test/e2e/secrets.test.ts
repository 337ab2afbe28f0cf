import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';
import { statePayloads } from '../support/capture.js';

/** Every text form in which a private key could leak: PEM markers, DER and its parts. */
function secretForms(privateKeyPem: string): string[] {
  const key = createPrivateKey(privateKeyPem);
  const der = key.export({ format: 'der', type: 'pkcs8' });
  const jwk = key.export({ format: 'jwk' }) as Record<string, string | undefined>;
  const forms = ['PRIVATE KEY'];
  const fragments = (text: string) => {
    // A fragment from the middle catches re-wrapped or truncated copies of the whole.
    const middle = Math.floor(text.length / 2);
    forms.push(text.slice(middle - 20, middle + 20));
  };
  fragments(der.toString('base64'));
  fragments(der.toString('hex'));
  for (const part of ['d', 'p', 'q', 'dp', 'dq', 'qi']) {
    const value = jwk[part];
    if (!value) continue;
    const bytes = Buffer.from(value, 'base64url');
    forms.push(value.slice(0, 24), bytes.toString('base64').slice(0, 24), bytes.toString('hex').slice(0, 32));
  }
  return forms;
}

describe('certificate private keys never leak', () => {
  // Every function logs at DEBUG, the most it ever writes.
  const e2e = usePebbleWorkflow({ props: { acme: { logLevel: 'DEBUG' } } });

  it.each(['EC_P256', 'RSA_2048'])(
    'keeps the %s key out of every state payload and every debug log line',
    async (keyType) => {
      const domains = ['secret.example.org', '*.secret.example.org'];
      const aws = await e2e.install(domains);

      const run = await e2e.run({ certificateId: 'secret', domains, keyType });

      expect(run.execution.status).toBe('SUCCEEDED');
      const [imported] = [...aws.acm.certificates.values()];
      if (!imported) throw new Error('nothing was imported');
      // Everything the functions wrote in this test, as their log groups received it.
      const logs = e2e.cloud.logText();
      expect(run.logs).toContain('"level":"DEBUG"');
      expect(run.logs).toContain('"certificateId":"secret"');
      const payloads = statePayloads(run);
      for (const form of secretForms(imported.privateKeyPem)) {
        expect(payloads, `state payloads contain ${form}`).not.toContain(form);
        expect(logs, `logs contain ${form}`).not.toContain(form);
      }
    },
  );
});
