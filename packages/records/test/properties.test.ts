import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { decodeBody, normaliseRecord, InvalidReason, RecordKind } from "../src/index.js";
import type { NormalisedRecord } from "../src/index.js";

const KINDS = new Set<string>(Object.values(RecordKind));
const REASONS = new Set<string>(Object.values(InvalidReason));

function wellFormed(rec: NormalisedRecord): void {
  expect(KINDS.has(rec.kind)).toBe(true);
  if (rec.kind === "invalid") {
    expect(REASONS.has(rec.reason)).toBe(true);
    expect(rec.detail.length).toBeGreaterThan(0);
    expect(rec.raw.length).toBeLessThanOrEqual(4096);
  } else if (rec.kind !== "unsupported") {
    expect(Number.isFinite(rec.timeMs)).toBe(true);
    expect(rec.gateway).toBe(rec.gateway.toLowerCase());
  }
  if (rec.kind === "access") {
    expect(Number.isInteger(rec.status)).toBe(true);
    if (rec.backendStatus !== null) expect(rec.backendStatus >= 100 && rec.backendStatus <= 599).toBe(true);
  }
}

/** Arbitrary objects shaped like records, with hostile keys mixed in. */
const hostileKey = fc.constantFrom(
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "valueOf",
);
const recordish = fc.record(
  {
    category: fc.constantFrom(
      "ApplicationGatewayAccessLog",
      "ApplicationGatewayFirewallLog",
      "ApplicationGatewayPerformanceLog",
      "Other",
    ),
    operationName: fc.constantFrom("ApplicationGatewayAccess", "ApplicationGatewayFirewall", "x"),
    timeStamp: fc.oneof(fc.constant("2021-10-14T22:17:11+00:00"), fc.string(), fc.jsonValue()),
    time: fc.oneof(fc.constant("2017-04-26T19:27:38.1234567Z"), fc.string()),
    resourceId: fc.oneof(fc.string(), fc.jsonValue()),
    properties: fc.oneof(
      fc.dictionary(
        fc.oneof(
          fc.string(),
          hostileKey,
          fc.constantFrom("httpStatus", "serverStatus", "requestQuery", "timeTaken", "details", "action"),
        ),
        fc.jsonValue(),
      ),
      fc.jsonValue(),
    ),
  },
  { requiredKeys: [] },
);

describe("decodeBody and normaliseRecord never throw", () => {
  it("on arbitrary JSON values, as records and as bodies", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        wellFormed(normaliseRecord(value, 0));
        for (const rec of decodeBody(JSON.stringify(value) ?? "")) wellFormed(rec);
        for (const rec of decodeBody(JSON.stringify({ records: [value, value] }))) wellFormed(rec);
      }),
      { numRuns: 500 },
    );
  });

  it("on record-shaped objects with __proto__ and constructor keys", () => {
    fc.assert(
      fc.property(recordish, fc.dictionary(hostileKey, fc.jsonValue()), (rec, extra) => {
        const text = JSON.stringify({ ...rec, ...extra });
        for (const out of decodeBody(text)) wellFormed(out);
        for (const out of decodeBody(
          `{"records":[${text},{"__proto__":{"category":"ApplicationGatewayAccessLog"}}]}`,
        ))
          wellFormed(out);
        expect(({} as Record<string, unknown>)["category"]).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it("on arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        for (const rec of decodeBody(s)) wellFormed(rec);
      }),
      { numRuns: 500 },
    );
  });

  it("on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        for (const rec of decodeBody(bytes)) wellFormed(rec);
      }),
      { numRuns: 500 },
    );
  });

  it("on valid bodies cut at any byte", () => {
    const body = new TextEncoder().encode(
      JSON.stringify({
        records: [
          {
            timeStamp: "2021-10-14T22:17:11+00:00",
            category: "ApplicationGatewayAccessLog",
            properties: { httpStatus: 200, userAgent: "ünïcode ✓ 🚀" },
          },
        ],
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: body.length }), (cut) => {
        const out = decodeBody(body.subarray(0, cut));
        for (const rec of out) wellFormed(rec);
        if (cut < body.length) expect(out[0]!.kind).toBe("invalid");
      }),
    );
  });
});
