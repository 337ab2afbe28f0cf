/**
 * Runs `work` over `items` with at most `limit` calls in flight, keeping the results in input
 * order: DNS lookups for up to 100 names (times four name servers) finish in a few round trips
 * without flooding a resolver. The first rejection rejects the whole call.
 */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
