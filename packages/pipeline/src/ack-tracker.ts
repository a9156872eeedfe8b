/**
 * Acknowledges batches of one partition strictly in the order they were read, whatever order they
 * finish in. A source checkpoints from `ack`, so a checkpoint never passes a batch whose rows are not
 * yet stored.
 */
export class AckTracker<T> {
  readonly #pending: { item: T; done: boolean }[] = [];

  /** Registers a batch in read order; returns the handle to pass to {@link complete}. */
  register(item: T): { item: T; done: boolean } {
    const entry = { item, done: false };
    this.#pending.push(entry);
    return entry;
  }

  /**
   * Marks a batch stored and returns the batches that can now be acknowledged, oldest first: the
   * longest completed prefix.
   */
  complete(entry: { item: T; done: boolean }): T[] {
    entry.done = true;
    const ready: T[] = [];
    while (this.#pending.length > 0 && this.#pending[0]!.done) ready.push(this.#pending.shift()!.item);
    return ready;
  }

  /** Batches registered and not yet acknowledged. */
  get size(): number {
    return this.#pending.length;
  }
}
