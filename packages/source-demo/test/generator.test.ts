import { isGatewatchError } from "@gatewatch/pipeline";
import { describe, expect, it } from "vitest";
import {
  createDemoGenerator,
  DEMO_INCIDENTS,
  trafficCurve,
  type DemoIncidentId,
  type DemoOptions,
} from "../src/index.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw JSON records, asserted field by field
type Rec = { [k: string]: any; properties: { [k: string]: any } };

const START = Date.UTC(2025, 2, 14, 12, 0, 0);
const decoder = new TextDecoder();

function parse(body: Uint8Array): { records: Rec[] } {
  return JSON.parse(decoder.decode(body));
}

/** Byte-for-byte equality of two body lists (vitest's deep equality is slow on large byte arrays). */
function sameBodies(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((x, i) => Buffer.from(x).equals(b[i]!));
}

function recordsOf(opts: DemoOptions, fromTick: number, toTick: number): Rec[] {
  const g = createDemoGenerator(opts);
  const out: Rec[] = [];
  for (let t = fromTick; t < toTick; t += 1) for (const b of g.bodiesAt(t)) out.push(...parse(b).records);
  return out;
}

const isV2Access = (r: Rec): boolean =>
  r.category === "ApplicationGatewayAccessLog" &&
  r.properties.protocol === undefined &&
  typeof r.timeStamp === "string";
const isV1Access = (r: Rec): boolean =>
  r.category === "ApplicationGatewayAccessLog" && typeof r.time === "string";
const isL4 = (r: Rec): boolean =>
  r.category === "ApplicationGatewayAccessLog" && r.properties.protocol === "TCP";
const isFirewall = (r: Rec): boolean => r.category === "ApplicationGatewayFirewallLog";

const RESOURCE_ID =
  /^\/SUBSCRIPTIONS\/[0-9A-F-]{36}\/RESOURCEGROUPS\/[A-Z0-9-]+\/PROVIDERS\/MICROSOFT\.NETWORK\/APPLICATIONGATEWAYS\/[A-Z0-9-]+$/;

