import { describe, expect, it } from "vitest";
import { Engine, GatewatchError, type SourceBatch } from "../src/index.js";

function batch(partition: string, seq: number, acks: string[]): SourceBatch {
  return {
    source: "test",
    partition,
    firstSeq: seq,
    lastSeq: seq,
    bodies: [new Uint8Array([seq])],
    ack: () => {
      acks.push(`${partition}:${seq}`);
      return Promise.resolve();
    },
  };
}

/** A promise with its resolve/reject exposed, to finish stages in a chosen order. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe("Engine", () => {
  it("acknowledges batches of a partition in read order even when they finish out of order", async () => {
    const gates = new Map<number, ReturnType<typeof deferred<void>>>();
    const acks: string[] = [];
    const engine = new Engine<number>(
      (b) => Promise.resolve(b.firstSeq),
      async (b) => {
        const g = deferred();
        gates.set(b.firstSeq, g);
        await g.promise;
      },
      { maxInFlight: 4 },
    );
    for (const seq of [1, 2, 3]) await engine.handle(batch("p0", seq, acks));
    await new Promise((r) => setTimeout(r, 10));
    gates.get(3)!.resolve();
    gates.get(2)!.resolve();
    await new Promise((r) => setTimeout(r, 10));
    expect(acks).toEqual([]);
    gates.get(1)!.resolve();
    await engine.drain();
    expect(acks).toEqual(["p0:1", "p0:2", "p0:3"]);
  });

  it("keeps partitions independent", async () => {
    const acks: string[] = [];
    const slow = deferred();
    const engine = new Engine<number>(
      (b) => Promise.resolve(b.firstSeq),
      async (b) => {
        if (b.partition === "a") await slow.promise;
      },
      { maxInFlight: 4 },
    );
    await engine.handle(batch("a", 1, acks));
    await engine.handle(batch("b", 1, acks));
    await new Promise((r) => setTimeout(r, 10));
    expect(acks).toEqual(["b:1"]);
    slow.resolve();
    await engine.drain();
    expect(acks).toEqual(["b:1", "a:1"]);
  });

  it("makes the source wait while maxInFlight batches are being processed", async () => {
    const gate = deferred();
    const engine = new Engine<number>(
      () => Promise.resolve(0),
      () => gate.promise,
      { maxInFlight: 2 },
    );
    await engine.handle(batch("p", 1, []));
    await engine.handle(batch("p", 2, []));
    let admitted = false;
    const third = engine.handle(batch("p", 3, [])).then(() => (admitted = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(admitted).toBe(false);
    expect(engine.waiting).toBe(1);
    gate.resolve();
    await third;
    expect(admitted).toBe(true);
    await engine.drain();
  });

  it("drops a batch that became stale while it waited for admission, without classifying it", async () => {
    const gate = deferred();
    const classified: number[] = [];
    const acks: string[] = [];
    const engine = new Engine<number>(
      (b) => {
        classified.push(b.firstSeq);
        return Promise.resolve(0);
      },
      () => gate.promise,
      { maxInFlight: 1 },
    );
    await engine.handle(batch("p", 1, acks));
    let stale = false;
    const waiting = engine.handle({ ...batch("p", 2, acks), isStale: () => stale });
    stale = true; // e.g. the partition was revoked while the source waited
    gate.resolve();
    await waiting;
    await engine.drain();
    expect(classified).toEqual([1]);
    expect(acks).toEqual(["p:1"]);
    expect(engine.stats.dropped).toBe(1);
    // The slot was given back.
    await engine.handle(batch("p", 3, acks));
    await engine.drain();
    expect(acks).toEqual(["p:1", "p:3"]);
  });

  it("does not acknowledge the failed batch or anything after it, and refuses new batches", async () => {
    const acks: string[] = [];
    const fatal: GatewatchError[] = [];
    const second = deferred();
    const engine = new Engine<number>(
      (b) => Promise.resolve(b.firstSeq),
      (b) => (b.firstSeq === 2 ? second.promise : Promise.resolve()),
      { maxInFlight: 4 },
      { onFatal: (e) => fatal.push(e) },
    );
    for (const seq of [1, 2, 3]) await engine.handle(batch("p", seq, acks));
    second.reject(new GatewatchError("store_error", "boom"));
    await engine.drain();
    expect(acks).toEqual(["p:1"]);
    expect(fatal.map((e) => e.code)).toEqual(["store_error"]);
    await expect(engine.handle(batch("p", 4, acks))).rejects.toMatchObject({ code: "store_error" });
  });

  it("reports an ack failure without stopping, and later acks still run", async () => {
    const errors: unknown[] = [];
    const acks: number[] = [];
    const engine = new Engine<number>(
      () => Promise.resolve(0),
      () => Promise.resolve(),
      { maxInFlight: 1 },
      { onAckError: (_b, e) => errors.push(e) },
    );
    await engine.handle({
      ...batch("p", 1, []),
      ack: () => Promise.reject(new Error("checkpoint store down")),
    });
    await engine.handle({ ...batch("p", 2, []), ack: () => (acks.push(2), Promise.resolve()) });
    await engine.drain();
    expect(errors).toHaveLength(1);
    expect(acks).toEqual([2]);
    expect(engine.failure).toBeUndefined();
  });

  it("abort stops sink retries and refuses new batches", async () => {
    const engine = new Engine<number>(
      () => Promise.resolve(0),
      (_b, _r, signal) =>
        new Promise((_res, rej) => signal.addEventListener("abort", () => rej(signal.reason as Error))),
      { maxInFlight: 2 },
    );
    await engine.handle(batch("p", 1, []));
    engine.abort();
    await engine.drain();
    expect(engine.failure?.code).toBe("shutdown");
    await expect(engine.handle(batch("p", 2, []))).rejects.toBeInstanceOf(GatewatchError);
  });
});
