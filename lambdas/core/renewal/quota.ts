/** ACM's quota of imports per account and region over any 365 days. */
export const ACM_IMPORTS_PER_YEAR = 5000;

export interface PlannedCertificate {
  readonly certificateId: string;
  readonly regions: readonly string[];
  /**
   * Certificate lifetime: Let's Encrypt's `classic` is 90 days, 64 from 2027-02-10 and 45 from
   * 2028; `tlsserver` is 45 days; `shortlived` is 160 hours (6.67 days).
   */
  readonly lifetimeDays: number;
}

export interface ImportForecast {
  readonly region: string;
  readonly importsPerYear: number;
  readonly exceedsQuota: boolean;
}

/**
 * Imports per region per year if every certificate renews when a third of its lifetime remains.
 * Short-lived certificates in several regions add up fast: 160-hour certificates renew about every
 * 107 hours, 82 imports a year each, so 61 of them exhaust a region's quota; 45-day ones cost
 * about 12 a year (410 fit), 64-day ones 8.6 (584 fit), 90-day ones 6.1 (821 fit).
 */
export function forecastAcmImports(certificates: readonly PlannedCertificate[]): ImportForecast[] {
  const perRegion = new Map<string, number>();
  for (const certificate of certificates) {
    const renewEveryDays = (certificate.lifetimeDays * 2) / 3;
    const importsPerYear = 365 / renewEveryDays;
    for (const region of new Set(certificate.regions)) {
      perRegion.set(region, (perRegion.get(region) ?? 0) + importsPerYear);
    }
  }
  return [...perRegion]
    .map(([region, imports]) => ({
      region,
      importsPerYear: Math.ceil(imports),
      exceedsQuota: imports > ACM_IMPORTS_PER_YEAR,
    }))
    .sort((a, b) => a.region.localeCompare(b.region));
}
