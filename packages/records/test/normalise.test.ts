import { describe, expect, it } from "vitest";

import { normaliseRecord } from "../src/index.js";
import type {
  AccessRecord,
  FirewallRecord,
  L4Record,
  NormalisedRecord,
  PerformanceRecord,
} from "../src/index.js";

const RID =
  "/SUBSCRIPTIONS/3F2E1A9C/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/APPLICATIONGATEWAYS/AGW-EDGE-PROD";

function accessInput(
  props: Record<string, unknown>,
  top: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    timeStamp: "2021-10-14T22:17:11+00:00",
    resourceId: RID,
    operationName: "ApplicationGatewayAccess",
    category: "ApplicationGatewayAccessLog",
    ...top,
    properties: { instanceId: "appgw_2", clientIP: "185.42.129.24", httpStatus: 200, ...props },
  };
}

function expectKind<K extends NormalisedRecord["kind"]>(
  rec: NormalisedRecord,
  kind: K,
): Extract<NormalisedRecord, { kind: K }> {
  expect(rec.kind).toBe(kind);
  return rec as Extract<NormalisedRecord, { kind: K }>;
}

const access = (props: Record<string, unknown>, top?: Record<string, unknown>): AccessRecord =>
  expectKind(normaliseRecord(accessInput(props, top), 0), "access");

describe("kind detection (spec §1.1)", () => {
  it.each([
    [{ category: "ApplicationGatewayFirewallLog" }, "firewall"],
    [{ category: undefined, operationName: "ApplicationGatewayFirewall" }, "firewall"],
    [{ category: "ApplicationGatewayPerformanceLog" }, "performance"],
    [{ category: "ApplicationGatewayAccessLog" }, "access"],
    [{ category: undefined, operationName: "ApplicationGatewayAccess" }, "access"],
    [{ category: "applicationgatewayaccesslog" }, "access"],
    [{ category: "AzureFirewallNetworkRule", operationName: "AzureFirewallNetworkRuleLog" }, "unsupported"],
    [{ category: undefined, operationName: undefined }, "unsupported"],
  ])("%j is %s", (top, kind) => {
    expect(normaliseRecord(accessInput({}, top), 0).kind).toBe(kind);
  });

  it("routes protocol TCP to l4 even when httpStatus is present", () => {
    expect(normaliseRecord(accessInput({ protocol: "TCP" }), 0).kind).toBe("l4");
  });

  it("routes a record without httpStatus but with sessionTime or upstreamSessionTime to l4", () => {
    expect(normaliseRecord(accessInput({ httpStatus: undefined, sessionTime: 1.2 }), 0).kind).toBe("l4");
    expect(normaliseRecord(accessInput({ httpStatus: "-", upstreamSessionTime: "0.5" }), 0).kind).toBe("l4");
  });

  it("keeps a record with httpStatus and sessionTime as access", () => {
    expect(normaliseRecord(accessInput({ httpStatus: 200, sessionTime: 1.2 }), 0).kind).toBe("access");
  });

  it("reports the category of an unsupported record, or the operationName, or empty", () => {
    expect(normaliseRecord({ category: "Other", properties: {} }, 3)).toEqual({
      kind: "unsupported",
      index: 3,
      category: "Other",
    });
    expect(normaliseRecord({ operationName: "Op" }, 0)).toEqual({
      kind: "unsupported",
      index: 0,
      category: "Op",
    });
    expect(normaliseRecord({}, 0)).toEqual({ kind: "unsupported", index: 0, category: "" });
  });

  it("does not require properties or time of an unsupported record", () => {
    expect(normaliseRecord({ category: "Other" }, 0).kind).toBe("unsupported");
  });

  it.each([
    ["a string", "x", "not_object"],
    ["a number", 42, "not_object"],
    ["null", null, "not_object"],
    ["an array", [accessInput({})], "not_object"],
    ["no properties", { ...accessInput({}), properties: undefined }, "no_properties"],
    ["properties null", { ...accessInput({}), properties: null }, "no_properties"],
    ["properties an array", { ...accessInput({}), properties: [] }, "no_properties"],
    ["no time", accessInput({}, { timeStamp: undefined }), "bad_time"],
    ["unparsable time", accessInput({}, { timeStamp: "14/10/2021" }), "bad_time"],
    ["a numeric time", accessInput({}, { timeStamp: 1634249831000 }), "bad_time"],
    ["no httpStatus", accessInput({ httpStatus: undefined }), "no_status"],
    ["httpStatus -", accessInput({ httpStatus: "-" }), "no_status"],
    ["httpStatus text", accessInput({ httpStatus: "OK" }), "no_status"],
    ["httpStatus fractional", accessInput({ httpStatus: 200.5 }), "no_status"],
    ["httpStatus negative", accessInput({ httpStatus: -1 }), "no_status"],
    ["httpStatus above 999", accessInput({ httpStatus: 1000 }), "no_status"],
  ])("makes %s invalid", (_name, input, reason) => {
    const rec = expectKind(normaliseRecord(input, 5), "invalid");
    expect(rec.reason).toBe(reason);
    expect(rec.index).toBe(5);
    expect(rec.detail.length).toBeGreaterThan(0);
  });

  it("checks the firewall record's properties and time too", () => {
    const fw = { timeStamp: "2021-10-14T22:17:11+00:00", category: "ApplicationGatewayFirewallLog" };
    expect(expectKind(normaliseRecord(fw, 0), "invalid").reason).toBe("no_properties");
    expect(expectKind(normaliseRecord({ ...fw, timeStamp: "", properties: {} }, 0), "invalid").reason).toBe(
      "bad_time",
    );
  });

  it("keeps the record text on an invalid record, truncated to maxRawChars", () => {
    const input = accessInput({ httpStatus: "-", userAgent: "x".repeat(10_000) });
    const def = expectKind(normaliseRecord(input, 0), "invalid");
    expect(def.raw.length).toBe(4096);
    expect(def.raw.startsWith('{"timeStamp"')).toBe(true);
    expect(expectKind(normaliseRecord(input, 0, { maxRawChars: 10 }), "invalid").raw).toBe('{"timeStam');
  });
});

