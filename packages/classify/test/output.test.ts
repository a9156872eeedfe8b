import { describe, expect, it } from "vitest";

import { normaliseRecord } from "@gatewatch/records";
import type { FirewallRecord, InvalidRecord, PerformanceRecord } from "@gatewatch/records";

import { addToSummary, classifyLine, newSummary, toClassifyOutput } from "../src/index.js";
import { accessRecord, l4Record } from "./helpers.js";

const RID =
  "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/APPLICATIONGATEWAYS/AGW-EDGE-PROD";
const ACCESS = {
  timeStamp: "2021-10-14T22:17:11+00:00",
  resourceId: RID,
  category: "ApplicationGatewayAccessLog",
  properties: {
    clientIP: "185.42.129.24",
    httpStatus: 504,
    serverStatus: "",
    error_info: "ERRORINFO_UPSTREAM_TIMED_OUT",
    timeTaken: 20.004,
  },
};

describe("toClassifyOutput (spec §6)", () => {
  it("prints access records with the stable keys, kind first", () => {
    const out = toClassifyOutput(
      accessRecord({
        status: 504,
        errorInfo: "ERRORINFO_UPSTREAM_TIMED_OUT",
        timeMs: Date.UTC(2021, 9, 14, 22, 17, 11),
      }),
    );
    expect(Object.keys(out)).toEqual([
      "kind",
      "cause",
      "origin",
      "rule",
      "status",
      "backendStatus",
      "errorInfo",
      "sku",
      "gateway",
      "time",
      "evidence",
    ]);
    expect(out).toEqual({
      kind: "access",
      cause: "backend_timeout",
      origin: "backend",
      rule: "R3",
      status: 504,
      backendStatus: null,
      errorInfo: "ERRORINFO_UPSTREAM_TIMED_OUT",
      sku: "v2",
      gateway: "agw-edge-prod",
      time: "2021-10-14T22:17:11.000Z",
      evidence: ["error_info=ERRORINFO_UPSTREAM_TIMED_OUT", "httpStatus=504"],
    });
  });

  it("passes classifier options through", () => {
    const rec = accessRecord({ sku: "v1", status: 502, timeTakenSeconds: 9.9, backendAddress: "10.4.0.4" });
    expect(toClassifyOutput(rec)).toMatchObject({ cause: "backend_connection_failed" });
    expect(toClassifyOutput(rec, { backendTimeoutSeconds: 10 })).toMatchObject({ cause: "backend_timeout" });
  });

  it("prints l4 records with a cause and rule L4", () => {
    const out = toClassifyOutput(l4Record({ backendStatus: 503 }));
    expect(Object.keys(out)).toEqual([
      "kind",
      "cause",
      "origin",
      "rule",
      "backendStatus",
      "sku",
      "gateway",
      "time",
      "evidence",
    ]);
    expect(out).toMatchObject({
      kind: "l4",
      cause: "l4_connection_limit",
      origin: "gateway",
      rule: "L4",
      backendStatus: 503,
      gateway: "agw-tcp",
    });
  });

  it("prints firewall records with action and ruleId", () => {
    const fw = normaliseRecord(
      {
        timeStamp: "2021-10-14T22:17:11+00:00",
        resourceId: RID,
        category: "ApplicationGatewayFirewallLog",
        properties: {
          action: "Blocked",
          ruleId: "949110",
          ruleGroup: "BLOCKING-EVALUATION",
          transactionId: "abc",
        },
      },
      0,
    ) as FirewallRecord;
    const out = toClassifyOutput(fw);
    expect(Object.keys(out)).toEqual([
      "kind",
      "action",
      "ruleId",
      "ruleGroup",
      "transactionId",
      "gateway",
      "time",
    ]);
    expect(out).toEqual({
      kind: "firewall",
      action: "blocked",
      ruleId: "949110",
      ruleGroup: "BLOCKING-EVALUATION",
      transactionId: "abc",
      gateway: "agw-edge-prod",
      time: "2021-10-14T22:17:11.000Z",
    });
  });

  it("prints performance, unsupported and invalid records", () => {
    const perf = normaliseRecord(
      {
        time: "2016-04-09T00:00:00Z",
        resourceId: RID,
        category: "ApplicationGatewayPerformanceLog",
        properties: { instanceId: "ApplicationGatewayRole_IN_1", healthyHostCount: "4" },
      },
      0,
    ) as PerformanceRecord;
    const p = toClassifyOutput(perf);
    expect(Object.keys(p).slice(0, 3)).toEqual(["kind", "gateway", "time"]);
    expect(p).toMatchObject({
      kind: "performance",
      gateway: "agw-edge-prod",
      time: "2016-04-09T00:00:00.000Z",
      healthyHostCount: 4,
      unhealthyHostCount: null,
    });
    expect(toClassifyOutput({ kind: "unsupported", index: 0, category: "X" })).toEqual({
      kind: "unsupported",
      category: "X",
    });
    const invalid: InvalidRecord = { kind: "invalid", index: 0, reason: "bad_time", detail: "d", raw: "r" };
    expect(toClassifyOutput(invalid)).toEqual({ kind: "invalid", reason: "bad_time", detail: "d" });
  });
});

