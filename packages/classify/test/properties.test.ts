import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { normaliseRecord } from "@gatewatch/records";
import { InvalidReason } from "@gatewatch/records";

import { CATALOG, classifyAccess, classifyLine, statusClass } from "../src/index.js";
import type { ClassifyOutput } from "../src/index.js";

const REASONS = new Set<string>(Object.values(InvalidReason));
const KNOWN_ERROR_INFO = [
  "ERRORINFO_NO_ERROR",
  "ERRORINFO_INVALID_METHOD",
  "ERRORINFO_INVALID_REQUEST",
  "ERRORINFO_INVALID_VERSION",
  "ERRORINFO_INVALID_09_METHOD",
  "ERRORINFO_INVALID_HOST",
  "ERRORINFO_INVALID_CONTENT_LENGTH",
  "ERRORINFO_INVALID_METHOD_TRACE",
  "ERRORINFO_CLIENT_CLOSED_REQUEST",
  "ERRORINFO_REQUEST_URI_INVALID",
  "ERRORINFO_HTTP_NO_HOST_HEADER",
  "ERRORINFO_HTTP_TO_HTTPS_PORT",
  "ERRORINFO_HTTPS_NO_CERT",
  "ERRORINFO_UPSTREAM_NO_LIVE",
  "ERRORINFO_UPSTREAM_CLOSED_CONNECTION",
  "ERRORINFO_UPSTREAM_TIMED_OUT",
  "ERRORINFO_CLIENT_TIMED_OUT",
];

/** Every output is a catalogued classification, an invalid with a known reason, or a causeless kind. */
function checkOutput(o: ClassifyOutput): void {
  switch (o.kind) {
    case "access":
    case "l4": {
      const info = CATALOG.get(o.cause);
      expect(info).toBeDefined();
      expect(o.origin).toBe(info?.origin);
      expect(o.evidence.length).toBeGreaterThan(0);
      expect(o.time).toMatch(/Z$/);
      break;
    }
    case "invalid":
      expect(o.reason.length).toBeGreaterThan(0);
      expect(REASONS.has(o.reason)).toBe(true);
      break;
    case "firewall":
      expect(["blocked", "matched", "detected", "allowed", "other"]).toContain(o.action);
      break;
    case "performance":
    case "unsupported":
      break;
  }
  expect(() => JSON.stringify(o)).not.toThrow();
}

const statusValue = fc.oneof(
  fc.integer({ min: 0, max: 999 }),
  fc.integer({ min: 100, max: 599 }).map(String),
  fc.constantFrom("", "-", null, "abc", 200.5, -1, "0"),
);
const sslClientVerify = fc.oneof(
  fc.constantFrom(
    "NONE",
    "SUCCESS",
    "FAILED",
    "FAILED:certificate has expired",
    "FAILED:certificate revoked",
    "FAILED:OCSP responder unreachable",
    "FAILED:unable to verify the client certificate issuer",
    "FAILED:unable to get local issuer certificate",
    "FAILED:unable to verify the first certificate",
    "FAILED:unsupported certificate purpose",
  ),
  fc.string().map((s) => "FAILED:" + s),
  fc.string(),
);
const errorInfo = fc.oneof(
  fc.constantFrom(...KNOWN_ERROR_INFO),
  fc.string().map((s) => "ERRORINFO_" + s.toUpperCase()),
  fc.string(),
  fc.constant(undefined),
);

