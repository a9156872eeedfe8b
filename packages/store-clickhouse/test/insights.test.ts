import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ClickHouseStore,
  parseStoreUrl,
  queryAlertHistory,
  queryTop,
  queryTransaction,
  queryTrends,
} from "../src/index.js";

// chdb allows one data directory per process; vitest runs each test file in its own process.
const dir = mkdtempSync(join(tmpdir(), "gw-insights-"));
let store: ClickHouseStore;

// 2026-03-01 08:00 UTC, epoch seconds: whole hour. Event times long past are kept (retention counts
// from ingestion).
const T0 = Date.UTC(2026, 2, 1, 8, 0, 0) / 1000;

interface Row {
  /** Seconds after T0. */
  at: number;
  cause: string;
  status: number;
  pool?: string;
  host?: string;
  gateway?: string;
  tx?: string;
  client?: string;
  uri?: string;
}

/**
 * A known layout: hour 0 (08:00–09:00) has 30 requests, hour 1 (09:00–10:00) 50; within minute
 * 08:05 there are 6 and within 08:06 4, so a minute step and an hour step can both be checked by hand.
 */
const ROWS: Row[] = [
  // 08:05: 4 success (pool-a), 2 backend_timeout (pool-b)
  ...Array.from({ length: 4 }, (_, i): Row => ({
    at: 300 + i,
    cause: "success",
    status: 200,
    pool: "pool-a",
    host: "a.example",
  })),
  ...Array.from({ length: 2 }, (_, i): Row => ({
    at: 310 + i,
    cause: "backend_timeout",
    status: 504,
    pool: "pool-b",
    host: "b.example",
  })),
  // 08:06: 3 backend_timeout (pool-b), 1 internal (left out of totals by default)
  ...Array.from({ length: 3 }, (_, i): Row => ({
    at: 360 + i,
    cause: "backend_timeout",
    status: 504,
    pool: "pool-b",
    host: "b.example",
  })),
  { at: 365, cause: "internal_traffic", status: 200, pool: "pool-a", host: "a.example" },
  // rest of hour 0: 20 success on pool-a at 08:30 (another gateway)
  ...Array.from({ length: 20 }, (_, i): Row => ({
    at: 1800 + i,
    cause: "success",
    status: 200,
    pool: "pool-a",
    host: "a.example",
    gateway: "agw-2",
  })),
  // hour 1: 40 success pool-a, 9 waf_block, 1 waf_block with a transaction id and firewall records
  ...Array.from({ length: 40 }, (_, i): Row => ({
    at: 3600 + 60 * i,
    cause: "success",
    status: 200,
    pool: "pool-a",
    host: "a.example",
  })),
  ...Array.from({ length: 9 }, (_, i): Row => ({
    at: 3700 + i,
    cause: "waf_block",
    status: 403,
    host: "a.example",
  })),
  {
    at: 3800,
    cause: "waf_block",
    status: 403,
    host: "a.example",
    tx: "tx-blocked-1",
    client: "203.0.113.7",
    uri: "/login",
  },
  // a block whose firewall records carry no transaction id: linked by client IP + URI
  {
    at: 3900,
    cause: "waf_block",
    status: 403,
    host: "a.example",
    tx: "tx-fallback-1",
    client: "198.51.100.9",
    uri: "/admin",
  },
];

function requestJson(r: Row, i: number): string {
  return JSON.stringify({
    time: (T0 + r.at) * 1000,
    gateway: r.gateway ?? "agw-1",
    kind: "access",
    cause: r.cause,
    origin:
      r.cause === "success"
        ? "none"
        : r.cause === "waf_block"
          ? "waf"
          : r.cause === "internal_traffic"
            ? "internal"
            : "backend",
    rule: "R5",
    evidence: [`httpStatus=${r.status}`],
    status: r.status,
    listener: "lst-https",
    backend_pool: r.pool ?? "",
    host: r.host ?? "",
    request_uri: r.uri ?? "/",
    client_ip: r.client ?? "192.0.2.1",
    transaction_id: r.tx ?? `tx-${i}`,
    time_taken: 0.05,
    source: "test",
    partition: "0",
    batch_seq: 0,
    body_index: i,
  });
}

function firewallJson(o: Record<string, unknown>, i: number): string {
  return JSON.stringify({
    gateway: "agw-1",
    hostname: "a.example",
    source: "test",
    partition: "0",
    batch_seq: 0,
    body_index: i,
    ...o,
  });
}

