import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BENCH_SECTIONS,
  type BenchResults,
  type BenchSection,
  isBenchResults,
  mergeResults,
  renderMarkdown,
  sectionsMeasuredAt,
} from '../../../scripts/bench/report.js';

const EARLIER = '2030-01-01T00:00:00.000Z';
const LATER = '2030-02-01T00:00:00.000Z';
const LATEST = '2030-03-01T00:00:00.000Z';
const SKIPPED = 'skipped (--only)';

/** The committed results, as a full run written before sections were dated would have left them. */
function fullRunBeforeDates(): BenchResults {
  const committed = JSON.parse(
    readFileSync(new URL('../../../bench/results.json', import.meta.url), 'utf8'),
  ) as BenchResults;
  const { sectionsMeasuredAt: _dates, ...rest } = committed;
  return { ...rest, generatedAt: EARLIER, skippedSections: [] };
}

/**
 * What `npm run bench -- --only <measured>` writes with nothing to merge into: the sections it
 * measured (figures changed, so that their origin shows) and every other one empty.
 */
function onlyRun(base: BenchResults, generatedAt: string, measured: readonly BenchSection[]): BenchResults {
  const ran = (section: BenchSection) => measured.includes(section);
  const { pacing, dnsPersist, ...rest } = structuredClone(base);
  return {
    ...rest,
    generatedAt,
    benchSeconds: 12,
    skippedSections: BENCH_SECTIONS.filter((section) => !ran(section)),
    sectionsMeasuredAt: Object.fromEntries(measured.map((section) => [section, generatedAt])),
    deployment: {
      ...rest.deployment,
      synthesis: { ...rest.deployment.synthesis, firstMs: rest.deployment.synthesis.firstMs + 1 },
    },
    initSamples: ran('bundles') ? rest.initSamples : 1,
    bundles: {
      ...rest.bundles,
      // A run without the bundles section measures their sizes but not their init times.
      functions: ran('bundles')
        ? rest.bundles.functions
        : rest.bundles.functions.map(
            ({ importMs: _import, processMs: _process, externalImportMs: _external, ...sizes }) => sizes,
          ),
    },
    cases: ran('issuance') ? rest.cases : [],
    cost: ran('issuance') ? rest.cost : [],
    accountAndKms: { domain: 'lifecycle.example.org', runs: 1, scenarios: [], error: SKIPPED },
    delivery: { domain: 'deliver.example.org', runs: 1, variants: [], error: SKIPPED },
    fleet: { certificates: 0, rssSampleMs: 50, runs: [], error: SKIPPED },
    soak: [],
    package:
      ran('package') && 'tarballBytes' in rest.package
        ? { ...rest.package, tarballBytes: rest.package.tarballBytes + 1 }
        : { error: SKIPPED },
    ...(ran('pacing') && pacing
      ? {
          pacing: {
            ...pacing,
            scenarios: pacing.scenarios.map((scenario) => ({ ...scenario, seconds: 99 })),
          },
        }
      : {}),
    ...(ran('dns-persist') && dnsPersist ? { dnsPersist } : {}),
  };
}

/** The lines right below a heading of the report, up to the next paragraph. */
function underHeading(markdown: string, heading: string): string {
  const lines = markdown.split('\n');
  const at = lines.indexOf(heading);
  expect(at).toBeGreaterThanOrEqual(0);
  return lines.slice(at + 1, at + 4).join('\n');
}