describe("common fields", () => {
  it("takes timeStamp, else time, else timestamp", () => {
    const t = (top: Record<string, unknown>): number => access({}, { timeStamp: undefined, ...top }).timeMs;
    expect(t({ timeStamp: "2021-01-01T00:00:00Z", time: "2022-01-01T00:00:00Z" })).toBe(Date.UTC(2021, 0, 1));
    expect(t({ time: "2022-01-01T00:00:00Z", timestamp: "2023-01-01T00:00:00Z" })).toBe(Date.UTC(2022, 0, 1));
    expect(t({ timestamp: "2023-01-01T00:00:00Z" })).toBe(Date.UTC(2023, 0, 1));
    expect(t({ timeStamp: "", time: "2022-01-01T00:00:00Z" })).toBe(Date.UTC(2022, 0, 1));
  });

  it("does not fall back to time when timeStamp is present but unparsable", () => {
    const rec = normaliseRecord(accessInput({}, { timeStamp: "garbage", time: "2022-01-01T00:00:00Z" }), 0);
    expect(expectKind(rec, "invalid").reason).toBe("bad_time");
  });

  it("names the gateway by the last resourceId segment, lower-cased", () => {
    expect(access({}).gateway).toBe("agw-edge-prod");
    expect(access({}).resourceId).toBe(RID);
    expect(access({}, { resourceId: RID.toLowerCase() + "/" }).gateway).toBe("agw-edge-prod");
    expect(access({}, { resourceId: undefined }).gateway).toBe("");
  });

  it("reads listener, rule, pool and setting names beside or inside properties", () => {
    const outside = access(
      {},
      { listenerName: "l", ruleName: "r", backendPoolName: "p", backendSettingName: "s" },
    );
    const inside = access({
      listenerName: "l",
      ruleName: "r",
      backendPoolName: "p",
      backendSettingName: "s",
    });
    for (const rec of [outside, inside]) {
      expect([rec.listener, rec.rule, rec.backendPool, rec.backendSetting]).toEqual(["l", "r", "p", "s"]);
    }
    expect(access({ listenerName: "inner" }, { listenerName: "outer" }).listener).toBe("outer");
    expect(access({}).listener).toBeNull();
  });
});

