/**
 * Writes one classified batch: one synchronous insert per non-empty table, each with its own
 * deduplication token, retried with capped, jittered backoff while the error is retriable. Returns
 * only when every row of every table has been acknowledged, stored or dead-lettered, so the caller
 * may then acknowledge the source.
 *
 * When ClickHouse refuses a table's rows for their content (`store_rejected_data`), the insert is
 * atomic: nothing landed. The writer bisects the rows (halves, recursively) until it has the single
 * rows the server refuses, inserts every good range, and writes each refused row to `dead_letters`
 * (reason `store_rejected`, the server's error in `detail`). Every sub-insert's token is derived from
 * the batch token, the table and the row range, so a replay of the same batch splits the same way and
 * writes nothing twice. Cost: O(bad rows × log rows) inserts; memory: the batch's bytes (ranges are
 * views, not copies) plus one bounded dead letter per refused row. Hazard: a schema that no longer
 * matches the encoder refuses every row, and then every row is dead-lettered (about two inserts per
 * row); migrations keep the two in step.
 */
import pRetry, { AbortError } from "p-retry";
import { GatewatchError, isGatewatchError } from "@gatewatch/pipeline";
import { DEFAULT_MAX_RAW_CHARS } from "@gatewatch/records";
import { serverErrorText } from "./errors.js";
import { compactRow, rowObject } from "./rows.js";
import { Tables, type InsertTable } from "./schema.js";
import type { ClickHouseStore } from "./store.js";

/** Encoded rows for one table. */
export interface EncodedTable {
  readonly table: InsertTable;
  /** JSONCompactEachRow: one JSON array per line in the order of TABLE_COLUMNS (`JSON.stringify` output, so no raw newline inside a row). */
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
  /** Rows of `table` acknowledged by ClickHouse for one batch (refused rows not included). */
  /** Rows (and their encoded bytes) of `table` acknowledged, in `seconds` including retries. */
  onInsert?(table: InsertTable, rows: number, seconds: number, bytes: number): void;
  onRetry?(table: string, error: GatewatchError, attempt: number, delayMs: number): void;
  /**
   * `rows` rows meant for `table` were refused by ClickHouse for their content and are now stored as
   * `dead_letters` rows (reason `store_rejected`). `error` is the first refusal (each dead letter
   * carries its own); `batch` the batch's token. Called once per table and batch, after the dead
   * letters are written.
   */
  onRejectedRows?(table: InsertTable, rows: number, error: GatewatchError, batch: string): void;
}

/** Options of {@link StoreWriter}. */
export interface WriterOptions {
  /**
   * Characters of a refused row kept in its dead letter's `raw`.
   * @default 4096
   */
  readonly deadLetterRawChars?: number;
}

/** What {@link StoreWriter.write} did beyond storing the rows as given. */
export interface WriteReport {
  /** Rows refused by ClickHouse for their content, per table; each is now a `dead_letters` row. */
  readonly rejected: ReadonlyMap<InsertTable, number>;
}

/** `dead_letters.reason` of a row ClickHouse refused. */
export const STORE_REJECTED_REASON = "store_rejected";

/** Characters of the server's error kept in a refused row's dead letter `detail`. */
const DETAIL_CHARS = 500;

const NEWLINE = 0x0a;

/** A row ClickHouse refused, with the refusal. */
interface RejectedRow {
  readonly table: InsertTable;
  readonly bytes: Uint8Array;
  readonly error: GatewatchError;
}

export class StoreWriter {
  readonly #rawChars: number;

  constructor(
    private readonly store: ClickHouseStore,
    private readonly policy: RetryPolicy = defaultRetryPolicy,
    private readonly observer: WriterObserver = {},
    options: WriterOptions = {},
  ) {
    this.#rawChars = options.deadLetterRawChars ?? DEFAULT_MAX_RAW_CHARS;
  }

