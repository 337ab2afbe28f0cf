/** ACM's quota of imports per account and region over any 365 days. */
export const ACM_IMPORTS_PER_YEAR = 5000;

export interface PlannedCertificate {
  readonly certificateId: string;
  readonly regions: readonly string[];
  /** Certificate lifetime; Let's Encrypt issues 90-day certificates, or 6-day `shortlived` ones. */
  readonly lifetimeDays: number;
}

export interface ImportForecast {
  readonly region: string;
  readonly importsPerYear: number;
  readonly exceedsQuota: boolean;
}

/**
 * Imports per region per year if every certificate renews when a third of its lifetime remains.
 * Short-lived certificates in several regions add up fast: 6-day certificates renew every 4 days,
 * about 92 imports a year each, so 55 of them exhaust a region's quota.
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
