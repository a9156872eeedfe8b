// Rows the real engine refuses (embedded chdb): how they are classified and how the writer isolates them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClickHouseStore, StoreWriter, parseStoreUrl, type EncodedTable } from "../src/index.js";
import { TABLE_COLUMNS } from "../src/rows.js";

// chdb allows one data directory per process; vitest runs each test file in its own process.
const dir = mkdtempSync(join(tmpdir(), "gw-rejected-"));
let store: ClickHouseStore;

beforeAll(async () => {
  store = await ClickHouseStore.open(parseStoreUrl(`embedded:${dir}`));
  await store.migrate();
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A complete `requests` row, as the encoder writes it (compact, in TABLE_COLUMNS order); an override
 * naming no column becomes an extra value at the end, as a stale encoder would write.
 */
const request = (i: number, override: Record<string, unknown> = {}): string => {
  const values: Record<string, unknown> = {
    time: Date.UTC(2026, 10, 1, 12, 0, i),
    gateway: "agw-1",
    kind: "access",
    sku: "WAF_v2",
    cause: "success",
    origin: "none",
    rule: "status_2xx",
    status: 200,
    backend_status: 200,
    error_info: "",
    evidence: [],
    listener: "lst-https",
    rule_name: "rule-1",
    backend_pool: "bp-api",
    backend_setting: "bs-api",
    instance_id: "appgw_0",
    backend_address: "10.0.0.4:443",
    client_ip: "203.0.113.9",
    client_port: 50000 + i,
    http_method: "GET",
    http_version: "HTTP/1.1",
    request_uri: `/items/${i}`,
    request_query: "",
    host: "shop.example.com",
    original_host: "shop.example.com",
    user_agent: "curl/8",
    received_bytes: 100,
    sent_bytes: 2000,
    time_taken: 0.01,
    backend_latency: 0.008,
    ssl_client_verify: "",
    ssl_protocol: "TLSv1.3",
    ssl_cipher: "TLS_AES_256_GCM_SHA384",
    waf_mode: "",
    transaction_id: `tx-${i}`,
    source: "file:sample.ndjson",
    partition: "0",
    batch_seq: 7,
    body_index: i,
    record_index: 0,
    ...override,
  };
  const columns: readonly string[] = TABLE_COLUMNS.requests;
  const extra = Object.keys(override).filter((k) => !columns.includes(k));
  return JSON.stringify([...columns.map((c) => values[c]), ...extra.map((k) => values[k])]);
};

const encoded = (rows: string[]): EncodedTable => ({
  table: "requests",
  data: Buffer.from(rows.join("\n") + "\n"),
  rows: rows.length,
});

async function count(sql: string): Promise<number> {
  const [row] = await store.queryReadOnly(sql);
  return Number(row?.n);
}

describe("rows the embedded engine refuses", () => {
  it("classifies a malformed value and an unknown column as store_rejected_data and writes nothing", async () => {
    await expect(
      store.insertEncoded(
        "requests",
        encoded([request(0), request(1, { status: "not a number" })]).data,
        "bad-1",
      ),
    ).rejects.toMatchObject({ code: "store_rejected_data", retriable: false });
    await expect(
      store.insertEncoded("requests", encoded([request(0, { unknown_column: 1 })]).data, "bad-2"),
    ).rejects.toMatchObject({ code: "store_rejected_data", retriable: false });
    expect(await count("SELECT count() AS n FROM gatewatch.requests")).toBe(0);
  });

  it("isolates the refused rows, stores the rest once, and dead-letters them with the server's error", async () => {
    const rows = Array.from({ length: 40 }, (_, i) =>
      i === 9
        ? request(i, { status: "not a number" })
        : i === 30
          ? request(i, { unknown_column: 1 })
          : request(i),
    );
    const rejected: [string, number, string][] = [];
    const writer = new StoreWriter(store, undefined, {
      onRejectedRows: (table, n, e) => rejected.push([table, n, e.code]),
    });
    const report = await writer.write([encoded(rows)], "file:sample.ndjson:0:7-7:abc");
    expect(report.rejected).toEqual(new Map([["requests", 2]]));
    expect(rejected).toEqual([["requests", 2, "store_rejected_data"]]);

    const stored = await store.queryReadOnly("SELECT body_index FROM gatewatch.requests ORDER BY body_index");
    expect(stored.map((r) => r.body_index)).toEqual(
      Array.from({ length: 40 }, (_, i) => i).filter((i) => i !== 9 && i !== 30),
    );
    expect(await count("SELECT sum(requests) AS n FROM gatewatch.requests_1m")).toBe(38);
    const letters = await store.queryReadOnly(
      `SELECT reason, detail, raw, raw_bytes, source, partition, batch_seq, body_index, record_index
       FROM gatewatch.dead_letters ORDER BY body_index`,
    );
    expect(letters).toMatchObject([
      {
        reason: "store_rejected",
        raw: rows[9],
        raw_bytes: Buffer.byteLength(rows[9]!),
        source: "file:sample.ndjson",
        partition: "0",
        batch_seq: 7,
        body_index: 9,
        record_index: 0,
      },
      { reason: "store_rejected", raw: rows[30], body_index: 30 },
    ]);
    // The engine's own words, cut to the detail's bound (chdb's text lists the parsed columns after).
    expect(letters[0]!.detail).toMatch(
      /^requests: Code: 27\. DB::Exception: Cannot parse input: .*key status/,
    );
    expect(letters[1]!.detail).toMatch(/^requests: Code: \d+\. DB::Exception: /);
    expect(String(letters[0]!.detail).length).toBeLessThanOrEqual(500);

    // The same batch again (a replay after a crash): every split insert deduplicates.
    await writer.write([encoded(rows)], "file:sample.ndjson:0:7-7:abc");
    expect(await count("SELECT count() AS n FROM gatewatch.requests")).toBe(38);
    expect(await count("SELECT sum(requests) AS n FROM gatewatch.requests_1m")).toBe(38);
    expect(await count("SELECT count() AS n FROM gatewatch.dead_letters")).toBe(2);
  });
});
