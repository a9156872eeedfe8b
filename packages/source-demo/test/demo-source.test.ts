import { setTimeout as sleep } from "node:timers/promises";
import type { SourceBatch } from "@gatewatch/pipeline";
import { isGatewatchError } from "@gatewatch/pipeline";
import { describe, expect, it } from "vitest";
import { DemoSource } from "../src/index.js";

const START = Date.UTC(2025, 2, 14, 12, 0, 0);

describe("DemoSource", () => {
  it("emits consecutive batches of source demo, partition 0, within the limits", async () => {
    const src = new DemoSource({
      startTimeMs: START,
      paced: false,
      maxBodies: 700,
      firstSeq: 1000,
      limits: { maxBodies: 50, maxBytes: 256 * 1024 },
    });
    const batches: SourceBatch[] = [];
    await src.run(async (b) => {
      batches.push(b);
      return Promise.resolve();
    }, new AbortController().signal);
    expect(src.name).toBe("demo");
    let next = 1000;
    let total = 0;
    for (const b of batches) {
      expect(b.source).toBe("demo");
      expect(b.partition).toBe("0");
      expect(b.ack).toBeUndefined();
      expect(b.firstSeq).toBe(next);
      expect(b.lastSeq - b.firstSeq + 1).toBe(b.bodies.length);
      expect(b.bodies.length).toBeLessThanOrEqual(50);
      const bytes = b.bodies.reduce((s, x) => s + x.byteLength, 0);
      if (b.bodies.length > 1) expect(bytes).toBeLessThanOrEqual(256 * 1024);
      next = b.lastSeq + 1;
      total += b.bodies.length;
    }
    expect(total).toBe(700);
    expect(src.stats().bodiesEmitted).toBe(700);
  });

  it("emits the generator's bodies unchanged and in order", async () => {
    const src = new DemoSource({ startTimeMs: START, paced: false, maxBodies: 200, seed: 9 });
    const got: Uint8Array[] = [];
    await src.run(async (b) => {
      got.push(...b.bodies);
      return Promise.resolve();
    }, new AbortController().signal);
    const expected: Uint8Array[] = [];
    for (let t = 0; expected.length < 200; t += 1) expected.push(...src.generator.bodiesAt(t));
    expect(got.length).toBe(200);
    expect(got.every((body, i) => Buffer.from(body).equals(expected[i]!))).toBe(true);
  });

  it("derives default sequence numbers from the wall clock so restarts do not reuse them", async () => {
    const before = Date.now() * 1000;
    const src = new DemoSource({ startTimeMs: START, paced: false, maxBodies: 5 });
    let first = -1;
    await src.run(async (b) => {
      if (first < 0) first = b.firstSeq;
      return Promise.resolve();
    }, new AbortController().signal);
    expect(first).toBeGreaterThanOrEqual(before);
    expect(first).toBeLessThanOrEqual(Date.now() * 1000);
  });

  it("never has more than one emit outstanding and is slowed by a slow emit", async () => {
    const src = new DemoSource({
      startTimeMs: START,
      paced: false,
      ratePerSecond: 2000,
      limits: { maxBodies: 20 },
    });
    let inFlight = 0;
    let maxInFlight = 0;
    let calls = 0;
    const ac = new AbortController();
    const run = src.run(async () => {
      calls += 1;
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(25);
      inFlight -= 1;
    }, ac.signal);
    await sleep(400);
    ac.abort();
    await run;
    expect(maxInFlight).toBe(1);
    // 400 ms at 25 ms per batch: about 16 batches, however fast the generator is.
    expect(calls).toBeLessThanOrEqual(18);
    const s = src.stats();
    // Generated but not emitted: at most one tick's bodies plus one batch.
    const perTick = Math.max(...Array.from({ length: s.ticks }, (_, t) => src.generator.bodiesAt(t).length));
    expect(s.bodiesGenerated - s.bodiesEmitted).toBeLessThanOrEqual(perTick + 20);
  });

  it("paces ticks to the wall clock", async () => {
    const src = new DemoSource({ startTimeMs: START, tickMs: 50, durationMs: 500, limits: { maxWaitMs: 0 } });
    let batches = 0;
    await src.run(async () => {
      batches += 1;
      return Promise.resolve();
    }, new AbortController().signal);
    const { ticks } = src.stats();
    expect(ticks).toBeGreaterThanOrEqual(6);
    expect(ticks).toBeLessThanOrEqual(12);
    expect(batches).toBeGreaterThanOrEqual(ticks - 1);
  });

  it("flushes a partial batch once maxWaitMs would be exceeded", async () => {
    const src = new DemoSource({
      startTimeMs: START,
      ratePerSecond: 20,
      tickMs: 50,
      limits: { maxWaitMs: 200 },
    });
    const seen: number[] = [];
    const ac = new AbortController();
    const t0 = performance.now();
    const run = src.run(async () => {
      seen.push(performance.now() - t0);
      return Promise.resolve();
    }, ac.signal);
    await sleep(700);
    ac.abort();
    await run;
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen[0]).toBeLessThan(350);
  });

  it("stops promptly when aborted while waiting for the next tick", async () => {
    const src = new DemoSource({ startTimeMs: START, tickMs: 10_000 });
    const ac = new AbortController();
    const run = src.run(async () => Promise.resolve(), ac.signal);
    await sleep(50);
    const t0 = performance.now();
    ac.abort();
    await run;
    expect(performance.now() - t0).toBeLessThan(100);
  });

  it("waits for the in-flight emit on abort, then emits nothing more", async () => {
    const src = new DemoSource({ startTimeMs: START, paced: false, limits: { maxBodies: 5 } });
    const ac = new AbortController();
    let calls = 0;
    let settled = false;
    const run = src.run(async () => {
      calls += 1;
      if (calls === 2) {
        ac.abort();
        await sleep(50);
        settled = true;
      }
    }, ac.signal);
    await run;
    expect(settled).toBe(true);
    expect(calls).toBe(2);
  });

  it("resolves when emit rejects because the pipeline is shutting down after abort", async () => {
    const src = new DemoSource({ startTimeMs: START, paced: false });
    const ac = new AbortController();
    await expect(
      src.run(async () => {
        ac.abort();
        return Promise.reject(new Error("pipeline closed"));
      }, ac.signal),
    ).resolves.toBeUndefined();
  });

  it("rejects when emit fails while running", async () => {
    const src = new DemoSource({ startTimeMs: START, paced: false });
    await expect(
      src.run(async () => Promise.reject(new Error("sink exploded")), new AbortController().signal),
    ).rejects.toThrow("sink exploded");
  });

  it("does not start when the signal is already aborted", async () => {
    const src = new DemoSource({ startTimeMs: START });
    const ac = new AbortController();
    ac.abort();
    let calls = 0;
    await src.run(async () => {
      calls += 1;
      return Promise.resolve();
    }, ac.signal);
    expect(calls).toBe(0);
  });

  it("takes the default for a limit given as undefined", async () => {
    const src = new DemoSource({
      startTimeMs: START,
      paced: false,
      maxBodies: 600,
      // Small bodies, so the 500-body default, not the 4 MiB one, cuts the first batch.
      maxRecordsPerBody: 1,
      limits: { maxBodies: undefined, maxWaitMs: undefined },
    });
    const sizes: number[] = [];
    await src.run(async (b) => {
      sizes.push(b.bodies.length);
      return Promise.resolve();
    }, new AbortController().signal);
    expect(sizes[0]).toBe(500);
  });

  it("validates its own options", () => {
    for (const opts of [
      { limits: { maxBodies: 0 } },
      { maxBodies: -1 },
      { durationMs: 1.5 },
      { ratePerSecond: -3 },
    ]) {
      let err: unknown;
      try {
        new DemoSource(opts);
      } catch (e) {
        err = e;
      }
      expect(isGatewatchError(err, "demo_options_invalid"), JSON.stringify(opts)).toBe(true);
    }
  });
});
