/**
 * Writes one classified batch: one synchronous insert per non-empty table, each with its own
 * deduplication token, retried with capped, jittered backoff while the error is retriable. Returns
 * only when every table has acknowledged, so the caller may then acknowledge the source.
 */
import pRetry, { AbortError } from "p-retry";
import { GatewatchError } from "@gatewatch/pipeline";
import type { InsertTable } from "./schema.js";
import type { ClickHouseStore } from "./store.js";

/** Encoded rows for one table. */
export interface EncodedTable {
  readonly table: InsertTable;
  readonly data: Uint8Array;
  readonly rows: number;
}

/** Retry policy of {@link StoreWriter}. */
export interface RetryPolicy {
  /**
   * Attempts after the first for a retriable failure; `Infinity` keeps trying until shutdown.
   * @default Infinity
   */
  readonly retries: number;
  /** @default 200 */
  readonly minDelayMs: number;
  /** @default 30000 */
  readonly maxDelayMs: number;
}

/** Default {@link RetryPolicy}. */
export const defaultRetryPolicy: RetryPolicy = { retries: Infinity, minDelayMs: 200, maxDelayMs: 30_000 };

/** Observer of insert outcomes (metrics, logs). */
export interface WriterObserver {
  onInsert?(table: InsertTable, rows: number, seconds: number): void;
  onRetry?(table: string, error: GatewatchError, attempt: number, delayMs: number): void;
}

export class StoreWriter {
  constructor(
    private readonly store: ClickHouseStore,
    private readonly policy: RetryPolicy = defaultRetryPolicy,
    private readonly observer: WriterObserver = {},
  ) {}

  /**
   * Inserts every table of a batch. `token` identifies the batch (source, partition, range,
   * content); the table name is appended so each table deduplicates independently. Rejects with the
   * last error when retries are exhausted, the error is not retriable, or `signal` aborts.
   */
  async write(tables: readonly EncodedTable[], token: string, signal?: AbortSignal): Promise<void> {
    for (const t of tables) {
      if (t.rows === 0) continue;
      const started = performance.now();
      await this.#retry(
        t.table,
        () => this.store.insertEncoded(t.table, t.data, `${token}:${t.table}`),
        signal,
      );
      this.observer.onInsert?.(t.table, t.rows, (performance.now() - started) / 1000);
    }
  }

  /** Logs a live batch's range before its rows are written (see the store's batch log), with the same retries. */
  async logBatch(
    source: string,
    partition: string,
    firstSeq: number,
    lastSeq: number,
    signal?: AbortSignal,
  ): Promise<void> {
    await this.#retry("batch_log", () => this.store.logBatch(source, partition, firstSeq, lastSeq), signal);
  }

  async #retry(table: string, attempt: () => Promise<void>, signal?: AbortSignal): Promise<void> {
    await pRetry(
      async () => {
        try {
          await attempt();
        } catch (err) {
          const e =
            err instanceof GatewatchError
              ? err
              : new GatewatchError("store_error", String(err), { cause: err });
          if (!e.retriable) throw new AbortError(e);
          throw e;
        }
      },
      {
        // `retry` precomputes one delay per retry, so Infinity must become `forever` (which
        // repeats the last, capped delay) rather than an unbounded array.
        ...(Number.isFinite(this.policy.retries)
          ? { retries: this.policy.retries }
          : { retries: 16, forever: true }),
        minTimeout: this.policy.minDelayMs,
        maxTimeout: this.policy.maxDelayMs,
        factor: 2,
        randomize: true,
        ...(signal ? { signal } : {}),
        onFailedAttempt: (failure) => {
          const e = failure as unknown as GatewatchError & { attemptNumber: number };
          const delay = Math.min(this.policy.maxDelayMs, this.policy.minDelayMs * 2 ** (e.attemptNumber - 1));
          this.observer.onRetry?.(table, e, e.attemptNumber, delay);
        },
      },
    );
  }
}
