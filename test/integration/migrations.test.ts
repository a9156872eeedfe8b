/**
 * Schema migrations against a ClickHouse server (the HTTP interface fixture): replicas starting at the
 * same time take turns (each migration is applied once), a held lock is waited for, a stuck one
 * fails with a clear message, and `gatewatch migrate --dry-run` changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from "@clickhouse/client";
import {
  ClickHouseStore,
  LATEST_VERSION,
  MIGRATIONS,
  defaultRetention,
  parseStoreUrl,
} from "@gatewatch/store-clickhouse";
import { startClickHouseHttp, type ClickHouseHttpFixture } from "../fixtures/clickhouse-http/index.js";
import { runCli } from "../helpers/cli.js";

let clickhouse: ClickHouseHttpFixture;
let admin: ClickHouseClient;

beforeAll(async () => {
  clickhouse = await startClickHouseHttp();
  admin = createClient({ url: clickhouse.url, log: { level: ClickHouseLogLevel.OFF } });
});
afterAll(async () => {
  await admin?.close();
  await clickhouse?.stop();
});

const open = (db: string) => ClickHouseStore.open(parseStoreUrl(`${clickhouse.host}/${db}`));

async function versions(db: string): Promise<number[]> {
  const rs = await admin.query({
    query: `SELECT version FROM ${db}.schema_migrations ORDER BY version`,
    format: "JSONEachRow",
  });
  return (await rs.json<{ version: number }>()).map((r) => Number(r.version));
}

describe("schema migrations on a server", { timeout: 120_000 }, () => {
  it("applies each migration once when three replicas start together", async () => {
    const stores = await Promise.all([open("race"), open("race"), open("race")]);
    try {
      const reports = await Promise.all(stores.map((s) => s.migrate()));
      expect(reports.flatMap((r) => r.applied.map((a) => a.version)).sort()).toEqual(
        MIGRATIONS.map((m) => m.version),
      );
      expect(await versions("race")).toEqual(MIGRATIONS.map((m) => m.version));
      expect(reports.every((r) => r.version === LATEST_VERSION)).toBe(true);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it("waits for a migration in progress elsewhere, and fails clearly when the lock is never released", async () => {
    await admin.command({ query: "CREATE DATABASE IF NOT EXISTS locked" });
    await admin.command({
      query: "CREATE TABLE locked.schema_migration_lock (holder String) ENGINE = Memory",
    });
    const store = await open("locked");
    try {
      await expect(store.migrate({ lockTimeoutMs: 1000 })).rejects.toMatchObject({
        code: "migration_locked",
        message: expect.stringContaining("locked.schema_migration_lock") as string,
      });
      const waiting = store.migrate({ lockTimeoutMs: 30_000 });
      await new Promise((r) => setTimeout(r, 700));
      await admin.command({ query: "DROP TABLE locked.schema_migration_lock" });
      expect((await waiting).version).toBe(LATEST_VERSION);
      expect(await versions("locked")).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await store.close();
    }
  });

  it("takes over a lock left behind by a crashed process, but not one whose holder is alive", async () => {
    await admin.command({ query: "CREATE DATABASE IF NOT EXISTS crashed" });
    await admin.command({
      query: "CREATE TABLE crashed.schema_migration_lock (holder String) ENGINE = Memory",
    });
    await new Promise((r) => setTimeout(r, 2200)); // metadata times have one-second resolution
    const store = await open("crashed");
    try {
      expect((await store.migrate({ staleLockSeconds: 1, lockTimeoutMs: 10_000 })).version).toBe(
        LATEST_VERSION,
      );
    } finally {
      await store.close();
    }
    // A live holder keeps touching its lock: a waiter with the same staleness never takes it over.
    const [a, b] = await Promise.all([open("alive"), open("alive")]);
    try {
      await clickhouse.fault("stall", 1_000_000, 400); // every statement slow: the migration takes seconds
      const first = a.migrate({ staleLockSeconds: 2 });
      await new Promise((r) => setTimeout(r, 300));
      const second = b.migrate({ staleLockSeconds: 2, lockTimeoutMs: 60_000 });
      const reports = await Promise.all([first, second]);
      await clickhouse.fault("none");
      expect(reports.flatMap((r) => r.applied.map((x) => x.version)).sort()).toEqual(
        MIGRATIONS.map((m) => m.version),
      );
      expect(await versions("alive")).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await clickhouse.fault("none");
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("upgrades a schema v1 database that holds data, keeping the rows and backfilling the new rollup", async () => {
    // What a first release of gatewatch left behind: schema v1 and some requests.
    await admin.command({ query: "CREATE DATABASE legacy" });
    await admin.command({
      query:
        "CREATE TABLE legacy.schema_migrations (version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY version",
    });
    for (const sql of MIGRATIONS[0]!.statements("legacy", defaultRetention))
      await admin.command({ query: sql });
    await admin.insert({
      table: "legacy.schema_migrations",
      values: [{ version: 1, name: "v1" }],
      format: "JSONEachRow",
    });
    const hour = Date.UTC(2026, 9, 1, 8);
    await admin.insert({
      table: "legacy.requests",
      format: "JSONEachRow",
      values: Array.from({ length: 120 }, (_, i) => ({
        time: hour + i * 60_000, // two hours of minutes
        gateway: "agw-old",
        cause: i % 4 === 0 ? "backend_timeout" : "success",
        status: i % 4 === 0 ? 504 : 200,
        source: "file",
        partition: "old.ndjson",
        body_index: i,
      })),
    });
    const store = await open("legacy");
    try {
      expect((await store.migrate()).applied.map((a) => a.version)).toEqual(
        MIGRATIONS.filter((m) => m.version > 1).map((m) => m.version),
      );
      const totals = async (table: string, measure: string) => {
        const rs = await admin.query({
          query: `SELECT cause, toUInt64(${measure}) AS n FROM legacy.${table} GROUP BY cause ORDER BY cause`,
          format: "JSONEachRow",
        });
        return (await rs.json<{ cause: string; n: number }>()).map((r) => [r.cause, Number(r.n)]);
      };
      const raw = await totals("requests", "count()");
      expect(raw).toEqual([
        ["backend_timeout", 30],
        ["success", 90],
      ]);
      expect(await totals("requests_1m", "sum(requests)")).toEqual(raw);
      expect(await totals("requests_1h", "sum(requests)")).toEqual(raw);
    } finally {
      await store.close();
    }
  });

  it("gatewatch migrate --dry-run lists the pending SQL and changes nothing", async () => {
    const store = `${clickhouse.host}/dryrun`;
    const dry = await runCli(["migrate", "--dry-run", "--store", store]);
    expect(dry.code, dry.stderr).toBe(0);
    const lines = dry.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { version?: number; statements?: string[]; pending?: number });
    expect(lines.filter((l) => l.statements).map((l) => l.version)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(lines.at(-1)).toMatchObject({ version: 0, pending: MIGRATIONS.length });
    const rs = await admin.query({ query: "EXISTS DATABASE dryrun", format: "JSONEachRow" });
    expect(await rs.json()).toEqual([{ result: 0 }]);
    const real = await runCli(["migrate", "--store", store]);
    expect(real.code, real.stderr).toBe(0);
    const again = await runCli(["migrate", "--dry-run", "--store", store]);
    expect(JSON.parse(again.stdout.trim())).toMatchObject({ version: LATEST_VERSION, pending: 0 });
  });
});

describe("cluster layout", { timeout: 120_000 }, () => {
  it("--store-cluster renders ON CLUSTER replicated tables behind Distributed ones, and a cluster the server lacks fails clearly", async () => {
    const store = `${clickhouse.host}/clu`;
    const dry = await runCli(["migrate", "--dry-run", "--store", store, "--store-cluster", "gw_cluster"]);
    expect(dry.code, dry.stderr).toBe(0);
    const sql = dry.stdout
      .trim()
      .split("\n")
      .flatMap((l) => (JSON.parse(l) as { statements?: string[] }).statements ?? [])
      .join("\n");
    expect(sql).toContain("CREATE TABLE IF NOT EXISTS clu.requests_local ON CLUSTER 'gw_cluster'");
    expect(sql).toMatch(
      /ReplicatedMergeTree\('\/clickhouse\/tables\/\{shard\}\/\{database\}\/requests_local', '\{replica\}'\)/,
    );
    expect(sql).toMatch(
      /ENGINE = Distributed\('gw_cluster', 'clu', 'requests_local', cityHash64\(source, partition\)\)/,
    );
    expect(sql).toContain("-- on one replica of every shard:");
    // This server has no cluster: the DDL is refused by ClickHouse, with its reason.
    const real = await runCli(["migrate", "--store", store, "--store-cluster", "gw_cluster"]);
    expect(real.code).toBe(1);
    expect(real.stderr).toMatch(/CLUSTER_DOESNT_EXIST|gw_cluster/);
    const embedded = await runCli([
      "migrate",
      "--store",
      "embedded:/nonexistent/x",
      "--store-cluster",
      "gw_cluster",
    ]);
    expect(embedded.code).toBe(2);
    expect(embedded.stderr).toContain("GATEWATCH_STORE_CLUSTER needs a ClickHouse server store");
  });
});