describe("access records (spec §1)", () => {
  it("normalises the Microsoft v2 sample", () => {
    const rec = access(
      {
        clientPort: 45057,
        httpMethod: "GET",
        requestUri: "/",
        requestQuery: "",
        httpStatus: 200,
        httpVersion: "HTTP/1.1",
        receivedBytes: 184,
        sentBytes: 466,
        timeTaken: 0.034,
        WAFMode: "Detection",
        transactionId: "592d1649f75a8d480a3c4dc6a975309d",
        sslClientVerify: "NONE",
        serverRouted: "52.239.221.65:443",
        serverStatus: "200",
        serverResponseLatency: "0.028",
        error_info: "ERRORINFO_NO_ERROR",
      },
      { listenerName: "HTTP-Listener" },
    );
    expect(rec).toMatchObject({
      kind: "access",
      index: 0,
      timeMs: Date.UTC(2021, 9, 14, 22, 17, 11),
      sku: "v2",
      status: 200,
      backendStatus: 200,
      backendAddress: "52.239.221.65:443",
      errorInfo: null,
      timeTakenSeconds: 0.034,
      backendLatencySeconds: 0.028,
      clientIp: "185.42.129.24",
      clientPort: 45057,
      sslClientVerify: "NONE",
      wafMode: "Detection",
      transactionId: "592d1649f75a8d480a3c4dc6a975309d",
      requestQuery: null,
      listener: "HTTP-Listener",
      instanceId: "appgw_2",
    });
  });

  it.each([
    [200, 200],
    ["504", 504],
    [" 404 ", 404],
    [0, 0],
    ["0", 0],
    [200.0, 200],
  ])("reads httpStatus %j as %d", (raw, status) => {
    expect(access({ httpStatus: raw }).status).toBe(status);
  });

  it.each([
    ["200", 200],
    [502, 502],
    ["", null],
    ["-", null],
    [undefined, null],
    [null, null],
    ["0", null],
    ["99", null],
    ["600", null],
    ["abc", null],
    ["0x1F4", null],
    ["100", 100],
    ["599", 599],
  ])("reads serverStatus %j as %j", (raw, expected) => {
    expect(access({ serverStatus: raw }).backendStatus).toBe(expected);
  });

  it.each([
    ["10.0.0.4:443", "10.0.0.4:443"],
    ["", null],
    ["-", null],
    [undefined, null],
  ])("reads serverRouted %j as %j", (raw, expected) => {
    expect(access({ serverRouted: raw }).backendAddress).toBe(expected);
  });

  it.each([
    ["ERRORINFO_UPSTREAM_TIMED_OUT", "ERRORINFO_UPSTREAM_TIMED_OUT"],
    ["ERRORINFO_NO_ERROR", null],
    [undefined, null],
    ["", null],
    ["-", null],
  ])("reads error_info %j as %j", (raw, expected) => {
    expect(access({ error_info: raw }).errorInfo).toBe(expected);
  });

  it("reads timeTaken as seconds on v2 and serverResponseLatency from a string", () => {
    const rec = access({ timeTaken: "20.004", serverResponseLatency: "0.028" });
    expect(rec.timeTakenSeconds).toBe(20.004);
    expect(rec.backendLatencySeconds).toBe(0.028);
    expect(access({ timeTaken: "-", serverResponseLatency: "" })).toMatchObject({
      timeTakenSeconds: null,
      backendLatencySeconds: null,
    });
  });

  it("reads numbers as strings and placeholders as null", () => {
    const rec = access({
      clientPort: "50211",
      receivedBytes: "184",
      sentBytes: "-",
      userAgent: "-",
      host: "",
      clientIP: "-",
    });
    expect(rec).toMatchObject({
      clientPort: 50211,
      receivedBytes: 184,
      sentBytes: null,
      userAgent: null,
      host: null,
      clientIp: null,
    });
  });

  it("reads clientIP, falling back to the firewall spelling clientIp", () => {
    expect(access({ clientIP: "127.0.0.1" }).clientIp).toBe("127.0.0.1");
    expect(access({ clientIP: undefined, clientIp: "10.0.0.1" }).clientIp).toBe("10.0.0.1");
  });

  it("reads only own properties: __proto__ and constructor keys are data, never inherited", () => {
    const body = `{"timeStamp":"2021-10-14T22:17:11Z","category":"ApplicationGatewayAccessLog","__proto__":{"resourceId":"/x/evil"},"properties":{"__proto__":{"serverStatus":"200"},"constructor":"c","httpStatus":502}}`;
    const rec = expectKind(normaliseRecord(JSON.parse(body) as unknown, 0), "access");
    expect(rec.backendStatus).toBeNull();
    expect(rec.gateway).toBe("");
    expect(({} as Record<string, unknown>)["serverStatus"]).toBeUndefined();
    const noStatus = normaliseRecord(
      JSON.parse(
        `{"timeStamp":"2021-10-14T22:17:11Z","category":"ApplicationGatewayAccessLog","properties":{"constructor":{"httpStatus":200}}}`,
      ) as unknown,
      0,
    );
    expect(expectKind(noStatus, "invalid").reason).toBe("no_status");
  });
});

