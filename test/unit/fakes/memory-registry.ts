import type {
  AccountRecord,
  CertificateRecord,
  CertificateRecordChanges,
  CertificateRegistry,
  DirectoryRecord,
} from '../../../lambdas/core/ports.js';

/**
 * The certificate registry in memory, for unit tests of the core: the lock and `update` keep the
 * port's contract and the DynamoDB adapter's rules (a lock is taken unless another holder has one
 * that has not expired, to the millisecond; `null` removes a field). Records every update's changes.
 */
export class MemoryRegistry implements CertificateRegistry {
  readonly records = new Map<string, CertificateRecord>();
  readonly accounts = new Map<string, AccountRecord>();
  /** Kept directories by directory URL. */
  readonly directories = new Map<string, DirectoryRecord>();
  /** The changes of every `update`, in order. */
  readonly updates: CertificateRecordChanges[] = [];

  constructor(records: readonly CertificateRecord[] = []) {
    for (const record of records) this.records.set(record.certificateId, record);
  }

  async getAccount(directoryUrl: string, thumbprint: string): Promise<AccountRecord | undefined> {
    const account = this.accounts.get(thumbprint);
    return account?.directoryUrl === directoryUrl ? account : undefined;
  }

  async putAccount(thumbprint: string, record: AccountRecord): Promise<void> {
    this.accounts.set(thumbprint, record);
  }

  async getDirectory(directoryUrl: string): Promise<DirectoryRecord | undefined> {
    return this.directories.get(directoryUrl);
  }

  async putDirectory(record: DirectoryRecord): Promise<void> {
    this.directories.set(record.directoryUrl, record);
  }

  async acquireLock(
    certificateId: string,
    executionId: string,
    now: Date,
    ttlSeconds: number,
  ): Promise<boolean> {
    const record = this.records.get(certificateId) ?? { certificateId };
    const lock = record.lock;
    if (lock && lock.executionId !== executionId && new Date(lock.expiresAt) >= now) return false;
    this.records.set(certificateId, {
      ...record,
      lock: { executionId, expiresAt: new Date(now.getTime() + ttlSeconds * 1000).toISOString() },
    });
    return true;
  }

  async releaseLock(certificateId: string, executionId: string): Promise<void> {
    const record = this.records.get(certificateId);
    if (record?.lock?.executionId !== executionId) return;
    const { lock: _released, ...rest } = record;
    this.records.set(certificateId, rest);
  }

  async get(certificateId: string): Promise<CertificateRecord | undefined> {
    const record = this.records.get(certificateId);
    return record ? structuredClone(record) : undefined;
  }

  async update(certificateId: string, changes: CertificateRecordChanges): Promise<void> {
    this.updates.push(changes);
    const next: Record<string, unknown> = { ...(this.records.get(certificateId) ?? { certificateId }) };
    for (const [field, value] of Object.entries(changes)) {
      if (value === null) delete next[field];
      else if (value !== undefined) next[field] = structuredClone(value);
    }
    this.records.set(certificateId, next as unknown as CertificateRecord);
  }

  async list(): Promise<{ readonly records: readonly CertificateRecord[] }> {
    return { records: [...this.records.values()] };
  }
}
