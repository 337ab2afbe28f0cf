import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';
import type { LocalIssuanceResult } from '../harness/local-issuance.js';
import { captureOutput } from '../support/capture.js';

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
  const e2e = usePebbleWorkflow();

  it.each(['EC_P256', 'RSA_2048'])(
    'keeps the %s key out of every state payload and every debug log line',
    async (keyType) => {
      const domains = ['secret.example.org', '*.secret.example.org'];
      const aws = e2e.install(domains);
      const output = captureOutput();
      let run: LocalIssuanceResult;
      try {
        run = await e2e.run(
          { certificateId: 'secret', domains, keyType },
          { environment: { POWERTOOLS_LOG_LEVEL: 'DEBUG' } },
        );
      } finally {
        output.stop();
      }

      expect(run.execution.status).toBe('SUCCEEDED');
      const [imported] = [...aws.acm.certificates.values()];
      if (!imported) throw new Error('nothing was imported');
      const logs = output.lines.join('');
      expect(logs).toContain('"level":"DEBUG"');
      expect(logs).toContain('"certificateId":"secret"');
      const payloads = JSON.stringify(
        run.execution.events.map((event) =>
          'state' in event ? [event.state.input, event.state.output] : event,
        ),
      );
      for (const form of secretForms(imported.privateKeyPem)) {
        expect(payloads, `state payloads contain ${form}`).not.toContain(form);
        expect(logs, `logs contain ${form}`).not.toContain(form);
      }
    },
  );
});
