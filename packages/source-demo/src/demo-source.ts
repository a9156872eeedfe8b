/**
 * DemoSource reads nothing: it runs the seeded generator one tick at a time, paced to the wall
 * clock, and emits the bodies on partition `0` of source `demo`, cut into batches by count, bytes
 * and `maxWaitMs`. It awaits every `emit`, so a slow pipeline slows the simulated clock instead of
 * piling up bodies. It never acks: generated data cannot be replayed, so there is nothing to
 * checkpoint.
 */
import { setImmediate as yieldToLoop, setTimeout as sleep } from "node:timers/promises";
import {
  defaultBatchLimits,
  GatewatchError,
  type BatchHandler,
  type BatchLimits,
  type Source,
  type SourceBatch,
} from "@gatewatch/pipeline";
import { createDemoGenerator, type DemoGenerator, type DemoOptions } from "./generator.js";

/** Options of {@link DemoSource}: the generator's, plus batching and run bounds. */
export interface DemoSourceOptions extends DemoOptions {
  /**
   * Batch cutting; unset fields take {@link defaultBatchLimits}.
   * @default defaultBatchLimits
   */
  readonly limits?: Partial<BatchLimits>;
  /**
   * Stop after emitting this many bodies in total (tests, benches).
   * @default unbounded
   */
  readonly maxBodies?: number;
  /**
   * Stop after this many real milliseconds of running (tests, benches).
   * @default unbounded
   */
  readonly durationMs?: number;
  /**
   * Wait for the wall clock between ticks. `false` generates as fast as the pipeline admits
   * batches (throughput benches); the simulated clock then runs ahead of real time.
   * @default true
   */
  readonly paced?: boolean;
  /**
   * Sequence number of the first body. The default derives it from the wall clock (ms × 1000), so
   * a restarted demo never reuses the numbers, and hence the deduplication tokens, of an earlier
   * run unless it produced over 1000 bodies per millisecond.
   * @default Date.now() * 1000 when the source is created
   */
  readonly firstSeq?: number;
}

/** Counters of a {@link DemoSource}, cumulative over its runs. */
export interface DemoSourceStats {
  readonly ticks: number;
  readonly bodiesGenerated: number;
  readonly bodiesEmitted: number;
  readonly batchesEmitted: number;
  /** Start of the next tick on the simulated clock, epoch ms. */
  readonly simulatedTimeMs: number;
}

function checkLimits(limits: BatchLimits, extra: DemoSourceOptions): void {
  const problems: string[] = [];
  const posInt = (key: string, v: number | undefined, allowZero = false): void => {
    if (v === undefined) return;
    if (!Number.isSafeInteger(v) || v < (allowZero ? 0 : 1))
      problems.push(`${key} must be a ${allowZero ? "non-negative" : "positive"} integer, got ${String(v)}`);
  };
  posInt("limits.maxBodies", limits.maxBodies);
  posInt("limits.maxBytes", limits.maxBytes);
  posInt("limits.maxWaitMs", limits.maxWaitMs, true);
  posInt("maxBodies", extra.maxBodies);
  posInt("durationMs", extra.durationMs, true);
  posInt("firstSeq", extra.firstSeq, true);
  if (problems.length > 0)
    throw new GatewatchError("demo_options_invalid", `invalid demo source options: ${problems.join("; ")}`);
}

/** A live {@link Source} of realistic generated Application Gateway logs. */
export class DemoSource implements Source {
  /** Source id carried by every batch (part of the store's deduplication token). */
  static readonly sourceId = "demo";
  /** The only partition. */
  static readonly partition = "0";

  readonly name = "demo";
  /** The generator; `generator.options` shows the resolved options (e.g. the start time). */
  readonly generator: DemoGenerator;
  private readonly limits: BatchLimits;
  private readonly opts: DemoSourceOptions;
  private tick = 0;
  private nextSeq: number;
  private running = false;
  private counters = { bodiesGenerated: 0, bodiesEmitted: 0, batchesEmitted: 0 };

