/**
 * The schema rendered for a ClickHouse cluster (`--cluster NAME`): the same tables, views and
 * migrations as on a single server, laid out as replicated shard-local tables behind Distributed
 * tables. Pure: it renders SQL and runs nothing.
 *
 * Layout, per table of {@link SchemaStatement}:
 * - `db.t_local`: Replicated(Aggregating)MergeTree at `/clickhouse/tables/{shard}/{database}/t_local`,
 *   replica `{replica}`, created ON CLUSTER; it keeps the single-server columns, ORDER BY, partitions
 *   and TTL, and a `replicated_deduplication_window` in place of the non-replicated one.
 * - `db.t`: a Distributed table over `t_local`, with the name the single-server table has, so that
 *   inserts and queries address the same names in both modes. Its sharding key comes from the
 *   table's {@link Placement}: `cityHash64(source, partition)` for the tables written per partition
 *   lane. Every row of one insert shares that key, so the whole block lands on one shard and the
 *   shard deduplicates a retried block by its `insert_deduplication_token` as a single server does
 *   (a key that split a block by row, or `rand()`, would send different rows under the same token
 *   on a retry, and the shard would drop rows it never stored).
 * - Materialized views are created ON CLUSTER on the `_local` tables, reading `requests_local` and
 *   writing `requests_1m_local`: each shard rolls up its own rows, and its rollup deduplicates the
 *   derived block of a retried insert with `deduplicate_blocks_in_dependent_materialized_views`. A
 *   key (gateway, minute, ...) then has partial rows on several shards; the rollup queries already
 *   merge rows of one key (sum, quantilesMerge, GROUP BY), so reading the Distributed rollup is
 *   correct. The rollups' Distributed tables have no sharding key: only the views write them.
 * - Plain views (`waf_blocks`) are created ON CLUSTER and read the Distributed tables.
 * - Backfills (`INSERT ... SELECT`) read and write the `_local` tables and must be run on one
 *   replica of each shard (`runOn: "each_shard"`): INSERT has no ON CLUSTER, and a backfill through
 *   the Distributed tables would move rollup rows away from the raw rows they summarise.
 * - `schema_migrations` is one ReplicatedMergeTree with a replica on every node (no shard in its
 *   path; replica `{shard}-{replica}`, unique even where `{replica}` repeats across shards), so any
 *   node reads the applied version locally.
 */
import { GatewatchError } from "@gatewatch/pipeline";
import { DEDUP_WINDOW, type Placement, type SchemaStatement, type TableRef } from "./schema.js";

/** One statement of the cluster schema and where to run it. */
export interface ClusterStatement {
  /**
   * `any_node`: run once on any node (DDL with ON CLUSTER reaches every node through the
   * distributed DDL queue). `each_shard`: run once on one replica of every shard.
   */
  readonly runOn: "any_node" | "each_shard";
  readonly sql: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Suffix of the shard-local table behind each Distributed table. */
export const LOCAL_SUFFIX = "_local";

/** Throws `cluster_name_invalid` unless `cluster` is a plain identifier (it is spliced into DDL). */
export function assertClusterName(cluster: string): void {
  if (!IDENTIFIER.test(cluster)) {
    throw new GatewatchError(
      "cluster_name_invalid",
      `cluster name ${JSON.stringify(cluster)} must be an identifier (letters, digits, underscore; not starting with a digit)`,
    );
  }
}

/**
 * Renders schema statements (a migration's `ddl(retention)`, or `BOOTSTRAP_DDL`) for the cluster
 * `cluster` and database `db`, in order. Throws `cluster_name_invalid` for a cluster or database
 * name that is not an identifier.
 */
export function clusterStatements(
  statements: readonly SchemaStatement[],
  db: string,
  cluster: string,
): ClusterStatement[] {
  assertClusterName(cluster);
  if (!IDENTIFIER.test(db))
    throw new GatewatchError(
      "cluster_name_invalid",
      `database name ${JSON.stringify(db)} must be an identifier`,
    );
  return statements.flatMap((s) => render(s, db, cluster));
}

function render(s: SchemaStatement, db: string, cluster: string): ClusterStatement[] {
  const on = `ON CLUSTER '${cluster}'`;
  const local: TableRef = (table) => `${db}.${table}${LOCAL_SUFFIX}`;
  const distributed: TableRef = (table) => `${db}.${table}`;
  const anyNode = (sql: string): ClusterStatement => ({ runOn: "any_node", sql });
  switch (s.kind) {
    case "create_database":
      return [anyNode(`CREATE DATABASE IF NOT EXISTS ${db} ${on}`)];
    case "create_table": {
      const sep = s.oneLine ? " " : "\n";
      const name = s.placement.kind === "everywhere" ? s.table : `${s.table}${LOCAL_SUFFIX}`;
      const replicated = [
        `CREATE TABLE IF NOT EXISTS ${db}.${name} ${on}`,
        s.columns,
        `ENGINE = Replicated${s.engine}(${replication(s.placement, name)})`,
        ...s.clauses,
        ...(s.dedupWindow ? [`SETTINGS replicated_deduplication_window = ${DEDUP_WINDOW}`] : []),
      ].join(sep);
      if (s.placement.kind === "everywhere") return [anyNode(replicated)];
      const key = s.placement.kind === "sharded" ? `, ${s.placement.key}` : "";
      return [
        anyNode(replicated),
        anyNode(
          `CREATE TABLE IF NOT EXISTS ${db}.${s.table} ${on} AS ${db}.${name}${sep}` +
            `ENGINE = Distributed('${cluster}', '${db}', '${name}'${key})`,
        ),
      ];
    }
    case "create_materialized_view":
      return [
        anyNode(
          `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${s.view} ${on} TO ${local(s.target)} AS\n${s.select(local)}`,
        ),
      ];
    case "create_view":
      return [anyNode(`CREATE VIEW IF NOT EXISTS ${db}.${s.view} ${on} AS\n${s.select(distributed)}`)];
    case "backfill":
      return [
        {
          runOn: "each_shard",
          sql: `INSERT INTO ${local(s.target)}\n${s.select(local)}\nSETTINGS insert_deduplicate = 0`,
        },
      ];
    default:
      return unreachable(s);
  }
}

/** The Keeper path and replica name of a replicated table. */
function replication(placement: Placement, table: string): string {
  return placement.kind === "everywhere"
    ? `'/clickhouse/tables/all/{database}/${table}', '{shard}-{replica}'`
    : `'/clickhouse/tables/{shard}/{database}/${table}', '{replica}'`;
}

function unreachable(s: never): never {
  throw new Error(`unrendered schema statement ${JSON.stringify(s)}`);
}
