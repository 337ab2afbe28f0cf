import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PERSIST_RECORD_ALARM_DAYS } from '../../lib/monitoring.js';
import { type CfnResource, synthStack } from './template.js';

/** Every `metrics.add('<name>'` in the Lambdas' sources: the metrics the workflow can emit. */
function emittedMetricNames(): Set<string> {
  const names = new Set<string>();
  const visit = (directory: string) => {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.name.endsWith('.ts')) {
        for (const match of readFileSync(path, 'utf8').matchAll(/metrics\.add\(\s*'([A-Za-z]+)'/g)) {
          if (match[1]) names.add(match[1]);
        }
      }
    }
  };
  visit(join(import.meta.dirname, '../../lambdas'));
  return names;
}

function alarms(resources: Readonly<Record<string, CfnResource>>) {
  return Object.entries(resources)
    .filter(([, resource]) => resource.Type === 'AWS::CloudWatch::Alarm')
    .map(([id, resource]) => ({ id, properties: resource.Properties as Record<string, unknown> }));
}

describe('monitoring alarms', () => {
  const { resources } = synthStack({ notificationEmails: ['ops@example.org'] });

  it('alarm only on metrics the workflow emits in the namespace it publishes to', () => {
    const emitted = emittedMetricNames();
    const onWorkflowMetrics = alarms(resources).filter(
      ({ properties }) => properties.Namespace === 'AcmeAws',
    );
    expect(onWorkflowMetrics.length).toBeGreaterThanOrEqual(3);
    for (const { id, properties } of onWorkflowMetrics) {
      expect(emitted, `${id} watches ${String(properties.MetricName)}`).toContain(properties.MetricName);
    }
  });

  it(`fires ${PERSIST_RECORD_ALARM_DAYS} days before a dns-persist-01 record's persistUntil, and notifies`, () => {
    const persist = alarms(resources).find(({ id }) => id.includes('PersistRecordExpiring'));
    expect(persist?.properties).toMatchObject({
      MetricName: 'MinPersistRecordDaysLeft',
      Statistic: 'Minimum',
      Threshold: PERSIST_RECORD_ALARM_DAYS,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(persist?.properties.AlarmActions).toHaveLength(1);
    expect(persist?.properties.OKActions).toHaveLength(1);
  });
});