  /**
   * Inserts every table of a batch. `token` identifies the batch (source, partition, range,
   * content); the table name is appended so each table deduplicates independently. Rows ClickHouse
   * refuses as data are isolated and dead-lettered (see the file note). Rejects with the last error
   * when retries are exhausted, the error is neither retriable nor a data refusal, a dead letter
   * itself is refused, or `signal` aborts.
   */
  async write(tables: readonly EncodedTable[], token: string, signal?: AbortSignal): Promise<WriteReport> {
    const rejected: RejectedRow[] = [];
    const firstError = new Map<InsertTable, GatewatchError>();
    for (const t of tables) {
      if (t.rows === 0) continue;
      const started = performance.now();
      const before = rejected.length;
      try {
        await this.#insert(t.table, t.data, `${token}:${t.table}`, signal);
      } catch (err) {
        // A refused dead letter has nowhere else to go: give up rather than loop.
        if (!isGatewatchError(err, "store_rejected_data") || t.table === Tables.deadLetters) throw err;
        const lines = new Lines(t.data);
        await this.#isolate(t.table, lines, 0, lines.count, token, err, rejected, signal);
      }
      const refused = rejected.length - before;
      if (refused > 0) firstError.set(t.table, rejected[before]!.error);
      this.observer.onInsert?.(
        t.table,
        Math.max(0, t.rows - refused),
        (performance.now() - started) / 1000,
        t.data.byteLength,
      );
    }
    const counts = new Map<InsertTable, number>();
    if (rejected.length === 0) return { rejected: counts };

    const started = performance.now();
    const receivedAt = Date.now();
    const letters = rejected.map((r) => this.#deadLetter(r, receivedAt)).join("\n") + "\n";
    // Inserted as a whole: a dead_letters row refused here is not split again.
    await this.#insert(
      Tables.deadLetters,
      Buffer.from(letters),
      `${token}:${Tables.deadLetters}:rejected`,
      signal,
    );
    this.observer.onInsert?.(
      Tables.deadLetters,
      rejected.length,
      (performance.now() - started) / 1000,
      Buffer.byteLength(letters),
    );
    for (const r of rejected) counts.set(r.table, (counts.get(r.table) ?? 0) + 1);
    for (const [table, n] of counts) this.observer.onRejectedRows?.(table, n, firstError.get(table)!, token);
    return { rejected: counts };
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

  /**
   * Bisects rows `from`…`to` (half-open) of a table's batch, known to hold a row refused with
   * `error`: inserts each half under a token naming its row range, recursing into a half that is
   * refused in turn, until the refused rows stand alone. Left to right, so a replay of the batch
   * issues the same inserts in the same order.
   */
  async #isolate(
    table: InsertTable,
    lines: Lines,
    from: number,
    to: number,
    token: string,
    error: GatewatchError,
    rejected: RejectedRow[],
    signal?: AbortSignal,
  ): Promise<void> {
    if (to - from <= 1) {
      if (to > from) rejected.push({ table, bytes: lines.slice(from, to), error });
      return;
    }
    const mid = from + Math.ceil((to - from) / 2);
    for (const [a, b] of [
      [from, mid],
      [mid, to],
    ] as const) {
      signal?.throwIfAborted();
      try {
        await this.#insert(table, lines.slice(a, b), `${token}:${table}:${a}-${b}`, signal);
      } catch (err) {
        if (!isGatewatchError(err, "store_rejected_data")) throw err;
        await this.#isolate(table, lines, a, b, token, err, rejected, signal);
      }
    }
  }

  async #insert(table: InsertTable, data: Uint8Array, token: string, signal?: AbortSignal): Promise<void> {
    await this.#retry(table, () => this.store.insertEncoded(table, data, token), signal);
  }

  /** One `dead_letters` row for a refused row, its position copied from the row when it has one. */
  #deadLetter(r: RejectedRow, receivedAtMs: number): string {
    const text = Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength).toString("utf8");
    let row: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed)) row = rowObject(r.table, parsed);
    } catch {
      // Not JSON at all (the reason it was refused): no position to copy; raw keeps the text.
    }
    return compactRow(Tables.deadLetters, {
      received_at: receivedAtMs,
      reason: STORE_REJECTED_REASON,
      detail: truncate(`${r.table}: ${serverErrorText(r.error)}`, DETAIL_CHARS),
      raw: truncate(text, this.#rawChars),
      raw_bytes: Math.min(r.bytes.byteLength, 0xffff_ffff),
      // The position may itself be what was refused: copy only values the columns accept.
      source: typeof row.source === "string" ? row.source : "",
      partition: typeof row.partition === "string" ? row.partition : "",
      batch_seq: integerIn(row.batch_seq, 0, Number.MAX_SAFE_INTEGER, 0),
      body_index: integerIn(row.body_index, 0, 0xffff_ffff, 0),
      record_index: integerIn(row.record_index, -0x8000_0000, 0x7fff_ffff, 0),
    });
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

/** The rows of line-delimited JSON bytes: the non-blank lines, addressed by index. */
class Lines {
  readonly #data: Uint8Array;
  readonly #starts: number[] = [];
  readonly #ends: number[] = [];

  constructor(data: Uint8Array) {
    this.#data = data;
    for (let start = 0; start < data.byteLength;) {
      let end = data.indexOf(NEWLINE, start);
      if (end < 0) end = data.byteLength;
      // ClickHouse ignores whitespace between rows; so do the row boundaries here.
      if (!data.subarray(start, end).every((b) => b === 0x20 || b === 0x09 || b === 0x0d)) {
        this.#starts.push(start);
        this.#ends.push(end);
      }
      start = end + 1;
    }
  }

  get count(): number {
    return this.#starts.length;
  }

  /** Rows `from`…`to` (half-open) as one view of the original bytes, no copy. */
  slice(from: number, to: number): Uint8Array {
    return this.#data.subarray(this.#starts[from] ?? 0, this.#ends[to - 1] ?? 0);
  }
}

function integerIn(v: unknown, min: number, max: number, fallback: number): number {
  return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max ? v : fallback;
}

/** Cuts `s` to `max` characters without splitting a surrogate pair. */
function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  const end = max > 0 && /[\uD800-\uDBFF]/.test(s.charAt(max - 1)) ? max - 1 : max;
  return s.slice(0, end);
}