/** Access records with the real field set and random values where the rules look. */
const accessShaped = fc.record({
  timeStamp: fc.constantFrom(
    "2021-10-14T22:17:11+00:00",
    "2017-04-26T19:27:38.1234567Z",
    "10/10/2023 13:26:34",
  ),
  resourceId: fc.constantFrom(
    "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/APPLICATIONGATEWAYS/AGW1",
    "",
    "AGW2",
  ),
  category: fc.constant("ApplicationGatewayAccessLog"),
  properties: fc.record(
    {
      instanceId: fc.constantFrom("appgw_2", "ApplicationGatewayRole_IN_0"),
      clientIP: fc.constantFrom("185.42.129.24", "127.0.0.1", "-"),
      httpStatus: fc.oneof(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 }).map(String)),
      serverStatus: statusValue,
      serverRouted: fc.constantFrom("10.0.0.4:443", "", "-"),
      error_info: errorInfo,
      sslClientVerify,
      timeTaken: fc.oneof(fc.double({ min: 0, max: 100_000, noNaN: true }), fc.constant("-")),
      requestQuery: fc.constantFrom(
        "",
        "SERVER-ROUTED=10.4.0.4&SERVER-STATUS=502",
        "X-AzureApplicationGateway-LOG-ID=g&SERVER-STATUS=200",
        "q=1",
      ),
    },
    { requiredKeys: ["httpStatus"] },
  ),
});

describe("classifyLine never throws and always yields a catalogued or invalid output", () => {
  it("on arbitrary JSON values", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        for (const o of classifyLine(JSON.stringify(value) ?? "")) checkOutput(o);
        for (const o of classifyLine(JSON.stringify({ records: [value] }))) checkOutput(o);
      }),
      { numRuns: 500 },
    );
  });

  it("on objects with __proto__ and constructor keys", () => {
    const hostile = fc.dictionary(
      fc.constantFrom("__proto__", "constructor", "properties", "category", "records"),
      fc.jsonValue(),
    );
    fc.assert(
      fc.property(hostile, accessShaped, (extra, rec) => {
        for (const o of classifyLine(JSON.stringify({ ...rec, ...extra }))) checkOutput(o);
        for (const o of classifyLine(JSON.stringify({ ...rec, properties: { ...rec.properties, ...extra } })))
          checkOutput(o);
      }),
      { numRuns: 300 },
    );
  });

  it("on arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        const out = classifyLine(s);
        expect(out.length).toBeGreaterThanOrEqual(0);
        for (const o of out) checkOutput(o);
      }),
      { numRuns: 500 },
    );
  });

  it("on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        for (const o of classifyLine(bytes)) checkOutput(o);
      }),
      { numRuns: 500 },
    );
  });

  it("yields exactly one not_json for any line that is not JSON", () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        let isJson = true;
        try {
          JSON.parse(s);
        } catch {
          isJson = false;
        }
        fc.pre(!isJson && s.trim() !== "");
        const out = classifyLine(s);
        expect(out).toHaveLength(1);
        expect(out[0]).toMatchObject({ kind: "invalid", reason: "not_json" });
      }),
      { numRuns: 300 },
    );
  });
});

describe("valid-shaped access records", () => {
  it("get a catalogued cause whose origin matches the catalog", () => {
    fc.assert(
      fc.property(accessShaped, fc.double({ min: 1, max: 600, noNaN: true }), (input, timeout) => {
        const rec = normaliseRecord(input, 0);
        if (rec.kind !== "access") return;
        const c = classifyAccess(rec, { backendTimeoutSeconds: timeout });
        const info = CATALOG.get(c.cause);
        expect(info).toBeDefined();
        expect(c.origin).toBe(info?.origin);
        expect(["R0", "R1", "R2", "R3", "R4", "R5", "R6"]).toContain(c.rule);
        expect(statusClass(rec.status)).not.toBe("");
        if (rec.clientIp === "127.0.0.1") expect(c.cause).toBe("internal_traffic");
        else if (rec.status >= 100 && rec.status <= 299) expect(c.cause).toBe("success");
      }),
      { numRuns: 1000 },
    );
  });

  it("are normalised as access (never invalid) when httpStatus is an integer 0..999", () => {
    fc.assert(
      fc.property(accessShaped, (input) => {
        expect(normaliseRecord(input, 0).kind).toBe("access");
      }),
      { numRuns: 300 },
    );
  });
});
