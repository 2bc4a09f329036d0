/**
 * Concurrent callers with one key share one run of the work (single flight in this process): many
 * clients pulling one tag cause one upstream request.
 */
export class KeyedFlights<T> {
  private readonly running = new Map<string, Promise<T>>();

  run(key: string, work: () => Promise<T>): Promise<T> {
    const existing = this.running.get(key);
    if (existing) return existing;
    const flight = work().finally(() => this.running.delete(key));
    this.running.set(key, flight);
    return flight;
  }
}