describe("v1 records", () => {
  const V1_QUERY =
    "X-AzureApplicationGateway-CACHE-HIT=0&SERVER-ROUTED=10.4.0.4&X-AzureApplicationGateway-LOG-ID=874f1f0f-6807-41c9-b7bc-f3cfa74aa0b1&SERVER-STATUS=404";

  it("normalises the Microsoft v1 sample: sku, ms timeTaken, query pairs", () => {
    const rec = access(
      {
        instanceId: "ApplicationGatewayRole_IN_0",
        requestQuery: V1_QUERY,
        httpStatus: 404,
        timeTaken: 205,
        serverRouted: "",
        serverStatus: "",
      },
      { timeStamp: undefined, time: "2017-04-26T19:27:38Z" },
    );
    expect(rec).toMatchObject({
      sku: "v1",
      status: 404,
      backendStatus: 404,
      backendAddress: "10.4.0.4",
      transactionId: "874f1f0f-6807-41c9-b7bc-f3cfa74aa0b1",
      timeTakenSeconds: 0.205,
      timeMs: Date.UTC(2017, 3, 26, 19, 27, 38),
    });
  });

  it.each([
    [{ instanceId: "ApplicationGatewayRole_IN_12" }, "v1"],
    [{ instanceId: "applicationgatewayrole_in_3" }, "v1"],
    [{ instanceId: "ApplicationGatewayRole_IN_" }, "v2"],
    [{ instanceId: "ApplicationGatewayRole_IN_1x" }, "v2"],
    [{ instanceId: "appgw_2" }, "v2"],
    [{ instanceId: "appgw_2", requestQuery: "SERVER-ROUTED=10.0.0.4" }, "v1"],
    [{ instanceId: "appgw_2", requestQuery: "a=1&X-AzureApplicationGateway-LOG-ID=abc" }, "v1"],
    [{ instanceId: "appgw_2", requestQuery: "SERVER-STATUS=200" }, "v2"],
  ])("detects %j as %s", (props, sku) => {
    expect(access(props).sku).toBe(sku);
  });

  it("divides timeTaken by 1000 on v1 only", () => {
    expect(access({ instanceId: "ApplicationGatewayRole_IN_0", timeTaken: 20012 }).timeTakenSeconds).toBe(
      20.012,
    );
    expect(access({ instanceId: "appgw_0", timeTaken: 20.012 }).timeTakenSeconds).toBe(20.012);
  });

  it("lets the gateway's own (last) pair win over a client-supplied one", () => {
    const rec = access({
      instanceId: "ApplicationGatewayRole_IN_0",
      requestQuery: `SERVER-STATUS=200&SERVER-ROUTED=evil&${V1_QUERY}`,
    });
    expect(rec.backendStatus).toBe(404);
    expect(rec.backendAddress).toBe("10.4.0.4");
  });

  it("URL-decodes pair values and tolerates broken escapes", () => {
    const q = (routed: string): string => `SERVER-ROUTED=${routed}&X-AzureApplicationGateway-LOG-ID=g`;
    expect(access({ requestQuery: q("web-01.contoso.internal%3A8080") }).backendAddress).toBe(
      "web-01.contoso.internal:8080",
    );
    expect(access({ requestQuery: q("bad%zz") }).backendAddress).toBe("bad%zz");
    expect(access({ requestQuery: q("-") }).backendAddress).toBeNull();
    expect(access({ requestQuery: q("") }).backendAddress).toBeNull();
  });

  it("prefers serverStatus/serverRouted over the query pairs when they are set", () => {
    const rec = access({
      instanceId: "ApplicationGatewayRole_IN_0",
      requestQuery: V1_QUERY,
      serverStatus: "200",
      serverRouted: "10.9.9.9",
    });
    expect(rec.backendStatus).toBe(200);
    expect(rec.backendAddress).toBe("10.9.9.9");
  });

  it("treats out-of-range SERVER-STATUS as none", () => {
    expect(access({ requestQuery: "SERVER-ROUTED=10.0.0.4&SERVER-STATUS=0" }).backendStatus).toBeNull();
    expect(access({ requestQuery: "SERVER-ROUTED=10.0.0.4&SERVER-STATUS=-" }).backendStatus).toBeNull();
  });

  it("does not read query pairs on v2", () => {
    const rec = access({ instanceId: "appgw_1", requestQuery: "SERVER-STATUS=500&q=1" });
    expect(rec.backendStatus).toBeNull();
    expect(rec.transactionId).toBeNull();
  });
});

