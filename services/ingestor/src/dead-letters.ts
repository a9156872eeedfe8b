/**
 * `gatewatch dead-letters replay`: feeds dead letters back through the data path after a fix (a
 * classifier that now understands a record, a producer that was repaired upstream), then marks them
 * replayed so they are neither listed nor replayed again. Each dead letter's `raw` (the whole body,
 * or the one record as JSON) becomes one body; records that are still unusable become new dead
 * letters. Dead letters whose `raw` was cut to GATEWATCH_DEAD_LETTER_RAW_CHARS when they were stored
 * cannot be replayed faithfully and are skipped (counted).
 *
 * Exactly once: the selection is ordered, batches are cut by count and size only and carry content
 * hashes in their tokens, so a replay interrupted before the marks are written writes nothing twice
 * when run again.
 */
import type { Logger } from "pino";
import { splitBatches, type BatchHandler, type Source } from "@gatewatch/pipeline";
import type { DeadLetterRow } from "@gatewatch/store-clickhouse";
import type { Config } from "./config.js";
import { createPipeline, type Totals } from "./pipeline.js";
import { openMigratedStore } from "./store.js";

/** Which dead letters to replay. */
export interface DeadLetterFilter {
  /** Received within this many seconds. */
  readonly sinceSeconds: number;
  /** Only this reason. */
  readonly reason?: string;
  /** At most this many. @default 100000 */
  readonly limit?: number;
}

export interface DeadLetterReplaySummary extends Totals {
  /** Dead letters selected (not replayed before). */
  readonly selected: number;
  /** Fed back through the pipeline and marked replayed. */
  readonly replayed: number;
  /** Skipped: their raw text was truncated when they were stored. */
  readonly truncated: number;
}

/** Emits the selected dead letters' raw texts as bodies, in order. */
class DeadLetterSource implements Source {
  readonly name = "dead-letters";
  static readonly sourceId = "dead-letters";

  constructor(
    private readonly rows: readonly DeadLetterRow[],
    private readonly limits: { maxBodies: number; maxBytes: number },
  ) {}

  async run(emit: BatchHandler, signal: AbortSignal): Promise<void> {
    const bodies = this.rows.map((r, seq) => ({ seq, body: Buffer.from(r.raw, "utf8") }));
    for (const batch of splitBatches(bodies, (b) => b.body.byteLength, this.limits)) {
      if (signal.aborted) return;
      await emit({
        source: DeadLetterSource.sourceId,
        partition: "replay",
        firstSeq: batch[0]!.seq,
        lastSeq: batch[batch.length - 1]!.seq,
        bodies: batch.map((b) => b.body),
      });
    }
  }
}

/**
 * Whether a dead letter's raw text is whole: a whole body is as long as the body was; a single
 * record was stored as JSON, which a cut makes unparsable.
 */
function isComplete(row: DeadLetterRow): boolean {
  if (row.record_index < 0) return Buffer.byteLength(row.raw, "utf8") >= row.raw_bytes;
  try {
    JSON.parse(row.raw);
    return true;
  } catch {
    return false;
  }
}

export async function replayDeadLetters(
  config: Config,
  log: Logger,
  filter: DeadLetterFilter,
  signal?: AbortSignal,
): Promise<DeadLetterReplaySummary> {
  const store = await openMigratedStore(config, log);
  try {
    const selected = await store.deadLettersForReplay(
      filter.sinceSeconds,
      filter.reason,
      filter.limit ?? 100_000,
    );
    const complete = selected.filter(isComplete);
    const pipeline = createPipeline(config, store, log);
    const stop = new AbortController();
    signal?.addEventListener("abort", () => stop.abort(), { once: true });
    void pipeline.failed.then(() => stop.abort());
    try {
      await new DeadLetterSource(complete, {
        maxBodies: config.batchMaxBodies,
        maxBytes: config.batchMaxBytes,
      }).run(pipeline.engine.handle, stop.signal);
    } finally {
      await pipeline.close(config.shutdownTimeoutSeconds * 1000);
    }
    if (pipeline.engine.failure) throw pipeline.engine.failure;
    const done = stop.signal.aborted ? [] : complete;
    await store.markDeadLettersReplayed(done);
    return {
      ...pipeline.totals,
      selected: selected.length,
      replayed: done.length,
      truncated: selected.length - complete.length,
    };
  } finally {
    await store.close();
  }
}