const ndjson = (lines: string[]) => Buffer.from(lines.join("\n") + "\n");

beforeAll(async () => {
  store = await ClickHouseStore.open(parseStoreUrl(`embedded:${dir}`));
  await store.migrate();
  await store.insertEncoded("requests", ndjson(ROWS.map(requestJson)), "insights-requests", "JSONEachRow");
  await store.insertEncoded(
    "firewall_events",
    ndjson([
      firewallJson(
        {
          time: (T0 + 3800) * 1000,
          action: "matched",
          rule_id: "942100",
          rule_group: "SQLI",
          transaction_id: "tx-blocked-1",
          client_ip: "203.0.113.7",
          request_uri: "/login",
        },
        0,
      ),
      firewallJson(
        {
          time: (T0 + 3800) * 1000,
          action: "blocked",
          rule_id: "949110",
          rule_group: "BLOCKING",
          transaction_id: "tx-blocked-1",
          client_ip: "203.0.113.7",
          request_uri: "/login",
        },
        1,
      ),
      // no transaction id: linked to the v1-style block by client IP + URI within ±120 s
      firewallJson(
        {
          time: (T0 + 3950) * 1000,
          action: "blocked",
          rule_id: "920350",
          rule_group: "PROTOCOL",
          transaction_id: "",
          client_ip: "198.51.100.9",
          request_uri: "/admin",
        },
        2,
      ),
      // same client and URI but 10 minutes later: not linked
      firewallJson(
        {
          time: (T0 + 4500) * 1000,
          action: "blocked",
          rule_id: "920351",
          rule_group: "PROTOCOL",
          transaction_id: "",
          client_ip: "198.51.100.9",
          request_uri: "/admin",
        },
        3,
      ),
    ]),
    "insights-firewall",
    "JSONEachRow",
  );
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("queryTrends", () => {
  it("counts requests per minute and cause from the minute rollup, zero-filled, internal traffic left out", async () => {
    const t = await queryTrends(store, { from: T0 + 240, to: T0 + 420, step: 60 });
    expect(t.table).toBe("requests_1m");
    expect(t.times).toEqual([T0 + 240, T0 + 300, T0 + 360]);
    expect(t.totals).toEqual([0, 6, 3]);
    expect(t.series).toEqual([
      { cause: "backend_timeout", origin: "backend", total: 5, values: [0, 2, 3] },
      { cause: "success", origin: "none", total: 4, values: [0, 4, 0] },
    ]);
  });

  it("reads the hour rollup for whole-hour steps and aligns the range to the step", async () => {
    const t = await queryTrends(store, { from: T0 + 600, to: T0 + 7000, step: 3600 });
    expect(t).toMatchObject({ table: "requests_1h", from: T0, to: T0 + 7200, times: [T0, T0 + 3600] });
    expect(t.totals).toEqual([29, 51]);
    expect(t.series.map((s) => [s.cause, s.values])).toEqual([
      ["success", [24, 40]],
      ["waf_block", [0, 11]],
      ["backend_timeout", [5, 0]],
    ]);
  });

  it("filters by gateway, cause and backend pool; internal traffic only when asked for", async () => {
    const gw2 = await queryTrends(store, { from: T0, to: T0 + 3600, step: 3600, gateway: ["agw-2"] });
    expect(gw2.totals).toEqual([20]);
    const pool = await queryTrends(store, { from: T0, to: T0 + 7200, step: 3600, backendPool: ["pool-b"] });
    expect(pool.series.map((s) => s.cause)).toEqual(["backend_timeout"]);
    const internal = await queryTrends(store, {
      from: T0,
      to: T0 + 3600,
      step: 3600,
      cause: ["internal_traffic"],
    });
    expect(internal.totals).toEqual([1]);
  });

  it("treats hostile filter values as values: they match nothing and change no SQL", async () => {
    for (const value of [
      "agw-1' OR 1=1 --",
      "x'); DROP TABLE gatewatch.requests; --",
      "\\' OR ''='",
      "{gateway:String}",
    ]) {
      const t = await queryTrends(store, { from: T0, to: T0 + 7200, step: 3600, gateway: [value] });
      expect(t.totals).toEqual([0, 0]);
    }
    const all = await queryTrends(store, { from: T0, to: T0 + 7200, step: 3600 });
    expect(all.totals).toEqual([29, 51]);
  });
});

describe("queryTop", () => {
  it("ranks backend pools with share, errors and the previous period of equal length", async () => {
    // Range hour 1, previous period hour 0.
    const t = await queryTop(store, { from: T0 + 3600, to: T0 + 7200, by: "backend_pool", limit: 10 });
    expect(t).toMatchObject({
      table: "requests_1m",
      total: 51,
      previousTotal: 29,
      previousRange: { from: T0, to: T0 + 3600 },
    });
    expect(t.rows).toEqual([
      { value: "pool-a", requests: 40, errors: 0, share: 40 / 51, previous: 24, change: (40 - 24) / 24 },
      { value: "", requests: 11, errors: 11, share: 11 / 51, previous: 0, change: null },
    ]);
  });

  it("widens a rollup range to whole minutes and says so", async () => {
    const t = await queryTop(store, { from: T0 + 330, to: T0 + 390, by: "cause", limit: 5 });
    expect(t).toMatchObject({ from: T0 + 300, to: T0 + 420, total: 9 });
  });

  it("reads raw entries, to the second, for hosts", async () => {
    const t = await queryTop(store, { from: T0 + 305, to: T0 + 362, by: "host", limit: 5 });
    expect(t.table).toBe("requests");
    // 08:05:05..08:06:02 holds success at 300..303 (none), timeouts at 310, 311, 360, 361.
    expect(t.rows).toEqual([
      { value: "b.example", requests: 4, errors: 4, share: 1, previous: 0, change: null },
    ]);
    expect(t.previousRange).toEqual({ from: T0 + 248, to: T0 + 305 });
    expect(t.previousTotal).toBe(4);
  });

  it("honours the limit and orders ties by value", async () => {
    const t = await queryTop(store, { from: T0, to: T0 + 7200, by: "cause", limit: 2 });
    expect(t.rows.map((r) => r.value)).toEqual(["success", "waf_block"]);
    expect(t.total).toBe(80);
  });
});

describe("queryTransaction", () => {
  it("returns the entry and its firewall records linked by transaction id", async () => {
    const { entries, firewall } = await queryTransaction(store, "tx-blocked-1");
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ cause: "waf_block", status: 403, client_ip: "203.0.113.7" });
    expect(firewall.map((f) => [f.rule_id, f.action, f.matched_by])).toEqual([
      ["942100", "matched", "transaction_id"],
      ["949110", "blocked", "transaction_id"],
    ]);
  });

  it("links firewall records without a transaction id by client IP + URI within ±120 s", async () => {
    const { entries, firewall } = await queryTransaction(store, "tx-fallback-1");
    expect(entries).toHaveLength(1);
    expect(firewall.map((f) => [f.rule_id, f.matched_by])).toEqual([["920350", "fallback"]]);
  });

  it("finds nothing for an unknown or hostile id", async () => {
    for (const id of ["nope", "' OR 1=1 --"])
      expect(await queryTransaction(store, id)).toEqual({ entries: [], firewall: [] });
  });
});

