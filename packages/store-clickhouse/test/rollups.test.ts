import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { createChdbConnection } from "chdb/connection";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClickHouseStore, parseStoreUrl } from "../src/index.js";

// chdb allows one data directory per process; vitest runs each test file in its own process. A
// second connection to the same directory (allowed by chdb) runs the DDL the store does not expose.
const dir = mkdtempSync(join(tmpdir(), "gw-rollups-"));
let store: ClickHouseStore;
let admin: ClickHouseClient;

type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>["connection"]>;

// Event times long past: retention counts from ingestion, so old events are kept.
const BASE = Date.UTC(2026, 2, 1, 8, 0, 0);
const CAUSES = ["success", "backend_timeout", "waf_block"] as const;

/** A `requests` row with the columns that matter here; the others take their defaults. */
function requestRow(i: number, over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    time: BASE + i * 97_000, // 240 rows over about six and a half hours, several per minute
    gateway: i % 2 === 0 ? "agw-a" : "agw-b",
    kind: "access",
    cause: CAUSES[i % CAUSES.length],
    origin: "backend",
    status: 200 + (i % 3),
    listener: i % 4 < 2 ? "lst-https" : "lst-http",
    backend_pool: "bp-web",
    received_bytes: 100 + i,
    sent_bytes: 1000 + 10 * i,
    time_taken: i % 7 === 0 ? null : (i % 50) / 10,
    backend_latency: i % 5 === 0 ? null : (i % 20) / 100,
    source: "test",
    partition: "0",
    batch_seq: 0,
    body_index: i,
    ...over,
  });
}

const ndjson = (lines: string[]) => Buffer.from(lines.join("\n") + "\n");
const firstBlock = ndjson(Array.from({ length: 240 }, (_, i) => requestRow(i)));

async function rows<T>(sql: string): Promise<T[]> {
  return (await store.queryReadOnly(sql)) as T[];
}

/** Requests, bytes and both latency quantiles per (gateway, cause) in one of the three tables. */
async function totals(table: "requests" | "requests_1m" | "requests_1h") {
  const measures =
    table === "requests"
      ? `count() AS requests, sum(received_bytes) AS received, sum(sent_bytes) AS sent,
         quantiles(0.5, 0.9, 0.99)(time_taken) AS time_taken,
         quantiles(0.5, 0.9, 0.99)(backend_latency) AS backend_latency`
      : `sum(requests) AS requests, sum(received_bytes) AS received, sum(sent_bytes) AS sent,
         quantilesMerge(0.5, 0.9, 0.99)(time_taken) AS time_taken,
         quantilesMerge(0.5, 0.9, 0.99)(backend_latency) AS backend_latency`;
  return rows<{
    gateway: string;
    cause: string;
    requests: number;
    received: number;
    sent: number;
    time_taken: number[];
    backend_latency: number[];
  }>(
    `SELECT gateway, cause, ${measures} FROM gatewatch.${table} GROUP BY gateway, cause ORDER BY gateway, cause`,
  );
}

async function counts() {
  const [c] = await rows<{ raw: number; minute: number; hour: number }>(
    `SELECT (SELECT count() FROM gatewatch.requests) AS raw,
            (SELECT sum(requests) FROM gatewatch.requests_1m) AS minute,
            (SELECT sum(requests) FROM gatewatch.requests_1h) AS hour`,
  );
  return c;
}

