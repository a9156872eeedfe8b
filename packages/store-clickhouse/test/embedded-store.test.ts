import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClickHouseStore, LATEST_VERSION, StoreWriter, parseStoreUrl } from "../src/index.js";
import { compactRow } from "../src/rows.js";

// chdb allows one data directory per process; vitest runs each test file in its own process.
const dir = mkdtempSync(join(tmpdir(), "gw-store-"));
let store: ClickHouseStore;

const row = (i: number) =>
  compactRow("dead_letters", {
    received_at: Date.now(),
    reason: "not_json",
    detail: `bad ${i}`,
    raw: "{oops",
    raw_bytes: 5,
    source: "test",
    partition: "0",
    batch_seq: i,
    body_index: 0,
    record_index: -1,
  });

beforeAll(async () => {
  store = await ClickHouseStore.open(parseStoreUrl(`embedded:${dir}`));
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("embedded ClickHouse store", () => {
  it("applies the schema once and is idempotent", async () => {
    const first = await store.migrate();
    expect(first.applied.map((a) => a.version)).toEqual([1, 2, 3, 4, 5]);
    const second = await store.migrate();
    expect(second.applied).toEqual([]);
    expect(await store.schemaVersion()).toBe(LATEST_VERSION);
    const tables = await store.queryReadOnly(
      "SELECT name FROM system.tables WHERE database = 'gatewatch' ORDER BY name",
    );
    expect(tables.map((t) => t.name)).toEqual([
      "alert_events",
      "batch_log",
      "dead_letter_replays",
      "dead_letters",
      "firewall_events",
      "requests",
      "requests_1h",
      "requests_1h_mv",
      "requests_1m",
      "requests_1m_mv",
      "schema_migrations",
      "waf_blocks",
    ]);
  });

  it("writes a batch once however often the same token is inserted", async () => {
    const data = Buffer.from([row(1), row(2)].join("\n") + "\n");
    const writer = new StoreWriter(store);
    await writer.write([{ table: "dead_letters", data, rows: 2 }], "tok-a");
    await writer.write([{ table: "dead_letters", data, rows: 2 }], "tok-a");
    await writer.write([{ table: "dead_letters", data, rows: 2 }], "tok-b");
    const [r] = await store.queryReadOnly("SELECT count() AS n FROM gatewatch.dead_letters");
    expect(r).toEqual({ n: 4 });
  });

  it("fails a row that does not match the schema instead of dropping fields", async () => {
    const writer = new StoreWriter(store);
    const bad = Buffer.from(JSON.stringify([...(JSON.parse(row(9)) as unknown[]), "unknown column"]) + "\n");
    // A refused dead letter has nowhere to go: the writer gives up instead of dead-lettering it.
    await expect(
      writer.write([{ table: "dead_letters", data: bad, rows: 1 }], "tok-bad"),
    ).rejects.toMatchObject({
      code: "store_rejected_data",
      retriable: false,
    });
  });

  it("refuses a schema newer than it knows", async () => {
    // Record a future version the way a newer gatewatch would.
    const future = LATEST_VERSION + 1;
    await expect(
      (async () => {
        await insertMigrationRow(store, future);
        await store.migrate();
      })(),
    ).rejects.toMatchObject({ code: "schema_too_new" });
  });

  it("returns the last logged batch range of a partition", async () => {
    expect(await store.lastLoggedBatch("eventhubs:x", "0")).toBeNull();
    await store.logBatch("eventhubs:x", "0", 10, 19);
    await store.logBatch("eventhubs:x", "0", 20, 24);
    await store.logBatch("eventhubs:x", "1", 100, 200);
    expect(await store.lastLoggedBatch("eventhubs:x", "0")).toEqual({ firstSeq: 20, lastSeq: 24 });
  });

  it("serves the spike detector: per-minute cause counts and the top contributors of a cause", async () => {
    const now = Date.now();
    const req = (i: number, cause: string, pool: string) =>
      JSON.stringify({
        time: now - 1000 * (i % 50),
        gateway: "agw-1",
        cause,
        backend_pool: pool,
        backend_address: `10.0.0.${i % 2}:443`,
        listener: "lst-https",
        host: "shop.example.com",
        status: 502,
        source: "test",
        partition: "p",
        batch_seq: 0,
        body_index: i,
      });
    const rows = [
      ...Array.from({ length: 30 }, (_, i) =>
        req(i, "no_healthy_backend", i < 20 ? "bp-checkout" : "bp-api"),
      ),
      ...Array.from({ length: 5 }, (_, i) => req(100 + i, "success", "bp-api")),
    ];
    await store.insertEncoded("requests", Buffer.from(rows.join("\n") + "\n"), "spike-rows", "JSONEachRow");
    const counts = await store.recentCauseCounts(90);
    const total = (cause: string) =>
      counts.filter((c) => c.cause === cause).reduce((n, c) => n + c.requests, 0);
    expect(total("no_healthy_backend")).toBe(30);
    expect(total("success")).toBe(5);
    expect(counts.every((c) => c.gateway === "agw-1" && c.minute % 60 === 0)).toBe(true);
    const top = await store.topContributors("agw-1", "no_healthy_backend", 300);
    expect(top.filter((t) => t.dimension === "backend_pool")).toEqual([
      { dimension: "backend_pool", value: "bp-checkout", requests: 20 },
      { dimension: "backend_pool", value: "bp-api", requests: 10 },
    ]);
    expect(top.filter((t) => t.dimension === "backend_address").map((t) => t.requests)).toEqual([15, 15]);
    expect(top.find((t) => t.dimension === "host")).toEqual({
      dimension: "host",
      value: "shop.example.com",
      requests: 30,
    });
  });

  it("records alert transitions in the alert history", async () => {
    const base = {
      alert_id: "agw-1/no_healthy_backend/1",
      alertname: "GatewatchCauseSpikeDetected",
      gateway: "agw-1",
      cause: "no_healthy_backend",
      origin: "backend",
      severity: "critical",
      started_at: Date.now() - 60_000,
      count: 40,
      baseline: 2,
      share: 0.2,
      baseline_share: 0.01,
      summary: "s",
      description: "d",
      runbook_url: "docs/causes/no_healthy_backend.md",
      labels: { alertname: "GatewatchCauseSpikeDetected", cause: "no_healthy_backend" },
    };
    await store.recordAlertEvents([
      { ...base, at: Date.now() - 1000, state: "firing" },
      { ...base, at: Date.now(), state: "resolved", count: 1 },
    ]);
    const rows = await store.queryReadOnly(
      "SELECT state, count, labels['cause'] AS cause FROM gatewatch.alert_events ORDER BY at",
    );
    expect(rows).toEqual([
      { state: "firing", count: 40, cause: "no_healthy_backend" },
      { state: "resolved", count: 1, cause: "no_healthy_backend" },
    ]);
  });

  it("refuses statements that are not read-only", async () => {
    await expect(store.queryReadOnly("DROP TABLE gatewatch.requests")).rejects.toMatchObject({
      code: "query_not_read_only",
    });
  });
});

async function insertMigrationRow(s: ClickHouseStore, version: number): Promise<void> {
  // The store exposes no write API for arbitrary tables; reuse insertEncoded's path via the
  // migrations table's JSONEachRow shape.
  await (
    s as unknown as { insertEncoded(t: string, d: Uint8Array, tok: string, f: string): Promise<void> }
  ).insertEncoded(
    "schema_migrations",
    Buffer.from(JSON.stringify({ version, name: "from the future" }) + "\n"),
    `future-${version}`,
    "JSONEachRow",
  );
}