describe("queryAlertHistory", () => {
  it("lists transitions and, with active, only alerts whose last transition is firing", async () => {
    const now = Date.now();
    const event = (alert_id: string, state: "firing" | "resolved", at: number) => ({
      at,
      alert_id,
      state,
      alertname: "GatewatchCauseSpike",
      gateway: "agw-1",
      cause: "no_healthy_backend",
      origin: "backend",
      severity: "critical",
      started_at: now - 60_000,
      count: 50,
      baseline: 1,
      share: 0.5,
      baseline_share: 0.01,
      summary: `spike ${alert_id}`,
      description: "",
      runbook_url: "",
      labels: {},
    });
    await store.recordAlertEvents([
      event("a1", "firing", now - 50_000),
      event("a1", "resolved", now - 10_000),
      event("a2", "firing", now - 5_000),
    ]);
    const all = await queryAlertHistory(store, { active: false, sinceSeconds: 3600 });
    expect(all.map((r) => [r.alert_id, r.state])).toEqual([
      ["a1", "firing"],
      ["a1", "resolved"],
      ["a2", "firing"],
    ]);
    const active = await queryAlertHistory(store, { active: true, sinceSeconds: 3600 });
    expect(active.map((r) => [r.alert_id, r.cause, r.summary])).toEqual([
      ["a2", "no_healthy_backend", "spike a2"],
    ]);
  });
});