beforeAll(async () => {
  store = await ClickHouseStore.open(parseStoreUrl(`embedded:${dir}`));
  await store.migrate();
  admin = createClient({ connection: createChdbConnection({ path: dir }) as unknown as ClientConnection });
});
afterAll(async () => {
  await admin?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("per-minute and per-hour rollups", () => {
  it("count every raw request once per (gateway, cause) in both rollups, with mergeable quantiles", async () => {
    await store.insertEncoded("requests", firstBlock, "rollups-block-1", "JSONEachRow");
    const raw = await totals("requests");
    expect(raw).toHaveLength(6);
    expect(raw.reduce((n, r) => n + r.requests, 0)).toBe(240);
    const hourRows = await rows<{ hours: number }>(
      "SELECT uniqExact(hour) AS hours FROM gatewatch.requests_1h",
    );
    expect(hourRows[0]?.hours).toBe(7);
    for (const table of ["requests_1m", "requests_1h"] as const) {
      const rolled = await totals(table);
      expect(
        rolled.map(({ gateway, cause, requests, received, sent }) => ({
          gateway,
          cause,
          requests,
          received,
          sent,
        })),
      ).toEqual(
        raw.map(({ gateway, cause, requests, received, sent }) => ({
          gateway,
          cause,
          requests,
          received,
          sent,
        })),
      );
      // Below the sampler's capacity quantile states merge exactly, so they equal the raw quantiles.
      rolled.forEach((r, k) => {
        const want = raw[k]!;
        expect(r.time_taken).toHaveLength(3);
        r.time_taken.forEach((q, j) => expect(q).toBeCloseTo(want.time_taken[j]!, 9));
        r.backend_latency.forEach((q, j) => expect(q).toBeCloseTo(want.backend_latency[j]!, 9));
      });
    }
  });

  it("writes nothing to the raw table or either rollup when a block is inserted again with its token", async () => {
    const before = await counts();
    expect(before).toEqual({ raw: 240, minute: 240, hour: 240 });
    await store.insertEncoded("requests", firstBlock, "rollups-block-1", "JSONEachRow");
    expect(await counts()).toEqual(before);
    const next = ndjson(Array.from({ length: 10 }, (_, i) => requestRow(1000 + i)));
    await store.insertEncoded("requests", next, "rollups-block-2", "JSONEachRow");
    await store.insertEncoded("requests", next, "rollups-block-2", "JSONEachRow");
    expect(await counts()).toEqual({ raw: 250, minute: 250, hour: 250 });
  });

  it("backfills the hourly rollup from existing requests when migration 4 meets a v3 database", async () => {
    // Back to schema v3 with data in `requests`: no hourly table, no view, no migration-4 row (later
    // migrations are idempotent and simply run again).
    await admin.command({ query: "DROP VIEW gatewatch.requests_1h_mv SYNC" });
    await admin.command({ query: "DROP TABLE gatewatch.requests_1h SYNC" });
    await admin.command({ query: "DROP VIEW gatewatch.waf_blocks SYNC" });
    await admin.command({
      query: "ALTER TABLE gatewatch.schema_migrations DELETE WHERE version >= 4 SETTINGS mutations_sync = 1",
    });
    expect(await store.schemaVersion()).toBe(3);

    const report = await store.migrate();
    expect(report.applied.map((a) => a.version)).toEqual([4, 5]);
    expect(await counts()).toEqual({ raw: 250, minute: 250, hour: 250 });
    expect(await totals("requests_1h")).toEqual(await totals("requests_1m"));

    // A re-run (crash before the version was recorded) finds the table filled and adds nothing.
    await admin.command({
      query: "ALTER TABLE gatewatch.schema_migrations DELETE WHERE version >= 4 SETTINGS mutations_sync = 1",
    });
    expect((await store.migrate()).applied.map((a) => a.version)).toEqual([4, 5]);
    expect(await counts()).toEqual({ raw: 250, minute: 250, hour: 250 });

    // And the view feeds it again afterwards.
    await store.insertEncoded("requests", ndjson([requestRow(2000)]), "rollups-block-3", "JSONEachRow");
    expect(await counts()).toEqual({ raw: 251, minute: 251, hour: 251 });
  });
});

describe("waf_blocks", () => {
  const T = Date.UTC(2026, 2, 2, 10, 0, 0);
  const fw = (over: Record<string, unknown>) =>
    JSON.stringify({
      gateway: "agw-waf",
      action: "matched",
      raw_action: "Matched",
      rule_set_type: "OWASP_CRS",
      rule_set_version: "3.2",
      hostname: "shop.example.com",
      source: "test",
      partition: "0",
      batch_seq: 0,
      body_index: 0,
      ...over,
    });
  const req = (over: Record<string, unknown>) =>
    JSON.stringify({
      gateway: "agw-waf",
      kind: "access",
      cause: "waf_block",
      origin: "waf",
      status: 403,
      host: "shop.example.com",
      source: "test",
      partition: "0",
      batch_seq: 0,
      body_index: 0,
      ...over,
    });

  beforeAll(async () => {
    await store.insertEncoded(
      "requests",
      ndjson([
        // v2: carries a transaction id.
        req({ time: T, client_ip: "203.0.113.7", request_uri: "/login", transaction_id: "aa11" }),
        // v1: no transaction id, linked by client IP + URI.
        req({ time: T, client_ip: "198.51.100.9", request_uri: "/admin", transaction_id: "", sku: "v1" }),
        // Not a WAF block, although the firewall logged a (detection-only) match for it.
        req({
          time: T,
          cause: "success",
          origin: "none",
          status: 200,
          client_ip: "203.0.113.7",
          request_uri: "/login",
          transaction_id: "cc33",
        }),
      ]),
      "waf-requests",
      "JSONEachRow",
    );
    await store.insertEncoded(
      "firewall_events",
      ndjson([
        fw({
          time: T - 5,
          transaction_id: "aa11",
          client_ip: "203.0.113.7",
          request_uri: "/login",
          rule_id: "942100",
          rule_group: "REQUEST-942-APPLICATION-ATTACK-SQLI",
          message: "SQL Injection Attack Detected via libinjection",
        }),
        fw({
          time: T - 4,
          transaction_id: "aa11",
          client_ip: "203.0.113.7",
          request_uri: "/login",
          rule_id: "949110",
          rule_group: "BLOCKING-EVALUATION",
          action: "blocked",
          raw_action: "Blocked",
          message: "Mandatory rule. Cannot be disabled. Inbound Anomaly Score Exceeded",
        }),
        // Same client and URI, another request: both sides have an id and they differ.
        fw({
          time: T,
          transaction_id: "bb22",
          client_ip: "203.0.113.7",
          request_uri: "/login",
          rule_id: "920350",
          action: "blocked",
          raw_action: "Blocked",
        }),
        fw({
          time: T,
          transaction_id: "cc33",
          client_ip: "203.0.113.7",
          request_uri: "/login",
          rule_id: "913100",
          action: "detected",
          raw_action: "Detected",
        }),
        // v1 firewall ids are decimal; the access record has none.
        fw({
          time: T + 30_000,
          transaction_id: "16861477007022634343",
          client_ip: "198.51.100.9",
          request_uri: "/admin",
          rule_id: "BlockAdminPath",
          rule_group: "",
          rule_set_type: "Custom",
          rule_set_version: "",
          action: "blocked",
          raw_action: "Blocked",
          message: "Custom rule BlockAdminPath matched",
        }),
        // Outside ±120 s, and another URI: not this request.
        fw({
          time: T + 121_000,
          client_ip: "198.51.100.9",
          request_uri: "/admin",
          rule_id: "LateRule",
          action: "blocked",
        }),
        fw({
          time: T + 1_000,
          client_ip: "198.51.100.9",
          request_uri: "/other",
          rule_id: "OtherUri",
          action: "blocked",
        }),
      ]),
      "waf-firewall",
      "JSONEachRow",
    );
  });

  const linked = (where: string) =>
    rows<Record<string, unknown>>(
      `SELECT client_ip, request_uri, transaction_id, rule_id, rule_group, rule_set_type, action, matched_by
       FROM gatewatch.waf_blocks WHERE ${where} ORDER BY firewall_time, rule_id`,
    );

  it("links a blocked request to its firewall records by transaction id", async () => {
    expect(await linked("client_ip = '203.0.113.7'")).toEqual([
      {
        client_ip: "203.0.113.7",
        request_uri: "/login",
        transaction_id: "aa11",
        rule_id: "942100",
        rule_group: "REQUEST-942-APPLICATION-ATTACK-SQLI",
        rule_set_type: "OWASP_CRS",
        action: "matched",
        matched_by: "transaction_id",
      },
      {
        client_ip: "203.0.113.7",
        request_uri: "/login",
        transaction_id: "aa11",
        rule_id: "949110",
        rule_group: "BLOCKING-EVALUATION",
        rule_set_type: "OWASP_CRS",
        action: "blocked",
        matched_by: "transaction_id",
      },
    ]);
  });

  it("links a blocked request without a transaction id by client IP and URI within 120 seconds", async () => {
    expect(await linked("client_ip = '198.51.100.9'")).toEqual([
      {
        client_ip: "198.51.100.9",
        request_uri: "/admin",
        transaction_id: "",
        rule_id: "BlockAdminPath",
        rule_group: "",
        rule_set_type: "Custom",
        action: "blocked",
        matched_by: "fallback",
      },
    ]);
  });

  it("returns nothing for a request that is not a WAF block", async () => {
    expect(await linked("transaction_id = 'cc33'")).toEqual([]);
    const [all] = await rows<{ n: number }>("SELECT count() AS n FROM gatewatch.waf_blocks");
    expect(all?.n).toBe(3);
  });
});
