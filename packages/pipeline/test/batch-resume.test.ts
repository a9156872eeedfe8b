import { describe, expect, it } from "vitest";
import { BatchResume } from "../src/batch-resume.js";

const seq = (n: number) => n;
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe("BatchResume", () => {
  it("passes everything through when nothing was logged", () => {
    const r = new BatchResume<number>(null, seq);
    expect(r.take([1, 2, 3])).toEqual({ recut: null, rest: [1, 2, 3] });
    expect(r.range).toBeNull();
  });

  it("skips items before the logged range and cuts the range again exactly", () => {
    const r = new BatchResume<number>({ firstSeq: 10, lastSeq: 14 }, seq);
    expect(r.take(range(5, 20))).toEqual({ recut: range(10, 14), rest: range(15, 20) });
    expect(r.range).toBeNull();
    expect(r.take([21])).toEqual({ recut: null, rest: [21] });
  });

  it("holds a logged range that arrives over several deliveries", () => {
    const r = new BatchResume<number>({ firstSeq: 10, lastSeq: 14 }, seq);
    expect(r.take(range(8, 11))).toEqual({ recut: null, rest: [] });
    expect(r.range).toEqual({ firstSeq: 10, lastSeq: 14 });
    expect(r.take(range(12, 13))).toEqual({ recut: null, rest: [] });
    expect(r.take(range(14, 16))).toEqual({ recut: range(10, 14), rest: [15, 16] });
  });

  it("gives up re-cutting when the range is no longer available", () => {
    const r = new BatchResume<number>({ firstSeq: 10, lastSeq: 14 }, seq);
    expect(r.take(range(12, 16))).toEqual({ recut: null, rest: range(12, 16) });
    expect(r.range).toBeNull();
  });

  it("keeps offset gaps inside the range (compaction, transaction markers)", () => {
    const r = new BatchResume<number>({ firstSeq: 10, lastSeq: 14 }, seq);
    expect(r.take([10, 12, 14, 17])).toEqual({ recut: [10, 12, 14], rest: [17] });
  });
});
