import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { createDemoGenerator } from "@gatewatch/source-demo";
import { ClassifyPool, classifyBatch, packBodies, type ClassifyResult } from "../src/index.js";

const fixture = new URL("../../../test/fixtures/replay/sample.ndjson", import.meta.url);
const encoder = new TextEncoder();

function fixtureBodies(): Uint8Array[] {
  return readFileSync(fixture, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => encoder.encode(l));
}

function demoBodies(): Uint8Array[] {
  const gen = createDemoGenerator({
    seed: 7,
    ratePerSecond: 2000,
    incidentPeriodSeconds: 1,
    incidentDurationSeconds: 1,
    startTimeMs: Date.UTC(2026, 0, 1),
  });
  const out: Uint8Array[] = [];
  for (let tick = 0; tick < 40; tick++) out.push(...gen.bodiesAt(tick));
  return out;
}

const decoder = new TextDecoder();
function comparable(r: ClassifyResult) {
  return {
    tables: r.tables.map((t) => ({ table: t.table, rows: t.rows, text: decoder.decode(t.data) })),
    deltas: r.deltas,
    contentHash: r.contentHash,
    records: r.records,
  };
}

const pool = new ClassifyPool({ threads: 2 });
afterAll(() => pool.close());

describe("ClassifyPool", () => {
  it.each([
    ["replay fixture", fixtureBodies],
    ["demo traffic", demoBodies],
  ])("returns the same rows and metric deltas as the single-threaded path (%s)", async (_name, make) => {
    const bodies = make();
    expect(bodies.length).toBeGreaterThan(10);
    const batch = { source: "test", partition: "0", firstSeq: 1, bodies };
    const { data, ends } = packBodies(bodies);
    const nowMs = Date.UTC(2026, 5, 1);
    const local = classifyBatch({
      source: "test",
      partition: "0",
      firstSeq: 1,
      data,
      ends,
      decode: {},
      classify: {},
      nowMs,
    });
    const remote = await pool.classify(batch);
    // Dead letters carry the time they were classified; align the clocks before comparing.
    const align = (r: ClassifyResult) => ({
      ...comparable(r),
      tables: comparable(r).tables.map((t) => ({
        ...t,
        // received_at leads each dead-letter row (TABLE_COLUMNS.dead_letters).
        text: t.table === "dead_letters" ? t.text.replace(/^\[\d+,/gm, "[0,") : t.text,
      })),
    });
    expect(align(remote)).toEqual(align(local));
    expect(remote.records).toBeGreaterThan(0);
  });

  it("never throws on garbage bodies: they come back as dead letters", async () => {
    const bodies = [
      encoder.encode("{not json"),
      new Uint8Array([0xff, 0xfe, 0]),
      encoder.encode(""),
      encoder.encode('{"records": 5}'),
    ];
    const result = await pool.classify({ source: "t", partition: "0", firstSeq: 1, bodies });
    const dead = result.tables.find((t) => t.table === "dead_letters")!;
    expect(dead.rows).toBe(4);
    expect(result.deltas.records).toEqual([["invalid", "dead_lettered", 4]]);
  });
});
