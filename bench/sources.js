// In-memory implementations of the pipeline's Source contract (packages/pipeline/src/contracts.ts),
// so the end-to-end scenarios measure the pipeline and the store, not a file reader or a network.
// Both cut batches the way the real sources do (count and bytes, flushing before a body would pass
// maxBytes) and count records only when the engine acknowledges a batch, i.e. when its rows are
// durably stored and every earlier batch of the partition is too.
import { RECORDS_PER_BODY } from "./data.js";

/** The source id in deduplication tokens; the sequence base keeps runs apart in a reused store. */
const SOURCE = "bench";

/**
 * Emits `totalBodies` bodies as fast as the pipeline admits them, cycling through the pool. Each
 * batch gets the next sequence range, so its deduplication token is new even when its bodies repeat
 * an earlier batch: every insert is a real, deduplicated insert that stores its rows.
 */
export class CyclingSource {
  name = "bench-cycling";
  /** Records whose batch was acknowledged. */
  ackedRecords = 0;
  emittedRecords = 0;

  constructor(pool, totalBodies, limits) {
    this.pool = pool;
    this.totalBodies = totalBodies;
    this.limits = limits;
  }

  async run(emit, signal) {
    const { maxBodies, maxBytes } = this.limits;
    let batch = [];
    let bytes = 0;
    let seq = 0;
    const flush = async () => {
      const bodies = batch;
      const records = bodies.length * RECORDS_PER_BODY;
      batch = [];
      bytes = 0;
      this.emittedRecords += records;
      await emit({
        source: SOURCE,
        partition: "0",
        firstSeq: seq - bodies.length,
        lastSeq: seq - 1,
        bodies,
        ack: () => {
          this.ackedRecords += records;
          return Promise.resolve();
        },
      });
    };
    for (let i = 0; i < this.totalBodies && !signal.aborted; i++) {
      const body = this.pool[i % this.pool.length];
      if (batch.length > 0 && bytes + body.byteLength > maxBytes) await flush();
      batch.push(body);
      bytes += body.byteLength;
      seq++;
      if (batch.length >= maxBodies || bytes >= maxBytes) await flush();
    }
    if (batch.length > 0 && !signal.aborted) await flush();
  }
}

/**
 * A live source: releases bodies from the pool at `bodiesPerSecond` on a timer (as Event Hubs would
 * deliver them), stamps each with its release time, and cuts batches by count, bytes or when the
 * oldest waiting body has waited `maxWaitMs`. Released bodies queue while the pipeline pushes back,
 * so queueing shows in the latency as it would for a consumer that falls behind. On ack, each body's
 * latency (ack time − release time) is recorded.
 */
export class PacedSource {
  name = "bench-paced";
  /** Milliseconds from release to acknowledgement, one per body. */
  latencies = [];
  ackedRecords = 0;
  releasedBodies = 0;

  constructor(pool, bodiesPerSecond, durationMs, limits) {
    this.pool = pool;
    this.bodiesPerSecond = bodiesPerSecond;
    this.durationMs = durationMs;
    this.limits = limits;
  }

  async run(emit, signal) {
    const { maxBodies, maxBytes, maxWaitMs } = this.limits;
    const waiting = []; // { body, at }
    let wake = () => undefined;
    const started = performance.now();
    let done = false;
    // Releases what is due every 5 ms; the catch-up from the start time keeps the rate exact even
    // when the event loop is late.
    const timer = setInterval(() => {
      const now = performance.now();
      const due = Math.min(
        Math.floor(((now - started) / 1000) * this.bodiesPerSecond),
        Math.floor((this.durationMs / 1000) * this.bodiesPerSecond),
      );
      for (; this.releasedBodies < due; this.releasedBodies++) {
        waiting.push({ body: this.pool[this.releasedBodies % this.pool.length], at: now });
      }
      if (now - started >= this.durationMs) done = true;
      wake();
    }, 5);
    let seq = 0;
    try {
      while (!signal.aborted && !(done && waiting.length === 0)) {
        const { n, full } = this.#cut(waiting, maxBodies, maxBytes);
        const oldest = waiting[0]?.at ?? Infinity;
        if (full || (n > 0 && (done || performance.now() - oldest >= maxWaitMs))) {
          const taken = waiting.splice(0, n);
          seq += taken.length;
          await emit(this.#batch(taken, seq));
        } else {
          await new Promise((resolve) => (wake = resolve));
        }
      }
    } finally {
      clearInterval(timer);
    }
  }

  /** How many waiting bodies make the next batch, and whether that batch reached a limit. */
  #cut(waiting, maxBodies, maxBytes) {
    let bytes = 0;
    for (let i = 0; i < waiting.length; i++) {
      if (i >= maxBodies || (i > 0 && bytes + waiting[i].body.byteLength > maxBytes))
        return { n: i, full: true };
      bytes += waiting[i].body.byteLength;
    }
    const n = waiting.length;
    return { n, full: n >= maxBodies || bytes >= maxBytes };
  }

  #batch(taken, endSeq) {
    return {
      source: SOURCE,
      partition: "0",
      firstSeq: endSeq - taken.length,
      lastSeq: endSeq - 1,
      bodies: taken.map((t) => t.body),
      ack: () => {
        const now = performance.now();
        for (const t of taken) this.latencies.push(now - t.at);
        this.ackedRecords += taken.length * RECORDS_PER_BODY;
        return Promise.resolve();
      },
    };
  }
}
