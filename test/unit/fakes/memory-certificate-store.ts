import type { CertificateStore } from '../../../lambdas/core/ports.js';

/**
 * The certificate store in memory, for unit tests of the core: `create` writes only where nothing
 * is stored, as S3's `If-None-Match: *` does. Keeps every key written, in order, so a replaced
 * key shows.
 */
export class MemoryCertificateStore implements CertificateStore {
  readonly objects: Map<string, string>;
  readonly writes: string[] = [];

  constructor(objects: Iterable<readonly [string, string]> = []) {
    this.objects = new Map(objects);
  }

  async put(key: string, body: string): Promise<void> {
    this.writes.push(key);
    this.objects.set(key, body);
  }

  async get(key: string): Promise<string | undefined> {
    return this.objects.get(key);
  }

  async create(key: string, body: string): Promise<'created' | 'exists'> {
    if (this.objects.has(key)) return 'exists';
    await this.put(key, body);
    return 'created';
  }
}
