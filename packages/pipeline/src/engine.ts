/**
 * The data path between sources and sinks:
 * `source -> admit (bounded) -> classify -> sinks -> ack in partition order`.
 *
 * `handle` resolves once a batch is admitted; while `maxInFlight` batches are being processed it
 * stays pending, which is how a source feels backpressure. A batch is acknowledged to its source
 * only after every sink has accepted it and every earlier batch of the same partition has been
 * acknowledged. The first failure stops the engine: later batches are refused and nothing after the
 * failed batch is ever acknowledged, so a restart resumes from the last good checkpoint.
 */
import { AckTracker } from "./ack-tracker.js";
import type { BatchHandler, SourceBatch } from "./contracts.js";
import { GatewatchError } from "./errors.js";
import { Semaphore } from "./semaphore.js";

interface Lane {
  readonly tracker: AckTracker<SourceBatch>;
  acks: Promise<void>;
}

/** Turns a batch into a result (the classifier pool). */
export type Classifier<R> = (batch: SourceBatch) => Promise<R>;

/** Accepts a classified batch durably (e.g. inserts into ClickHouse); resolves when it is safe to ack. */
export type Sink<R> = (batch: SourceBatch, result: R, signal: AbortSignal) => Promise<void>;

/** Observers for logs and metrics. */
export interface EngineHooks<R> {
  onClassified?(batch: SourceBatch, result: R, seconds: number): void;
  onStored?(batch: SourceBatch, result: R): void;
  onAckError?(batch: SourceBatch, error: unknown): void;
  onFatal?(error: GatewatchError): void;
}

/** Options of {@link Engine}. */
export interface EngineOptions {
  /**
   * Batches admitted and not yet stored, across all partitions.
   * @default 8
   */
  readonly maxInFlight: number;
}

/** Running totals, for the periodic summary. */
export interface EngineStats {
  batches: number;
  bodies: number;
  acked: number;
  /** Batches their source gave up (stale) before admission. */
  dropped: number;
}

export class Engine<R> {
  readonly #slots: Semaphore;
  readonly #lanes = new Map<string, Lane>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  #failure: GatewatchError | undefined;
  readonly stats: EngineStats = { batches: 0, bodies: 0, acked: 0, dropped: 0 };

  constructor(
    private readonly classifier: Classifier<R>,
    private readonly sink: Sink<R>,
    options: EngineOptions = { maxInFlight: 8 },
    private readonly hooks: EngineHooks<R> = {},
  ) {
    this.#slots = new Semaphore(options.maxInFlight);
  }

  /** The handler to give sources. */
  readonly handle: BatchHandler = async (batch) => {
    this.#throwIfStopped();
    await this.#slots.acquire();
    if (this.#failure || this.#abort.signal.aborted) {
      this.#slots.release();
      this.#throwIfStopped();
    }
    if (batch.isStale?.()) {
      this.#slots.release();
      this.stats.dropped++;
      return;
    }
    const laneKey = `${batch.source}\u0000${batch.partition}`;
    let lane = this.#lanes.get(laneKey);
    if (!lane) {
      lane = { tracker: new AckTracker<SourceBatch>(), acks: Promise.resolve() };
      this.#lanes.set(laneKey, lane);
    }
    const entry = lane.tracker.register(batch);
    this.stats.batches++;
    this.stats.bodies += batch.bodies.length;
    const work = this.#process(batch, lane, entry).finally(() => {
      this.#slots.release();
      this.#inFlight.delete(work);
    });
    this.#inFlight.add(work);
  };

  /** Batches admitted and not yet finished. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Sources waiting to be admitted. */
  get waiting(): number {
    return this.#slots.waiting;
  }

  /** The error that stopped the engine, if any. */
  get failure(): GatewatchError | undefined {
    return this.#failure;
  }

  /** Waits until every admitted batch is stored (or failed). Call after the sources have stopped. */
  async drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Gives up on in-flight work (sink retries stop); used when a drain takes too long. */
  abort(): void {
    this.#abort.abort(new GatewatchError("shutdown", "pipeline aborted during shutdown"));
  }

  async #process(batch: SourceBatch, lane: Lane, entry: { item: SourceBatch; done: boolean }): Promise<void> {
    try {
      const started = performance.now();
      const result = await this.classifier(batch);
      this.hooks.onClassified?.(batch, result, (performance.now() - started) / 1000);
      await this.sink(batch, result, this.#abort.signal);
      this.hooks.onStored?.(batch, result);
    } catch (err) {
      this.#fail(err);
      return;
    }
    // Acks of one lane run one after another, so a checkpoint never moves backwards.
    const ready = lane.tracker.complete(entry);
    lane.acks = lane.acks.then(async () => {
      for (const b of ready) {
        this.stats.acked++;
        try {
          await b.ack?.();
        } catch (err) {
          this.hooks.onAckError?.(b, err);
        }
      }
    });
    await lane.acks;
  }

  #fail(err: unknown): void {
    if (this.#failure) return;
    this.#failure =
      err instanceof GatewatchError
        ? err
        : new GatewatchError("pipeline_failed", `pipeline failed: ${String(err)}`, { cause: err });
    this.hooks.onFatal?.(this.#failure);
  }

  #throwIfStopped(): void {
    if (this.#failure) throw this.#failure;
    if (this.#abort.signal.aborted) throw new GatewatchError("shutdown", "pipeline is shutting down");
  }
}