describe('merging a run with --only into earlier results', () => {
  it('takes the sections the run measured from it and keeps every other section as it was', () => {
    const previous = fullRunBeforeDates();
    const latest = onlyRun(previous, LATEST, ['pacing']);

    const merged = mergeResults(previous, latest);

    expect(merged.pacing).toEqual(latest.pacing);
    expect(merged.pacing).not.toEqual(previous.pacing);
    expect(merged.cases).toEqual(previous.cases);
    expect(merged.cost).toEqual(previous.cost);
    expect(merged.peers).toEqual(previous.peers);
    expect(merged.deployment).toEqual(previous.deployment);
    expect(merged.bundles).toEqual(previous.bundles);
    expect(merged.initSamples).toBe(previous.initSamples);
    expect(merged.accountAndKms).toEqual(previous.accountAndKms);
    expect(merged.delivery).toEqual(previous.delivery);
    expect(merged.fleet).toEqual(previous.fleet);
    expect(merged.soak).toEqual(previous.soak);
    expect(merged.package).toEqual(previous.package);
    expect(merged.dnsPersist).toEqual(previous.dnsPersist);
    expect(merged.generatedAt).toBe(LATEST);
    expect(merged.machine).toEqual(latest.machine);
  });

  it('dates each section by the run that measured it, across several --only runs', () => {
    const previous = fullRunBeforeDates();
    const first = mergeResults(previous, onlyRun(previous, LATER, ['pacing']));

    const second = mergeResults(first, onlyRun(first, LATEST, ['package']));

    const before = sectionsMeasuredAt(previous);
    expect(second.sectionsMeasuredAt).toEqual({ ...before, pacing: LATER, package: LATEST });
    expect(second.pacing).toEqual(first.pacing);
    expect(second.skippedSections).toEqual(BENCH_SECTIONS.filter((section) => before[section] === undefined));
  });

  it('holds the targets to the merged figures, not to the empty sections of the run', () => {
    const previous = fullRunBeforeDates();
    const latest = onlyRun(previous, LATEST, ['pacing']);
    const packageTarget = (results: BenchResults) =>
      results.targets.find((target) => target.name.startsWith('npm package'));

    const merged = mergeResults(previous, { ...latest, targets: [] });

    expect(packageTarget(previous)).toBeDefined();
    expect(packageTarget(merged)).toEqual(packageTarget(previous));
    expect(merged.targets.map((target) => target.name)).toEqual(
      previous.targets.map((target) => target.name),
    );
  });

  it('reads results written before sections were dated as measured whole, but for what they lack', () => {
    const previous: BenchResults = {
      ...fullRunBeforeDates(),
      skippedSections: ['soak'],
      dnsPersist: undefined,
    };

    const dates = sectionsMeasuredAt(previous);

    expect(Object.keys(dates).sort()).toEqual(
      BENCH_SECTIONS.filter((section) => section !== 'soak' && section !== 'dns-persist').sort(),
    );
    expect(new Set(Object.values(dates))).toEqual(new Set([EARLIER]));
  });
});

describe('the report of merged results', () => {
  it('says under each heading when its section was measured', () => {
    const previous = fullRunBeforeDates();

    const markdown = renderMarkdown(mergeResults(previous, onlyRun(previous, LATEST, ['pacing'])));

    expect(
      underHeading(markdown, '## 13. Pacing 1,000 first issuances within Let’s Encrypt’s rate limits'),
    ).toContain(`_Measured on ${LATEST}._`);
    expect(underHeading(markdown, '## 8. Account lifecycle and KMS-held keys')).toContain(
      `_Measured on ${EARLIER}._`,
    );
    expect(underHeading(markdown, '## Headline')).toContain(`_Measured on ${EARLIER}._`);
    expect(markdown).toContain(`on ${LATEST}: that run measured pacing in 12 s`);
  });

  it('dates no section when the whole report comes from one run', () => {
    const fullRun = fullRunBeforeDates();
    const dated: BenchResults = {
      ...fullRun,
      sectionsMeasuredAt: sectionsMeasuredAt(fullRun),
    };

    const markdown = renderMarkdown(dated);

    expect(markdown).not.toContain('_Measured on');
    expect(markdown).toBe(renderMarkdown(fullRun));
  });
});

describe('reading earlier results', () => {
  it('accepts results the bench wrote and refuses what it cannot merge into', () => {
    const results = fullRunBeforeDates();
    const { cases: _cases, ...withoutCases } = results;

    expect(isBenchResults(JSON.parse(JSON.stringify(results)))).toBe(true);
    expect(isBenchResults(withoutCases)).toBe(false);
    expect(isBenchResults({})).toBe(false);
    expect(isBenchResults(null)).toBe(false);
    expect(isBenchResults([])).toBe(false);
  });
});
