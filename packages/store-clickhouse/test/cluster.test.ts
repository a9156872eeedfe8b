import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BOOTSTRAP_DDL,
  ClickHouseStore,
  MIGRATIONS,
  Tables,
  clusterStatements,
  defaultRetention,
  parseStoreUrl,
  renderStatement,
  type ClusterStatement,
  type Retention,
} from "../src/index.js";

// No cluster runs here: the embedded engine parses each cluster statement (formatQuery) without
// executing it. chdb allows one data directory per process; vitest runs each file in its own.
const dir = mkdtempSync(join(tmpdir(), "gw-cluster-"));
let store: ClickHouseStore;

beforeAll(async () => {
  store = await ClickHouseStore.open(parseStoreUrl(`embedded:${dir}`));
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const CLUSTER = "gw_cluster";
const DB = "gatewatch";
const otherRetention: Retention = {
  requestsDays: 7,
  firewallDays: 8,
  rollupDays: 9,
  rollupHourDays: 10,
  deadLetterDays: 11,
};

const rendered: { label: string; statements: ClusterStatement[] }[] = [
  { label: "bootstrap", statements: clusterStatements(BOOTSTRAP_DDL, DB, CLUSTER) },
  ...MIGRATIONS.map((m) => ({
    label: `migration ${m.version}`,
    statements: clusterStatements(m.ddl(defaultRetention), DB, CLUSTER),
  })),
];
const all = rendered.flatMap((r) => r.statements);

async function format(sql: string): Promise<string> {
  const [row] = await store.queryReadOnly("SELECT formatQuery({q:String}) AS f", { q: sql });
  return String(row?.f);
}

describe("single-server rendering", () => {
  // sha256 of JSON [statements("gatewatch", defaultRetention), statements("other_db", 7..11 days)],
  // taken from schema.ts before its statements were structured: existing databases were built with
  // exactly this text.
  const before: Record<number, string> = {
    1: "0e1267ec93cda9ea5b82a2d43a466da9be6b314fa7521511a6fd3a67d27a5d4c",
    2: "835e30516f649a320573444afa4826c7948ab76104149c735c9890780833f93a",
    3: "846fd9070e8f91d3f249562685f06422e3e6d561ef50e2d20c916bd3c14b7523",
    4: "b16469db9067a1cedd6fb67d380758c322189c1cab91c2b79a454053401b79d2",
    5: "c6c74451bc5099f624bf3aa3f3fcf1f69ef819b3632b41e1a863a41021e15d59",
  };

  it.each(MIGRATIONS.map((m) => [m.version, m] as const))("renders migration %i unchanged", (version, m) => {
    const text = JSON.stringify([
      m.statements(DB, defaultRetention),
      m.statements("other_db", otherRetention),
    ]);
    expect(createHash("sha256").update(text).digest("hex")).toBe(before[version]);
  });

  it("renders the bootstrap statements as the store runs them", () => {
    expect(BOOTSTRAP_DDL.map((s) => renderStatement(s, DB))).toEqual([
      `CREATE DATABASE IF NOT EXISTS ${DB}`,
      `CREATE TABLE IF NOT EXISTS ${DB}.${Tables.migrations} (version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY version`,
    ]);
  });
});

describe("cluster rendering", () => {
  it("is checked by a parser that refuses malformed DDL", async () => {
    // ClickHouse error 62: SYNTAX_ERROR.
    await expect(format("CREATE TABLE t ON CLUSTER 'c' (a UInt8 ENGINE = MergeTree")).rejects.toMatchObject({
      cause: { code: "62" },
    });
  });

  it.each(rendered.map((r) => [r.label, r.statements] as const))(
    "parses every statement of %s in the embedded engine",
    async (_label, statements) => {
      expect(statements.length).toBeGreaterThan(0);
      for (const { sql } of statements) {
        const formatted = await format(sql);
        expect(formatted, sql).toMatch(/^(CREATE|INSERT)/);
        if (sql.startsWith("CREATE")) expect(formatted, sql).toContain("ON CLUSTER gw_cluster");
      }
    },
  );

  it("puts every raw and rollup table on replicated shard-local tables behind Distributed tables", async () => {
    const migrationTables = MIGRATIONS.flatMap((m) => m.ddl(defaultRetention)).flatMap((s) =>
      s.kind === "create_table" ? [s.table] : [],
    );
    expect(migrationTables).toHaveLength(8);
    for (const table of migrationTables) {
      const local = all.find((s) => s.sql.startsWith(`CREATE TABLE IF NOT EXISTS ${DB}.${table}_local `));
      const front = all.find((s) => s.sql.startsWith(`CREATE TABLE IF NOT EXISTS ${DB}.${table} `));
      const localSql = await format(local!.sql);
      expect(localSql).toMatch(
        /ENGINE = Replicated(Aggregating)?MergeTree\('\/clickhouse\/tables\/\{shard\}\//,
      );
      expect(localSql).toContain(`/{database}/${table}_local', '{replica}')`);
      const frontSql = await format(front!.sql);
      expect(frontSql).toContain(`AS ${DB}.${table}_local`);
      expect(frontSql).toContain(`ENGINE = Distributed('${CLUSTER}', '${DB}', '${table}_local'`);
    }
  });

  it("keeps the deduplication window, as a replicated one", () => {
    const requests = all.find((s) =>
      s.sql.startsWith(`CREATE TABLE IF NOT EXISTS ${DB}.requests_local `),
    )!.sql;
    expect(requests).toContain("SETTINGS replicated_deduplication_window = 10000");
    expect(all.some((s) => s.sql.includes("non_replicated_deduplication_window"))).toBe(false);
  });

  it("shards the lane tables by (source, partition) and leaves the rollups' fronts without a key", () => {
    const front = (table: string) =>
      all.find((s) => s.sql.startsWith(`CREATE TABLE IF NOT EXISTS ${DB}.${table} ON CLUSTER`))!.sql;
    for (const t of [
      Tables.requests,
      Tables.firewallEvents,
      Tables.deadLetters,
      Tables.batchLog,
      Tables.deadLetterReplays,
    ])
      expect(front(t)).toMatch(/, cityHash64\(source, partition\)\)$/);
    for (const t of [Tables.requests1m, Tables.requests1h]) expect(front(t)).toMatch(/'\)$/);
  });

  it("creates the materialized views on the shard-local tables", () => {
    const views = all.filter((s) => s.sql.startsWith("CREATE MATERIALIZED VIEW"));
    expect(views.map((v) => v.sql.split(" AS\n")[0])).toEqual([
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${DB}.requests_1m_mv ON CLUSTER '${CLUSTER}' TO ${DB}.requests_1m_local`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${DB}.requests_1h_mv ON CLUSTER '${CLUSTER}' TO ${DB}.requests_1h_local`,
    ]);
    for (const v of views) {
      expect(v.sql).toContain(`FROM ${DB}.requests_local\n`);
      expect(v.runOn).toBe("any_node");
    }
  });

  it("has the waf_blocks view read the Distributed tables", () => {
    const view = all.find((s) => s.sql.startsWith(`CREATE VIEW IF NOT EXISTS ${DB}.${Tables.wafBlocks}`))!;
    expect(view.sql).toContain(`FROM ${DB}.requests\n`);
    expect(view.sql).toContain(`FROM ${DB}.firewall_events WHERE`);
    expect(view.sql).not.toContain("_local");
  });

  it("runs the hourly backfill on each shard, local table to local table", () => {
    const backfills = all.filter((s) => s.sql.startsWith("INSERT"));
    expect(backfills).toHaveLength(1);
    expect(backfills[0]!.runOn).toBe("each_shard");
    expect(backfills[0]!.sql).toMatch(/^INSERT INTO gatewatch\.requests_1h_local\n/);
    expect(backfills[0]!.sql).toContain("FROM gatewatch.requests_local\n");
    expect(backfills[0]!.sql).toContain("(SELECT count() FROM gatewatch.requests_1h_local) = 0");
    expect(all.filter((s) => s.runOn === "each_shard")).toEqual(backfills);
  });

  it("replicates schema_migrations to every node and creates the database on the cluster", async () => {
    const [database, migrations] = clusterStatements(BOOTSTRAP_DDL, DB, CLUSTER);
    expect(await format(database!.sql)).toBe(`CREATE DATABASE IF NOT EXISTS ${DB} ON CLUSTER ${CLUSTER}`);
    const formatted = await format(migrations!.sql);
    expect(formatted).toContain(`CREATE TABLE IF NOT EXISTS ${DB}.schema_migrations ON CLUSTER ${CLUSTER}`);
    expect(formatted).toContain(
      "ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/schema_migrations', '{shard}-{replica}')",
    );
    expect(all.some((s) => s.sql.includes("schema_migrations_local"))).toBe(false);
  });

  it.each(["", "gw-cluster", "1cluster", "gw cluster", "gw'; DROP TABLE x; --", "{cluster}"])(
    "refuses the cluster name %j",
    (name) => {
      expect(() => clusterStatements(BOOTSTRAP_DDL, DB, name)).toThrow(
        expect.objectContaining({ code: "cluster_name_invalid" }),
      );
    },
  );

  it("refuses a database name that is not an identifier", () => {
    expect(() => clusterStatements(BOOTSTRAP_DDL, "gw-db", CLUSTER)).toThrow(
      expect.objectContaining({ code: "cluster_name_invalid" }),
    );
  });
});
