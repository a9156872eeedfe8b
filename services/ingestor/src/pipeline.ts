/**
 * Wiring of the data path shared by `run` and `replay`:
 * source → engine (bounded) → classifier pool → ClickHouse writer → ack; metrics from worker deltas.
 */
import type { Logger } from "pino";
import { ClassifyPool, DURATION_BUCKETS, type ClassifyResult } from "@gatewatch/classify-pool";
import { GatewatchMetrics } from "@gatewatch/metrics";
import { Engine, type GatewatchError, type SourceBatch } from "@gatewatch/pipeline";
import { StoreWriter, type ClickHouseStore } from "@gatewatch/store-clickhouse";
import type { Config } from "./config.js";

/** Totals kept for summaries. */
export interface Totals {
  records: number;
  rows: Record<string, number>;
  kinds: Record<string, number>;
  deadLetters: number;
}

/** A running data path. */
export interface Pipeline {
  readonly engine: Engine<ClassifyResult>;
  readonly pool: ClassifyPool;
  readonly metrics: GatewatchMetrics;
  readonly totals: Totals;
  /** Resolves with the error that stopped the pipeline, if one does. */
  readonly failed: Promise<GatewatchError>;
  /** Waits for admitted batches, then stops the workers. Bounded by `timeoutMs`: past it, in-flight work is abandoned unacknowledged. */
  close(timeoutMs: number): Promise<{ drained: boolean }>;
}

/**
 * The deduplication token of a batch: source, partition, sequence range and a hash of the bodies.
 * The same bodies at the same position always give the same token, so a replay or a redelivery
 * writes nothing twice; other content at a reused position (stdin, a rewritten file) is not masked.
 */
export function batchToken(batch: SourceBatch, contentHash: string): string {
  return `${batch.source}:${batch.partition}:${batch.firstSeq}-${batch.lastSeq}:${contentHash.slice(0, 32)}`;
}

/**
 * @param onDeltas also receives each classified batch's metric deltas (the spike detector).
 */
export function createPipeline(
  config: Config,
  store: ClickHouseStore,
  log: Logger,
  onDeltas?: (deltas: ClassifyResult["deltas"]) => void,
): Pipeline {
  const m = new GatewatchMetrics({ labelCap: config.labelCap, durationBuckets: DURATION_BUCKETS });
  const pool = new ClassifyPool({
    threads: config.threads,
    maxQueue: config.maxInFlight,
    decode: { maxBodyBytes: config.maxBodyBytes, maxRawChars: config.deadLetterRawChars },
    classify: { backendTimeoutSeconds: config.backendTimeoutSeconds },
  });
  const writer = new StoreWriter(
    store,
    { retries: Infinity, minDelayMs: 200, maxDelayMs: config.insertMaxDelayMs },
    {
      onInsert: (table, rows, seconds, bytes) => m.observeInsert(table, rows, seconds, bytes),
      onRetry: (table, error, attempt, delayMs) => {
        m.countRetry(table, error.code);
        log.warn(
          { table, attempt, delayMs, code: error.code, err: error.message },
          "insert failed, retrying",
        );
      },
      onRejectedRows: (table, rows, error, batch) => {
        m.countRejectedRows(rows);
        log.warn(
          { table, rows, batch, code: error.code, err: error.message },
          "ClickHouse refused rows for their content; stored the rest and dead-lettered these (reason store_rejected)",
        );
      },
    },
    { deadLetterRawChars: config.deadLetterRawChars },
  );
  const totals: Totals = { records: 0, rows: {}, kinds: {}, deadLetters: 0 };
  let reportFailure: (err: GatewatchError) => void = () => undefined;
  const failed = new Promise<GatewatchError>((resolve) => (reportFailure = resolve));
  const engine = new Engine<ClassifyResult>(
    (batch) => pool.classify(batch),
    async (batch, result, signal) => {
      if (batch.logged) {
        await writer.logBatch(batch.source, batch.partition, batch.firstSeq, batch.lastSeq, signal);
        batch.onLogged?.();
      }
      const report = await writer.write(
        result.tables.map((t) => ({ table: t.table, data: t.data, rows: t.rows })),
        batchToken(batch, result.contentHash),
        signal,
      );
      // onStored (next) counts the rows as encoded; move the refused ones to the dead letters.
      for (const [table, n] of report.rejected) {
        totals.rows[table] = (totals.rows[table] ?? 0) - n;
        totals.rows.dead_letters = (totals.rows.dead_letters ?? 0) + n;
        totals.deadLetters += n;
      }
    },
    { maxInFlight: config.maxInFlight },
    {
      onClassified: (_batch, result, seconds) => {
        m.observeBatch(seconds);
        m.applyDeltas(result.deltas);
        m.addPendingRows(result.records);
        onDeltas?.(result.deltas);
      },
      onStored: (_batch, result) => {
        m.addPendingRows(-result.records);
        totals.records += result.records;
        for (const t of result.tables) totals.rows[t.table] = (totals.rows[t.table] ?? 0) + t.rows;
        for (const [kind, , n] of result.deltas.records) totals.kinds[kind] = (totals.kinds[kind] ?? 0) + n;
        for (const [, n] of result.deltas.deadLetters) totals.deadLetters += n;
      },
      onAckError: (batch, err) => {
        // A checkpoint (or commit) that could not be written: counted so an outage shows in metrics.
        m.countReceiveError("checkpoint");
        log.error(
          {
            source: batch.source,
            partition: batch.partition,
            firstSeq: batch.firstSeq,
            lastSeq: batch.lastSeq,
            err: String(err),
          },
          "acknowledging a stored batch failed; the next acknowledgement covers it",
        );
      },
      onFatal: (err) => {
        log.error({ code: err.code, err: err.message }, "pipeline stopped");
        reportFailure(err);
      },
    },
  );
  const sampler = setInterval(() => m.setQueues(engine.inFlight, pool.queueSize), 1000);
  sampler.unref();
  return {
    engine,
    pool,
    metrics: m,
    totals,
    failed,
    async close(timeoutMs) {
      clearInterval(sampler);
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        engine.drain().then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
      ]);
      clearTimeout(timer);
      if (!drained) {
        engine.abort();
        await engine.drain();
      }
      await pool.close();
      return { drained };
    },
  };
}