  /** Throws a `GatewatchError` (`demo_options_invalid`) listing every bad option. */
  constructor(opts: DemoSourceOptions = {}) {
    // Unset or explicitly undefined fields take the default.
    this.limits = {
      maxBodies: opts.limits?.maxBodies ?? defaultBatchLimits.maxBodies,
      maxBytes: opts.limits?.maxBytes ?? defaultBatchLimits.maxBytes,
      maxWaitMs: opts.limits?.maxWaitMs ?? defaultBatchLimits.maxWaitMs,
    };
    checkLimits(this.limits, opts);
    this.generator = createDemoGenerator(opts);
    this.opts = opts;
    this.nextSeq = opts.firstSeq ?? Date.now() * 1000;
  }

  /** Counters so far. */
  stats(): DemoSourceStats {
    return {
      ticks: this.tick,
      ...this.counters,
      simulatedTimeMs: this.generator.tickRange(this.tick).startMs,
    };
  }

  /**
   * Generates and emits until `signal` aborts or a `maxBodies`/`durationMs` bound is reached. On
   * abort it resolves once the in-flight `emit` settles; bodies generated but not yet emitted are
   * dropped (nothing was promised about them). Rejects only if `emit` rejects while not aborted.
   * Runs again continue the simulated clock and the sequence numbers.
   */
  async run(emit: BatchHandler, signal: AbortSignal): Promise<void> {
    if (this.running) throw new GatewatchError("source_already_running", "DemoSource.run is already running");
    this.running = true;
    try {
      await this.loop(emit, signal);
    } finally {
      this.running = false;
    }
  }

  private async loop(emit: BatchHandler, signal: AbortSignal): Promise<void> {
    const { maxBodies, maxBytes, maxWaitMs } = this.limits;
    const tickMs = this.generator.options.tickMs;
    const paced = this.opts.paced ?? true;
    const stopAfter = this.opts.maxBodies ?? Infinity;
    const started = performance.now();
    const deadline = this.opts.durationMs === undefined ? Infinity : started + this.opts.durationMs;
    let due = started;
    let taken = 0;
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let pendingFirst = 0;
    let pendingSince = 0;

    /** Emits the pending batch; false when the run must stop (aborted). */
    const flush = async (): Promise<boolean> => {
      if (pending.length === 0) return !signal.aborted;
      if (signal.aborted) return false;
      const batch: SourceBatch = {
        source: DemoSource.sourceId,
        partition: DemoSource.partition,
        firstSeq: pendingFirst,
        lastSeq: pendingFirst + pending.length - 1,
        bodies: pending,
      };
      pending = [];
      pendingBytes = 0;
      try {
        await emit(batch);
      } catch (err) {
        if (signal.aborted) return false;
        throw err;
      }
      this.counters.bodiesEmitted += batch.bodies.length;
      this.counters.batchesEmitted += 1;
      return !signal.aborted;
    };

    while (!signal.aborted && taken < stopAfter && performance.now() < deadline) {
      const bodies = this.generator.bodiesAt(this.tick);
      this.tick += 1;
      this.counters.bodiesGenerated += bodies.length;
      for (const body of bodies) {
        if (taken >= stopAfter) break;
        if (pending.length > 0 && pendingBytes + body.byteLength > maxBytes && !(await flush())) return;
        if (pending.length === 0) {
          pendingFirst = this.nextSeq;
          pendingSince = performance.now();
        }
        pending.push(body);
        pendingBytes += body.byteLength;
        this.nextSeq += 1;
        taken += 1;
        if (pending.length >= maxBodies && !(await flush())) return;
      }
      if (taken >= stopAfter) break;
      // Flush a partial batch when waiting for the next tick would keep it past maxWaitMs.
      const now = performance.now();
      if (pending.length > 0 && now - pendingSince + (paced ? tickMs : 0) >= maxWaitMs && !(await flush()))
        return;
      if (paced) {
        due += tickMs;
        const wait = Math.min(due, deadline) - performance.now();
        if (wait > 0) {
          try {
            await sleep(wait, undefined, { signal });
          } catch (err) {
            if (signal.aborted) return;
            throw err;
          }
        } else {
          // Behind schedule (slow pipeline): carry on from now rather than bursting to catch up.
          due = performance.now();
          await yieldToLoop();
        }
      } else {
        // Let timers and I/O (including whoever aborts us) run between ticks.
        await yieldToLoop();
      }
    }
    await flush();
  }
}