describe("l4 records", () => {
  it("normalises a TCP proxy record", () => {
    const rec: L4Record = expectKind(
      normaliseRecord(
        accessInput({
          httpStatus: undefined,
          protocol: "TCP",
          listenerName: "tls-sql",
          sessionTime: 12.437,
          upstreamSessionTime: "12.431",
          receivedBytes: 5234,
          sentBytes: 18211,
          upstreamSentBytes: 5234,
          upstreamReceivedBytes: 18211,
          serverRouted: "10.30.0.4:1433",
          serverStatus: "502",
          sslProtocol: "TLSv1.2",
          sslCipher: "",
        }),
        2,
      ),
      "l4",
    );
    expect(rec).toMatchObject({
      index: 2,
      sku: "v2",
      backendStatus: 502,
      backendAddress: "10.30.0.4:1433",
      listener: "tls-sql",
      sessionTimeSeconds: 12.437,
      upstreamSessionTimeSeconds: 12.431,
      receivedBytes: 5234,
      upstreamReceivedBytes: 18211,
      sslProtocol: "TLSv1.2",
      sslCipher: null,
      clientIp: "185.42.129.24",
    });
  });
});

describe("firewall records (spec §4)", () => {
  const fwInput = (props: Record<string, unknown>): Record<string, unknown> => ({
    timeStamp: "2021-10-14T22:17:11+00:00",
    resourceId: RID,
    operationName: "ApplicationGatewayFirewall",
    category: "ApplicationGatewayFirewallLog",
    properties: {
      instanceId: "appgw_2",
      clientIp: "185.42.129.24",
      clientPort: "",
      requestUri: "/",
      ruleSetType: "OWASP_CRS",
      ruleSetVersion: "3.0.0",
      ruleId: "920350",
      message: "Host header is a numeric IP address",
      action: "Matched",
      site: "Global",
      details: {
        message: "Warning. Pattern match",
        data: "20.110.30.194:80",
        file: "rules/REQUEST-920-PROTOCOL-ENFORCEMENT.conf",
        line: "791",
      },
      hostname: "20.110.30.194:80",
      transactionId: "592d1649f75a8d480a3c4dc6a975309d",
      policyId: "default",
      policyScope: "Global",
      policyScopeName: "Global",
      ...props,
    },
  });
  const firewall = (props: Record<string, unknown>): FirewallRecord =>
    expectKind(normaliseRecord(fwInput(props), 0), "firewall");

  it("normalises the Microsoft firewall sample, flattening details", () => {
    expect(firewall({})).toMatchObject({
      action: "matched",
      rawAction: "Matched",
      ruleId: "920350",
      ruleGroup: null,
      ruleSetType: "OWASP_CRS",
      ruleSetVersion: "3.0.0",
      message: "Host header is a numeric IP address",
      detailsMessage: "Warning. Pattern match",
      detailsData: "20.110.30.194:80",
      detailsFile: "rules/REQUEST-920-PROTOCOL-ENFORCEMENT.conf",
      detailsLine: "791",
      hostname: "20.110.30.194:80",
      requestUri: "/",
      clientIp: "185.42.129.24",
      transactionId: "592d1649f75a8d480a3c4dc6a975309d",
      policyId: "default",
      policyScope: "Global",
      policyScopeName: "Global",
      gateway: "agw-edge-prod",
    });
  });

  it.each([
    ["Blocked", "blocked"],
    ["BLOCKED", "blocked"],
    ["matched", "matched"],
    ["Detected", "detected"],
    ["Allowed", "allowed"],
    ["JSChallengeIssued", "other"],
    ["JSChallengeValid", "other"],
    ["JS Challenge", "other"],
    ["Block", "other"],
    ["Log", "other"],
    ["", "other"],
    [undefined, "other"],
  ])("normalises action %j to %s", (raw, action) => {
    expect(firewall({ action: raw }).action).toBe(action);
  });

  it("survives custom-rule records without details and numeric ids", () => {
    expect(firewall({ details: undefined, ruleGroup: undefined, ruleId: 942100 })).toMatchObject({
      detailsMessage: null,
      ruleGroup: null,
      ruleId: "942100",
    });
    expect(firewall({ details: "text" }).detailsLine).toBeNull();
  });
});

describe("performance records", () => {
  it("parses the string counters of the v1 sample", () => {
    const rec: PerformanceRecord = expectKind(
      normaliseRecord(
        {
          resourceId: RID,
          operationName: "ApplicationGatewayPerformance",
          time: "2016-04-09T00:00:00Z",
          category: "ApplicationGatewayPerformanceLog",
          properties: {
            instanceId: "ApplicationGatewayRole_IN_1",
            healthyHostCount: "4",
            unHealthyHostCount: "0",
            requestCount: "185",
            latency: "0",
            failedRequestCount: "0",
            throughput: "119427",
          },
        },
        0,
      ),
      "performance",
    );
    expect(rec).toMatchObject({
      instanceId: "ApplicationGatewayRole_IN_1",
      healthyHostCount: 4,
      unhealthyHostCount: 0,
      requestCount: 185,
      latencyMs: 0,
      failedRequestCount: 0,
      throughputBytesPerSecond: 119427,
      timeMs: Date.UTC(2016, 3, 9),
    });
  });
});
