import { describe, expect, it } from "vitest";
import { AckTracker, Semaphore } from "../src/index.js";

describe("Semaphore", () => {
  it("admits up to its permits and then queues callers in order", async () => {
    const s = new Semaphore(1);
    await s.acquire();
    const order: number[] = [];
    const a = s.acquire().then(() => order.push(1));
    const b = s.acquire().then(() => order.push(2));
    expect(s.waiting).toBe(2);
    s.release();
    await a;
    s.release();
    await b;
    expect(order).toEqual([1, 2]);
    expect(s.inUse).toBe(1);
  });

  it("rejects a non-positive permit count", () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });
});

describe("AckTracker", () => {
  it("releases only the completed prefix", () => {
    const t = new AckTracker<number>();
    const [a, b, c] = [t.register(1), t.register(2), t.register(3)];
    expect(t.complete(b)).toEqual([]);
    expect(t.complete(a)).toEqual([1, 2]);
    expect(t.size).toBe(1);
    expect(t.complete(c)).toEqual([3]);
  });
});