describe("createDemoGenerator", () => {
  const base: DemoOptions = {
    seed: 7,
    startTimeMs: START,
    tickMs: 1000,
    incidentPeriodSeconds: 20,
    incidentDurationSeconds: 10,
  };

  it("produces identical bytes for the same seed and options", () => {
    const a = createDemoGenerator(base);
    const b = createDemoGenerator(base);
    for (let t = 0; t < 30; t += 1) expect(sameBodies(b.bodiesAt(t), a.bodiesAt(t))).toBe(true);
  });

  it("depends only on the tick, not on call order", () => {
    const a = createDemoGenerator(base);
    const later = a.bodiesAt(25);
    a.bodiesAt(3);
    expect(sameBodies(createDemoGenerator(base).bodiesAt(25), later)).toBe(true);
    expect(sameBodies(a.bodiesAt(25), later)).toBe(true);
  });

  it("produces different traffic for a different seed", () => {
    const a = createDemoGenerator(base).bodiesAt(0);
    const b = createDemoGenerator({ ...base, seed: 8 }).bodiesAt(0);
    expect(sameBodies(a, b)).toBe(false);
  });

  it("emits Event Hubs envelopes of 1..maxRecordsPerBody records, each body in its own buffer", () => {
    const g = createDemoGenerator({ ...base, maxRecordsPerBody: 40 });
    let bodies = 0;
    for (let t = 0; t < 20; t += 1) {
      for (const body of g.bodiesAt(t)) {
        bodies += 1;
        expect(body.byteOffset).toBe(0);
        expect(body.byteLength).toBe(body.buffer.byteLength);
        const env = parse(body);
        expect(Object.keys(env)).toEqual(["records"]);
        expect(Array.isArray(env.records)).toBe(true);
        expect(env.records.length).toBeGreaterThanOrEqual(1);
        expect(env.records.length).toBeLessThanOrEqual(40);
        // One body carries one gateway's records of one category.
        expect(new Set(env.records.map((r) => r.resourceId)).size).toBe(1);
        expect(new Set(env.records.map((r) => r.category)).size).toBe(1);
      }
    }
    expect(bodies).toBeGreaterThan(50);
  });

  it("writes upper-case ARM resource ids for three gateways by default", () => {
    const g = createDemoGenerator(base);
    expect(g.gateways.map((x) => x.sku)).toEqual(["v2", "v2", "v1"]);
    const ids = new Set(recordsOf(base, 0, 10).map((r) => r.resourceId));
    expect(ids.size).toBe(3);
    for (const id of ids) expect(id).toMatch(RESOURCE_ID);
    for (const gw of g.gateways)
      expect(gw.resourceId.endsWith(`/APPLICATIONGATEWAYS/${gw.name.toUpperCase()}`)).toBe(true);
  });

  it("shapes v2 access records like the Microsoft sample", () => {
    const recs = recordsOf(base, 0, 10).filter(isV2Access);
    expect(recs.length).toBeGreaterThan(500);
    for (const r of recs) {
      expect(r.timeStamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
      expect(r.time).toBeUndefined();
      expect(r.operationName).toBe("ApplicationGatewayAccess");
      for (const k of ["listenerName", "ruleName", "backendPoolName", "backendSettingName"])
        expect(typeof r[k]).toBe("string");
      const p = r.properties;
      expect(typeof p.httpStatus).toBe("number");
      expect(typeof p.serverStatus).toBe("string");
      expect(typeof p.serverResponseLatency).toBe("string");
      expect(typeof p.WAFEvaluationTime).toBe("string");
      expect(typeof p.upstreamSourcePort).toBe("string");
      expect(typeof p.timeTaken).toBe("number");
      expect(typeof p.clientPort).toBe("number");
      expect(p.transactionId).toMatch(/^[0-9a-f]{32}$/);
      expect(typeof p.error_info).toBe("string");
      expect(p.clientIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    }
    const ok = recs.filter((r) => r.properties.httpStatus === 200 && r.properties.serverStatus === "200");
    expect(ok.length / recs.length).toBeGreaterThan(0.6);
    for (const r of ok) {
      expect(r.properties.error_info).toBe("ERRORINFO_NO_ERROR");
      expect(r.properties.serverRouted).toMatch(/^\d+\.\d+\.\d+\.\d+:\d+$/);
      expect(r.properties.timeTaken).toBeLessThan(1000);
    }
  });

  it("writes v1 access records with time, integer millisecond timeTaken and requestQuery pairs", () => {
    const recs = recordsOf(base, 0, 10).filter(isV1Access);
    expect(recs.length).toBeGreaterThan(100);
    for (const r of recs) {
      expect(r.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(r.timeStamp).toBeUndefined();
      const p = r.properties;
      expect(p.instanceId).toMatch(/^ApplicationGatewayRole_IN_\d$/);
      expect(Number.isInteger(p.timeTaken)).toBe(true);
      expect(p.requestQuery).toMatch(
        /SERVER-ROUTED=[^&]+&X-AzureApplicationGateway-LOG-ID=[0-9a-f-]{36}&SERVER-STATUS=[^&]+$/,
      );
      expect(p.transactionId).toBeUndefined();
      expect(p.error_info).toBeUndefined();
      expect(p.serverStatus).toBeUndefined();
    }
    // Status 200 answered by the backend carries SERVER-STATUS=200.
    const ok = recs.find((r) => r.properties.httpStatus === 200);
    expect(ok?.properties.requestQuery).toContain("SERVER-STATUS=200");
  });

  it("writes l4 records with protocol TCP, sessionTime and serverStatus but no httpStatus", () => {
    const recs = recordsOf(base, 0, 10).filter(isL4);
    expect(recs.length).toBeGreaterThan(20);
    for (const r of recs) {
      const p = r.properties;
      expect(p.httpStatus).toBeUndefined();
      expect(typeof p.sessionTime).toBe("number");
      expect(typeof p.upstreamSessionTime).toBe("number");
      expect(["200", "400", "500", "502", "503"]).toContain(p.serverStatus);
      expect(p.listenerName).toBe("lst-tls-mqtt");
    }
  });

  it("writes firewall records with clientIp (lower-case p) and links blocks to 403 access records", () => {
    const recs = recordsOf(base, 0, 40);
    const fw = recs.filter(isFirewall);
    expect(fw.length).toBeGreaterThan(10);
    for (const r of fw) {
      const p = r.properties;
      expect(typeof p.clientIp).toBe("string");
      expect(p.clientIP).toBeUndefined();
      expect(typeof p.clientPort).toBe("string");
      expect(typeof p.details.line).toBe("string");
      expect(p.transactionId).toMatch(/^[0-9a-f]{32}$/);
    }
    const access = new Map(recs.filter(isV2Access).map((r) => [r.properties.transactionId, r]));
    const blocked = fw.filter((r) => r.properties.action === "Blocked");
    expect(blocked.length).toBeGreaterThan(0);
    for (const b of blocked) {
      expect(b.properties.ruleId).toBe("949110");
      const a = access.get(b.properties.transactionId);
      expect(a?.properties.httpStatus).toBe(403);
      expect(a?.properties.serverStatus).toBe("");
      expect(a?.properties.clientIP).toBe(b.properties.clientIp);
      const matched = fw.filter(
        (m) => m.properties.transactionId === b.properties.transactionId && m.properties.action === "Matched",
      );
      expect(matched.length).toBeGreaterThan(0);
    }
  });

  it("writes v1 performance records once per instance per minute", () => {
    const recs = recordsOf({ ...base, tickMs: 30_000, ratePerSecond: 5 }, 0, 8).filter(
      (r) => r.category === "ApplicationGatewayPerformanceLog",
    );
    // 4 minutes starting on a minute boundary, 2 instances.
    expect(recs.length).toBe(8);
    for (const r of recs) {
      expect(r.time).toMatch(/:00Z$/);
      for (const v of Object.values(r.properties)) expect(typeof v).toBe("string");
    }
  });

  it("includes backend error noise and the odd internal 127.0.0.1 row", () => {
    const recs = recordsOf({ ...base, incidents: [], ratePerSecond: 2000 }, 0, 30).filter(isV2Access);
    const passthrough = (s: number): number =>
      recs.filter((r) => r.properties.httpStatus === s && r.properties.serverStatus === String(s)).length;
    expect(passthrough(404)).toBeGreaterThan(0);
    expect(passthrough(500)).toBeGreaterThan(0);
    expect(passthrough(302)).toBeGreaterThan(0);
    expect(recs.some((r) => r.properties.clientIP === "127.0.0.1")).toBe(true);
  });

  it("follows a daily curve: more traffic at 14:00 than at 02:00", () => {
    expect(trafficCurve(Date.UTC(2025, 0, 1, 14))).toBeCloseTo(1.6);
    expect(trafficCurve(Date.UTC(2025, 0, 1, 2))).toBeCloseTo(0.4);
    const count = (hour: number): number =>
      recordsOf({ ...base, incidents: [], startTimeMs: Date.UTC(2025, 0, 1, hour) }, 0, 10).length;
    expect(count(14) / count(2)).toBeGreaterThan(3);
  });

  it("rejects nonsense options with a clear error", () => {
    const bad: DemoOptions[] = [
      { ratePerSecond: -1 },
      { ratePerSecond: Number.NaN },
      { gateways: 0 },
      { gateways: 1.5 },
      { tickMs: 0 },
      { speed: 0 },
      { incidentPeriodSeconds: 10, incidentDurationSeconds: 20 },
      { incidents: ["meteor_strike" as DemoIncidentId] },
      { ratePerSecond: 1e9 },
    ];
    for (const opts of bad) {
      let err: unknown;
      try {
        createDemoGenerator(opts);
      } catch (e) {
        err = e;
      }
      expect(isGatewatchError(err, "demo_options_invalid"), JSON.stringify(opts)).toBe(true);
    }
    expect(() => createDemoGenerator({ ratePerSecond: -5 })).toThrow(
      /ratePerSecond must be a positive number, got -5/,
    );
  });
});

describe("demo incidents", () => {
  const P = 20;
  const D = 10;
  const opts: DemoOptions = {
    seed: 3,
    startTimeMs: START,
    tickMs: 1000,
    incidentPeriodSeconds: P,
    incidentDurationSeconds: D,
  };
  // Signature of each incident's access records, on raw fields.
  const signature: Record<DemoIncidentId, (r: Rec) => boolean> = {
    pool_outage: (r) =>
      r.properties.httpStatus === 502 &&
      r.properties.error_info === "ERRORINFO_UPSTREAM_NO_LIVE" &&
      r.properties.serverRouted === "" &&
      r.properties.serverStatus === "",
    slow_backend: (r) =>
      r.properties.httpStatus === 504 &&
      r.properties.error_info === "ERRORINFO_UPSTREAM_TIMED_OUT" &&
      r.properties.timeTaken >= 19.9 &&
      r.properties.timeTaken <= 20.2 &&
      r.timeStamp !== undefined,
    waf_attack: (r) =>
      r.properties.httpStatus === 403 &&
      r.properties.serverStatus === "" &&
      String(r.properties.userAgent).startsWith("sqlmap"),
    expired_client_certificates: (r) =>
      r.properties.httpStatus === 400 &&
      r.properties.error_info === "ERRORINFO_HTTPS_NO_CERT" &&
      r.properties.sslClientVerify === "FAILED:certificate has expired",
    aborted_downloads: (r) =>
      r.properties.httpStatus === 499 &&
      r.properties.error_info === "ERRORINFO_CLIENT_CLOSED_REQUEST" &&
      r.properties.sentBytes > 1_000_000,
    missing_listener: (r) =>
      r.properties.httpStatus === 404 &&
      r.properties.error_info === "ERRORINFO_INVALID_HOST" &&
      r.properties.host === "shop.contoso.com",
  };

  it("lists every incident with its cause, status and error_info", () => {
    expect(DEMO_INCIDENTS.map((i) => [i.id, i.cause])).toEqual([
      ["pool_outage", "no_healthy_backend"],
      ["slow_backend", "backend_timeout"],
      ["waf_attack", "waf_block"],
      ["expired_client_certificates", "mtls_certificate_expired"],
      ["aborted_downloads", "client_closed_connection"],
      ["missing_listener", "no_listener_match"],
    ]);
  });

  it("schedules incidents one period apart, cycling in order", () => {
    const g = createDemoGenerator(opts);
    expect(g.incidentAt(START)).toBeNull();
    expect(g.incidentAt(START + P * 1000 - 1)).toBeNull();
    DEMO_INCIDENTS.forEach((inc, k) => {
      const from = START + (k + 1) * P * 1000;
      expect(g.incidentAt(from)?.id).toBe(inc.id);
      expect(g.incidentAt(from + D * 1000 - 1)?.id).toBe(inc.id);
      expect(g.incidentAt(from + D * 1000)).toBeNull();
    });
    expect(g.incidentAt(START + 7 * P * 1000)?.id).toBe("pool_outage");
  });

  it("produces each incident's records, shaped as the gateway logs them, only in its window", () => {
    const g = createDemoGenerator(opts);
    const ticks = (DEMO_INCIDENTS.length + 1) * P;
    const seen = new Map<DemoIncidentId, number>();
    for (let t = 0; t < ticks; t += 1) {
      const { startMs } = g.tickRange(t);
      const active = g.incidentAt(startMs);
      const recs = g.bodiesAt(t).flatMap((b) => parse(b).records);
      for (const inc of DEMO_INCIDENTS) {
        const n = recs.filter(signature[inc.id]).length;
        if (active?.id === inc.id) {
          expect(n, `${inc.id} at tick ${t}`).toBeGreaterThan(0);
          seen.set(inc.id, (seen.get(inc.id) ?? 0) + n);
        } else {
          expect(n, `${inc.id} outside its window at tick ${t}`).toBe(0);
        }
      }
    }
    expect([...seen.keys()].sort()).toEqual(DEMO_INCIDENTS.map((i) => i.id).sort());
  });

  it("pairs WAF attack 403s with Matched 942100 and Blocked 949110 firewall records", () => {
    const g = createDemoGenerator({ ...opts, incidents: ["waf_attack"] });
    const recs = [20, 21, 22].flatMap((t) => g.bodiesAt(t).flatMap((b) => parse(b).records));
    const attacks = recs.filter(signature.waf_attack);
    expect(attacks.length).toBeGreaterThan(5);
    for (const a of attacks) {
      const fw = recs.filter(
        (r) => isFirewall(r) && r.properties.transactionId === a.properties.transactionId,
      );
      expect(fw.some((r) => r.properties.ruleId === "942100" && r.properties.action === "Matched")).toBe(
        true,
      );
      expect(fw.some((r) => r.properties.ruleId === "949110" && r.properties.action === "Blocked")).toBe(
        true,
      );
      expect(a.properties.WAFMode).toBe("Prevention");
    }
  });

  it("gives pool-outage and timeout records the fields their causes depend on", () => {
    const g = createDemoGenerator({ ...opts, incidents: ["pool_outage", "slow_backend"] });
    const outage = [20, 21]
      .flatMap((t) => g.bodiesAt(t).flatMap((b) => parse(b).records))
      .filter(signature.pool_outage);
    for (const r of outage) expect(r.backendPoolName).toBe("pool-orders-api");
    const slow = [40, 41]
      .flatMap((t) => g.bodiesAt(t).flatMap((b) => parse(b).records))
      .filter(signature.slow_backend);
    expect(slow.length).toBeGreaterThan(0);
    for (const r of slow) {
      expect(r.backendPoolName).toBe("pool-catalog-api");
      expect(r.properties.serverRouted).not.toBe("");
    }
  });

  it("cycles through the enabled incidents only", () => {
    const g = createDemoGenerator({ ...opts, incidents: ["missing_listener", "waf_attack"] });
    expect(g.incidentAt(START + 1 * P * 1000)?.id).toBe("missing_listener");
    expect(g.incidentAt(START + 2 * P * 1000)?.id).toBe("waf_attack");
    expect(g.incidentAt(START + 3 * P * 1000)?.id).toBe("missing_listener");
    expect(createDemoGenerator({ ...opts, incidents: [] }).incidentAt(START + P * 1000)).toBeNull();
  });

  it("shows every incident even at one record per second and with a single gateway", () => {
    for (const extra of [{ ratePerSecond: 1 }, { gateways: 1 }, { ratePerSecond: 1, gateways: 1 }]) {
      const g = createDemoGenerator({ ...opts, ...extra });
      for (const [k, inc] of DEMO_INCIDENTS.entries()) {
        const tick = (k + 1) * P; // first tick of its window
        const recs = g.bodiesAt(tick).flatMap((b) => parse(b).records);
        expect(recs.filter(signature[inc.id]).length, `${inc.id} ${JSON.stringify(extra)}`).toBeGreaterThan(
          0,
        );
      }
    }
  });

  it("keeps incident records inside the window when one tick spans several incidents", () => {
    // speed 600: one 250 ms tick covers 150 simulated seconds, i.e. several 20 s periods.
    const g = createDemoGenerator({ ...opts, tickMs: 250, speed: 600 });
    const recs = g.bodiesAt(0).flatMap((b) => parse(b).records);
    for (const inc of DEMO_INCIDENTS.slice(0, 5)) {
      const own = recs.filter(signature[inc.id]);
      expect(own.length, inc.id).toBeGreaterThan(0);
      for (const r of own) {
        const t = Date.parse(r.timeStamp);
        // Retries may land a few seconds after the window closes.
        expect(g.incidentAt(t)?.id ?? g.incidentAt(t - 5000)?.id).toBe(inc.id);
      }
    }
  });
});
