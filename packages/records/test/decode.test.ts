import { describe, expect, it } from "vitest";

import { decodeBody } from "../src/index.js";
import type { InvalidRecord, NormalisedRecord } from "../src/index.js";

const RECORD = {
  timeStamp: "2021-10-14T22:17:11+00:00",
  resourceId: "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/APPLICATIONGATEWAYS/AGW1",
  category: "ApplicationGatewayAccessLog",
  properties: {
    clientIP: "185.42.129.24",
    httpStatus: 200,
    serverStatus: "200",
    userAgent: "curl/8.5 – ünïcode ✓",
  },
};
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function single(out: NormalisedRecord[]): InvalidRecord {
  expect(out).toHaveLength(1);
  const rec = out[0]!;
  expect(rec.kind).toBe("invalid");
  return rec as InvalidRecord;
}

describe("decodeBody", () => {
  it("decodes an envelope into one record per element, in order, with indexes", () => {
    const out = decodeBody(JSON.stringify({ records: [RECORD, { ...RECORD, category: "Other" }, RECORD] }));
    expect(out.map((r) => [r.kind, r.index])).toEqual([
      ["access", 0],
      ["unsupported", 1],
      ["access", 2],
    ]);
  });

  it("decodes a bare record as index 0", () => {
    const out = decodeBody(JSON.stringify(RECORD));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ kind: "access", index: 0, gateway: "agw1" });
  });

  it("decodes UTF-8 bytes the same as text", () => {
    const text = JSON.stringify({ records: [RECORD] });
    expect(decodeBody(enc(text))).toEqual(decodeBody(text));
    const rec = decodeBody(enc(text))[0]!;
    expect(rec.kind === "access" && rec.userAgent).toBe("curl/8.5 – ünïcode ✓");
  });

  it("replaces invalid UTF-8 sequences instead of rejecting the body", () => {
    const bytes = enc(JSON.stringify(RECORD).replace("curl", "c\u00e9rl"));
    bytes[bytes.indexOf(0xc3)] = 0xff; // 0xff never occurs in UTF-8
    const out = decodeBody(bytes)[0]!;
    expect(out.kind === "access" && out.userAgent?.startsWith("c\ufffd")).toBe(true);
  });

  it("drops a leading byte-order mark", () => {
    expect(decodeBody("\uFEFF" + JSON.stringify(RECORD))[0]!.kind).toBe("access");
    expect(decodeBody(new Uint8Array([0xef, 0xbb, 0xbf, ...enc(JSON.stringify(RECORD))]))[0]!.kind).toBe(
      "access",
    );
  });

  it.each([[""], ["   \n\t\r "], [new Uint8Array(0)]])("reports %j as empty_body", (body) => {
    expect(single(decodeBody(body))).toMatchObject({ reason: "empty_body", index: -1 });
  });

  it("reports invalid JSON as not_json with the parser message", () => {
    const body = '{"properties":{"clientPort":-,"httpStatus":200}}';
    const rec = single(decodeBody(body));
    expect(rec).toMatchObject({ reason: "not_json", index: -1, raw: body });
    expect(rec.detail).toMatch(/JSON|minus/i);
    expect(rec.detail).not.toMatch(/\n/);
  });

  it.each([
    ["[1,2]", "not_object"],
    ['"text"', "not_object"],
    ["42", "not_object"],
    ["null", "not_object"],
    ['{"records":{}}', "records_not_array"],
    ['{"records":null}', "records_not_array"],
    ['{"records":"x"}', "records_not_array"],
  ])("reports body %s as %s", (body, reason) => {
    expect(single(decodeBody(body))).toMatchObject({ reason, index: -1 });
  });

  it("returns nothing for an empty records array", () => {
    expect(decodeBody('{"records":[]}')).toEqual([]);
  });

  it("keeps good elements when some are bad", () => {
    const out = decodeBody(JSON.stringify({ records: [RECORD, "x", { ...RECORD, properties: 1 }, RECORD] }));
    expect(out.map((r) => (r.kind === "invalid" ? r.reason : r.kind))).toEqual([
      "access",
      "not_object",
      "no_properties",
      "access",
    ]);
    expect(out.map((r) => r.index)).toEqual([0, 1, 2, 3]);
  });

  it("refuses bodies over maxBodyBytes without parsing them", () => {
    const body = JSON.stringify({ records: [RECORD] });
    const bytes = enc(body);
    expect(single(decodeBody(bytes, { maxBodyBytes: bytes.length - 1 }))).toMatchObject({
      reason: "body_too_large",
      index: -1,
    });
    expect(single(decodeBody(body, { maxBodyBytes: bytes.length - 1 }))).toMatchObject({
      reason: "body_too_large",
    });
    expect(decodeBody(bytes, { maxBodyBytes: bytes.length })[0]!.kind).toBe("access");
    expect(decodeBody(body, { maxBodyBytes: bytes.length })[0]!.kind).toBe("access");
    // Not parsed: even invalid JSON reports body_too_large.
    expect(single(decodeBody("{".repeat(100), { maxBodyBytes: 10 })).reason).toBe("body_too_large");
  });

  it("counts text bodies in UTF-8 bytes, not UTF-16 units", () => {
    const body = JSON.stringify({ ...RECORD, pad: "é".repeat(30) });
    const bytes = enc(body).length;
    expect(body.length).toBeLessThan(bytes);
    expect(single(decodeBody(body, { maxBodyBytes: bytes - 1 })).reason).toBe("body_too_large");
    expect(decodeBody(body, { maxBodyBytes: bytes })[0]!.kind).toBe("access");
  });

  it("applies the 4 MiB default limit", () => {
    const big = new Uint8Array(4 * 1024 * 1024 + 1).fill(0x20);
    expect(single(decodeBody(big)).reason).toBe("body_too_large");
  });

  it("truncates raw text to maxRawChars", () => {
    const body = "x".repeat(10_000);
    expect(single(decodeBody(body)).raw).toHaveLength(4096);
    expect(single(decodeBody(body, { maxRawChars: 16 })).raw).toBe("x".repeat(16));
    const bad = decodeBody(
      JSON.stringify({ records: [{ category: "ApplicationGatewayAccessLog", pad: "y".repeat(500) }] }),
      { maxRawChars: 32 },
    );
    expect(single(bad).raw).toHaveLength(32);
  });

  it("does not throw on deeply nested JSON", () => {
    const deep = '{"records":[' + "[".repeat(200_000) + "]".repeat(200_000) + "]}";
    const out = decodeBody(deep, { maxBodyBytes: 1e7 });
    expect(single(out).reason).toBe("not_object");
  });

  it("does not throw on values that are not bodies", () => {
    expect(single(decodeBody(42 as unknown as string)).reason).toBe("not_json");
  });
});
