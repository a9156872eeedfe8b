/**
 * Exactly-once resume for live sources whose batch boundaries depend on arrival timing (Event Hubs,
 * Kafka). Such sources emit `logged` batches and keep at most one batch per partition in flight, so
 * when a partition is reopened, every item before the partition's last logged range is known to be
 * stored, and the logged range itself may be half written. `BatchResume` skips the former and cuts the
 * latter again exactly, so its rows carry the deduplication token of the interrupted attempt.
 */

/** An inclusive range of sequence numbers (offsets). */
export interface SeqRange {
  readonly firstSeq: number;
  readonly lastSeq: number;
}

/** What to emit for one delivery: the re-cut logged range (once complete), then the rest. */
export interface ResumeCut<T> {
  /** The logged range, exactly, once all of it has arrived; emit it as one batch. */
  readonly recut: T[] | null;
  /** Items after the logged range (or every item once resuming is over). */
  readonly rest: T[];
}

export class BatchResume<T> {
  #range: SeqRange | null;
  #held: T[] = [];

  /**
   * @param range the partition's last logged range, or null when nothing was logged
   * @param seqOf the sequence number (offset) of an item
   */
  constructor(
    range: SeqRange | null,
    private readonly seqOf: (item: T) => number,
  ) {
    this.#range = range;
  }

  /** The logged range still to be gathered, or null once resuming is over. */
  get range(): SeqRange | null {
    return this.#range;
  }

  /** Feeds the next delivery (items in partition order). */
  take(items: readonly T[]): ResumeCut<T> {
    const range = this.#range;
    if (!range) return { recut: null, rest: [...items] };
    const { firstSeq, lastSeq } = range;
    const fresh = items.filter((i) => this.seqOf(i) >= firstSeq);
    if (this.#held.length === 0 && fresh.length > 0 && this.seqOf(fresh[0]!) > firstSeq) {
      // The logged range is no longer available (retention, or a commit past it): nothing to re-cut.
      this.#range = null;
      return { recut: null, rest: fresh };
    }
    for (const i of fresh) if (this.seqOf(i) <= lastSeq) this.#held.push(i);
    const last = this.#held[this.#held.length - 1];
    if (!last || this.seqOf(last) < lastSeq) return { recut: null, rest: [] };
    const recut = this.#held;
    this.#range = null;
    this.#held = [];
    return { recut, rest: fresh.filter((i) => this.seqOf(i) > lastSeq) };
  }
}
