import { describe, expect, it } from "vitest";
import { splitBatches } from "../src/split-batches.js";

describe("splitBatches", () => {
  const size = (n: number) => n;

  it("cuts by count", () => {
    expect(splitBatches([1, 1, 1, 1, 1], size, { maxBodies: 2, maxBytes: 100 })).toEqual([
      [1, 1],
      [1, 1],
      [1],
    ]);
  });

  it("cuts by bytes, and an oversized item stands alone", () => {
    expect(splitBatches([3, 3, 3, 10, 1], size, { maxBodies: 10, maxBytes: 6 })).toEqual([
      [3, 3],
      [3],
      [10],
      [1],
    ]);
  });

  it("returns nothing for nothing", () => {
    expect(splitBatches([], size, { maxBodies: 1, maxBytes: 1 })).toEqual([]);
  });
});
