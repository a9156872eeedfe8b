/**
 * Contracts between inputs, the classifier and outputs. Sources adapt one input (demo, file, Event
 * Hubs, Kafka) to {@link Source}; the engine batches, classifies, writes to sinks and acknowledges
 * each batch back through {@link SourceBatch.ack} in partition order.
 */

/** A contiguous run of bodies read from one partition (lane) of one source. */
export interface SourceBatch {
  /** Stable source identity, part of the deduplication token, e.g. `demo`, `file`, `eventhubs:ns/hub/cg`. */
  readonly source: string;
  /** Partition (lane) inside the source: an Event Hubs partition id, a file path, `stdin`, ... */
  readonly partition: string;
  /** Sequence number of the first body in this batch (inclusive). */
  readonly firstSeq: number;
  /** Sequence number of the last body in this batch (inclusive). */
  readonly lastSeq: number;
  /** Raw Event Hubs bodies (or NDJSON lines), untouched. Each is one body: an envelope or a bare record. */
  readonly bodies: readonly Uint8Array[];
  /**
   * Called by the engine once every row derived from this batch (and from every earlier batch of the
   * same partition) is durably stored. Sources checkpoint here. Must not throw for bookkeeping
   * reasons; a rejected promise is logged and counted, and the next ack covers the range again.
   */
  readonly ack?: () => Promise<void>;
  /**
   * Set by live sources whose batch boundaries depend on arrival timing (Event Hubs). The batch's
   * range is logged before its rows are written, so after a crash the source can cut the unfinished
   * batch again exactly and its rows deduplicate (see the store's batch log).
   */
  readonly logged?: boolean;
  /**
   * Set by sources whose partitions can move to another consumer (Kafka). Checked when the batch is
   * admitted: a batch that became stale while it waited (its partition was revoked) is dropped
   * before any of it is written, so the new owner is the only one to write that range.
   */
  readonly isStale?: () => boolean;
  /** Called once the batch's range is in the batch log (`logged` batches only). */
  readonly onLogged?: () => void;
}

/**
 * Receives batches. The returned promise settles when the batch has been admitted into the bounded
 * pipeline, so a source that awaits it is paced by the slowest stage (backpressure).
 * It rejects only when the pipeline is shutting down or failed.
 */
export type BatchHandler = (batch: SourceBatch) => Promise<void>;

/** One input. */
export interface Source {
  /** Short name for logs and metrics (`demo`, `file`, ...). */
  readonly name: string;
  /**
   * Reads until the input ends or `signal` aborts, handing each batch to `emit` and awaiting it.
   * Resolves when reading has stopped (input exhausted or aborted); rejects on a fatal input error.
   */
  run(emit: BatchHandler, signal: AbortSignal): Promise<void>;
}

/** Limits a source uses to cut its input into batches. */
export interface BatchLimits {
  /**
   * Maximum bodies per batch.
   * @default 500
   */
  readonly maxBodies: number;
  /**
   * Maximum bytes of bodies per batch (a single larger body still forms its own batch).
   * @default 8388608
   */
  readonly maxBytes: number;
  /**
   * Maximum time a partially filled batch waits for more input, milliseconds. Live sources only;
   * replayed files cut by count and size so a replay repeats the same batches.
   * @default 1000
   */
  readonly maxWaitMs: number;
}

/** Default {@link BatchLimits}. */
export const defaultBatchLimits: BatchLimits = {
  maxBodies: 500,
  maxBytes: 8 * 1024 * 1024,
  maxWaitMs: 1000,
};