describe("classifyLine", () => {
  it("returns one output per record in record order", () => {
    const line = JSON.stringify({
      records: [
        ACCESS,
        { category: "Other" },
        { ...ACCESS, properties: { ...ACCESS.properties, httpStatus: 200 } },
      ],
    });
    expect(classifyLine(line).map((o) => o.kind + ":" + ("cause" in o ? o.cause : ""))).toEqual([
      "access:backend_timeout",
      "unsupported:",
      "access:success",
    ]);
  });

  it("accepts a bare record and bytes", () => {
    expect(classifyLine(JSON.stringify(ACCESS))).toHaveLength(1);
    expect(classifyLine(new TextEncoder().encode(JSON.stringify(ACCESS)))[0]).toMatchObject({
      cause: "backend_timeout",
      rule: "R3",
      status: 504,
    });
  });

  it("yields exactly one invalid not_json for a line that is not JSON", () => {
    const out = classifyLine('{"properties":{"clientPort":-}}');
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ kind: "invalid", reason: "not_json" });
    expect(Object.keys(out[0]!)).toEqual(["kind", "reason", "detail"]);
  });

  it("applies decode limits and classifier options", () => {
    expect(classifyLine(JSON.stringify(ACCESS), { maxBodyBytes: 10 })[0]).toMatchObject({
      kind: "invalid",
      reason: "body_too_large",
    });
  });

  it("produces JSON-serialisable objects", () => {
    const out = classifyLine(JSON.stringify({ records: [ACCESS] }));
    expect(JSON.parse(JSON.stringify(out))).toEqual(out);
  });
});

describe("ClassifySummary", () => {
  it("counts records per kind, cause and invalid reason", () => {
    const summary = newSummary();
    addToSummary(summary, classifyLine(JSON.stringify({ records: [ACCESS, ACCESS, { category: "Other" }] })));
    addToSummary(summary, classifyLine("not json"));
    addToSummary(summary, classifyLine(""));
    expect(summary.records).toBe(5);
    expect({ ...summary.kinds }).toEqual({ access: 2, unsupported: 1, invalid: 2 });
    expect({ ...summary.causes }).toEqual({ backend_timeout: 2 });
    expect({ ...summary.invalidReasons }).toEqual({ not_json: 1, empty_body: 1 });
    expect(JSON.parse(JSON.stringify(summary))).toMatchObject({ records: 5, kinds: { access: 2 } });
  });

  it("is safe with hostile keys", () => {
    const summary = addToSummary(newSummary(), [{ kind: "__proto__", cause: "constructor" }]);
    expect(summary.kinds["__proto__"]).toBe(1);
    expect(summary.causes["constructor"]).toBe(1);
    expect(({} as Record<string, unknown>)["constructor"]).toBe(Object);
  });
});
