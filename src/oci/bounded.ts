/**
 * `fn` over `items` with at most `limit` calls in flight; the results in the items' order. On S3
 * each storage call is a round trip, so independent reads go out together, within a bound that
 * keeps a large store from opening a socket per item. The first failure rejects (the calls already
 * started run to their end).
 */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
