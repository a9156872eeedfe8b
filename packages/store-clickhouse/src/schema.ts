/**
 * Schema v1 and its migrations. Each migration is a list of idempotent statements; the applied
 * versions are recorded in `schema_migrations`. Statements are structured ({@link SchemaStatement}) so
 * that the same schema renders for a single server ({@link renderStatement}) and for a cluster
 * (`clusterStatements`, cluster.ts); the single-server text is what existing databases were built with.
 *
 * Layout choices: daily partitions so TTL drops whole parts; retention counts from when a row was
 * stored (`ingested_at`), not from the event time, so a backfill of old logs is kept for the
 * retention period instead of being dropped at insert; ORDER BY (gateway, hour, cause, time)
 * serves "one gateway, a time range, by cause"; LowCardinality for bounded strings; ZSTD for long
 * text; a non-replicated deduplication window so a repeated insert with the same
 * `insert_deduplication_token` writes nothing (and, with
 * `deduplicate_blocks_in_dependent_materialized_views`, the rollup is not counted twice either).
 */

/** Table names. */
export const Tables = {
  requests: "requests",
  firewallEvents: "firewall_events",
  deadLetters: "dead_letters",
  requests1m: "requests_1m",
  requests1h: "requests_1h",
  wafBlocks: "waf_blocks",
  migrations: "schema_migrations",
  migrationLock: "schema_migration_lock",
  batchLog: "batch_log",
  alertEvents: "alert_events",
  deadLetterReplays: "dead_letter_replays",
} as const;
export type InsertTable = typeof Tables.requests | typeof Tables.firewallEvents | typeof Tables.deadLetters;

/** Retention of each table, days. */
export interface Retention {
  /** @default 30 */
  readonly requestsDays: number;
  /** @default 30 */
  readonly firewallDays: number;
  /** Per-minute rollup. @default 90 */
  readonly rollupDays: number;
  /** Per-hour rollup. @default 730 */
  readonly rollupHourDays: number;
  /** @default 14 */
  readonly deadLetterDays: number;
}

/** Default {@link Retention}. */
export const defaultRetention: Retention = {
  requestsDays: 30,
  firewallDays: 30,
  rollupDays: 90,
  rollupHourDays: 730,
  deadLetterDays: 14,
};

/**
 * Inserts retried after a failure are deduplicated against the last N blocks of each table. A
 * replayed file of up to this many batches is written once.
 */
export const DEDUP_WINDOW = 10_000;

/**
 * Where a table's rows live on a cluster (rendered by `clusterStatements`; a single server ignores it).
 * - `sharded`: a replicated table per shard behind a Distributed table that routes each insert by `key`.
 * - `fed_by_views`: a replicated table per shard written only by materialized views on the same shard;
 *   its Distributed table has no sharding key, so a direct insert into it is refused on a multi-shard
 *   cluster rather than spread rows away from the raw rows they summarise.
 * - `everywhere`: one replicated table with a replica on every node and no Distributed table.
 */
export type Placement =
  | { readonly kind: "sharded"; readonly key: string }
  | { readonly kind: "fed_by_views" }
  | { readonly kind: "everywhere" };

/**
 * Names a table inside a query: `db.table` on a single server; the cluster renderer chooses the
 * shard-local table (materialized views, backfills) or the Distributed one (plain views).
 */
export type TableRef = (table: string) => string;

/**
 * One schema statement, structured so that it renders both for a single server (`statements`) and
 * for a cluster (`clusterStatements`). A new kind of statement (an ALTER, say) must be added here and
 * to both renderers; the cluster renderer's exhaustive switch makes forgetting it a type error.
 */
export type SchemaStatement =
  | { readonly kind: "create_database" }
  | {
      readonly kind: "create_table";
      readonly table: string;
      /** The parenthesised column and index list. */
      readonly columns: string;
      readonly engine: "MergeTree" | "AggregatingMergeTree";
      /** PARTITION BY, ORDER BY, TTL: everything after the engine but the settings. */
      readonly clauses: readonly string[];
      /** Keeps a deduplication window of {@link DEDUP_WINDOW} blocks. */
      readonly dedupWindow: boolean;
      readonly placement: Placement;
      /** Rendered on one line (the bootstrap `schema_migrations` table). */
      readonly oneLine?: boolean;
    }
  | {
      readonly kind: "create_materialized_view";
      readonly view: string;
      readonly target: string;
      readonly select: (from: TableRef) => string;
    }
  | { readonly kind: "create_view"; readonly view: string; readonly select: (from: TableRef) => string }
  | {
      /** `INSERT INTO target SELECT ...`, written to be a no-op when run again. */
      readonly kind: "backfill";
      readonly target: string;
      readonly select: (from: TableRef) => string;
    };

/** One schema migration. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  /** The structured statements (for {@link renderStatement} or `clusterStatements`). */
  readonly ddl: (retention: Retention) => readonly SchemaStatement[];
  /** The statements rendered for a single server or the embedded engine. */
  readonly statements: (db: string, retention: Retention) => string[];
}

/** The setting of a deduplication window on a single server. */
const dedup = `non_replicated_deduplication_window = ${DEDUP_WINDOW}`;

/**
 * Cluster placement of the tables written per partition lane: every row of one insert carries the
 * same (source, partition), so a whole block goes to one shard and is deduplicated there by its
 * token exactly as on a single server; a batch's requests, firewall events and dead letters, and a
 * lane's batch log and dead-letter replays, land on the same shard.
 */
const BY_LANE: Placement = { kind: "sharded", key: "cityHash64(source, partition)" };
/** Cluster placement of the rollups, written only by materialized views on their shard. */
const FED_BY_VIEWS: Placement = { kind: "fed_by_views" };

/** Renders a statement for a single server or the embedded engine. */
export function renderStatement(s: SchemaStatement, db: string): string {
  const from: TableRef = (table) => `${db}.${table}`;
  switch (s.kind) {
    case "create_database":
      return `CREATE DATABASE IF NOT EXISTS ${db}`;
    case "create_table": {
      const parts = [
        `CREATE TABLE IF NOT EXISTS ${db}.${s.table}`,
        s.columns,
        `ENGINE = ${s.engine}`,
        ...s.clauses,
        ...(s.dedupWindow ? [`SETTINGS ${dedup}`] : []),
      ];
      return parts.join(s.oneLine ? " " : "\n");
    }
    case "create_materialized_view":
      return `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${s.view} TO ${db}.${s.target} AS\n${s.select(from)}`;
    case "create_view":
      return `CREATE VIEW IF NOT EXISTS ${db}.${s.view} AS\n${s.select(from)}`;
    case "backfill":
      return `INSERT INTO ${db}.${s.target}\n${s.select(from)}\nSETTINGS insert_deduplicate = 0`;
  }
}

function createTable(t: Omit<Extract<SchemaStatement, { kind: "create_table" }>, "kind">): SchemaStatement {
  return { kind: "create_table", ...t };
}

function migration(m: Omit<Migration, "statements">): Migration {
  return { ...m, statements: (db, r) => m.ddl(r).map((s) => renderStatement(s, db)) };
}

/**
 * What `migrate` creates before any migration: the database and the table of applied versions.
 * On a cluster the version table is replicated to every node, so each sees the same version.
 */
export const BOOTSTRAP_DDL: readonly SchemaStatement[] = [
  { kind: "create_database" },
  {
    kind: "create_table",
    table: Tables.migrations,
    columns: "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))",
    engine: "MergeTree",
    clauses: ["ORDER BY version"],
    dedupWindow: false,
    placement: { kind: "everywhere" },
    oneLine: true,
  },
];

/** Columns of the per-minute and per-hour rollups, keyed by their time bucket column. */
function rollupColumns(bucket: "minute" | "hour"): string {
  return `(
  ${bucket} DateTime('UTC'),
  gateway LowCardinality(String),
  listener LowCardinality(String),
  backend_pool LowCardinality(String),
  cause LowCardinality(String),
  origin LowCardinality(String),
  status UInt16,
  requests SimpleAggregateFunction(sum, UInt64),
  received_bytes SimpleAggregateFunction(sum, UInt64),
  sent_bytes SimpleAggregateFunction(sum, UInt64),
  time_taken AggregateFunction(quantiles(0.5, 0.9, 0.99), Float64),
  backend_latency AggregateFunction(quantiles(0.5, 0.9, 0.99), Float64),
  last_ingested_at SimpleAggregateFunction(max, DateTime('UTC'))
)`;
}

/** All migrations, in order. */
export const MIGRATIONS: readonly Migration[] = [
  migration({
    version: 1,
    name: "requests, firewall events, dead letters, per-minute rollup",
    ddl: (r) => [
      createTable({
        table: Tables.requests,
        columns: `(
  time DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
  gateway LowCardinality(String),
  kind LowCardinality(String),
  sku LowCardinality(String),
  cause LowCardinality(String),
  origin LowCardinality(String),
  rule LowCardinality(String),
  status UInt16,
  backend_status Nullable(UInt16),
  error_info LowCardinality(String),
  evidence Array(String),
  listener LowCardinality(String),
  rule_name LowCardinality(String),
  backend_pool LowCardinality(String),
  backend_setting LowCardinality(String),
  instance_id LowCardinality(String),
  backend_address String,
  client_ip String,
  client_port UInt16,
  http_method LowCardinality(String),
  http_version LowCardinality(String),
  request_uri String CODEC(ZSTD(3)),
  request_query String CODEC(ZSTD(3)),
  host LowCardinality(String),
  original_host LowCardinality(String),
  user_agent String CODEC(ZSTD(3)),
  received_bytes UInt64,
  sent_bytes UInt64,
  time_taken Nullable(Float64),
  backend_latency Nullable(Float64),
  ssl_client_verify String,
  ssl_protocol LowCardinality(String),
  ssl_cipher LowCardinality(String),
  waf_mode LowCardinality(String),
  transaction_id String,
  source LowCardinality(String),
  partition LowCardinality(String),
  batch_seq UInt64,
  body_index UInt32,
  record_index UInt32,
  ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),
  INDEX idx_transaction transaction_id TYPE bloom_filter(0.01) GRANULARITY 4
)`,
        engine: "MergeTree",
        clauses: [
          `PARTITION BY toDate(time)`,
          `ORDER BY (gateway, toStartOfHour(time), cause, time)`,
          `TTL toDateTime(ingested_at) + INTERVAL ${r.requestsDays} DAY`,
        ],
        dedupWindow: true,
        placement: BY_LANE,
      }),
      createTable({
        table: Tables.firewallEvents,
        columns: `(
  time DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
  gateway LowCardinality(String),
  action LowCardinality(String),
  raw_action LowCardinality(String),
  rule_id LowCardinality(String),
  rule_group LowCardinality(String),
  rule_set_type LowCardinality(String),
  rule_set_version LowCardinality(String),
  message String CODEC(ZSTD(3)),
  details_message String CODEC(ZSTD(3)),
  details_data String CODEC(ZSTD(3)),
  details_file LowCardinality(String),
  details_line String,
  hostname LowCardinality(String),
  request_uri String CODEC(ZSTD(3)),
  client_ip String,
  transaction_id String,
  policy_id LowCardinality(String),
  policy_scope LowCardinality(String),
  policy_scope_name LowCardinality(String),
  instance_id LowCardinality(String),
  source LowCardinality(String),
  partition LowCardinality(String),
  batch_seq UInt64,
  body_index UInt32,
  record_index UInt32,
  ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),
  INDEX idx_transaction transaction_id TYPE bloom_filter(0.01) GRANULARITY 4
)`,
        engine: "MergeTree",
        clauses: [
          `PARTITION BY toDate(time)`,
          `ORDER BY (gateway, toStartOfHour(time), action, time)`,
          `TTL toDateTime(ingested_at) + INTERVAL ${r.firewallDays} DAY`,
        ],
        dedupWindow: true,
        placement: BY_LANE,
      }),
      createTable({
        table: Tables.deadLetters,
        columns: `(
  received_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
  reason LowCardinality(String),
  detail String,
  raw String CODEC(ZSTD(3)),
  raw_bytes UInt32,
  source LowCardinality(String),
  partition LowCardinality(String),
  batch_seq UInt64,
  body_index UInt32,
  record_index Int32
)`,
        engine: "MergeTree",
        clauses: [
          `PARTITION BY toDate(received_at)`,
          `ORDER BY (reason, received_at)`,
          `TTL toDateTime(received_at) + INTERVAL ${r.deadLetterDays} DAY`,
        ],
        dedupWindow: true,
        placement: BY_LANE,
      }),
      createTable({
        table: Tables.requests1m,
        columns: rollupColumns("minute"),
        engine: "AggregatingMergeTree",
        clauses: [
          `PARTITION BY toYYYYMM(minute)`,
          `ORDER BY (gateway, minute, cause, status, listener, backend_pool, origin)`,
          `TTL last_ingested_at + INTERVAL ${r.rollupDays} DAY`,
        ],
        dedupWindow: true,
        placement: FED_BY_VIEWS,
      }),
      {
        kind: "create_materialized_view",
        view: `${Tables.requests1m}_mv`,
        target: Tables.requests1m,
        select: (from) => `SELECT
  toStartOfMinute(time) AS minute,
  gateway, listener, backend_pool, cause, origin, status,
  count() AS requests,
  sum(received_bytes) AS received_bytes,
  sum(sent_bytes) AS sent_bytes,
  quantilesStateIf(0.5, 0.9, 0.99)(assumeNotNull(time_taken), time_taken IS NOT NULL) AS time_taken,
  quantilesStateIf(0.5, 0.9, 0.99)(assumeNotNull(backend_latency), backend_latency IS NOT NULL) AS backend_latency,
  max(toDateTime(ingested_at)) AS last_ingested_at
FROM ${from(Tables.requests)}
GROUP BY minute, gateway, listener, backend_pool, cause, origin, status`,
      },
    ],
  }),
  migration({
    version: 2,
    name: "batch log: the range of each live batch, written before its rows",
    // A live source (Event Hubs) cuts batches by arrival, so after a crash it would cut the
    // unfinished batch differently and its deduplication token would not match. The log keeps the
    // last range per partition so the restarted source cuts that batch again exactly.
    ddl: (r) => [
      createTable({
        table: Tables.batchLog,
        columns: `(
  source LowCardinality(String),
  partition LowCardinality(String),
  first_seq UInt64,
  last_seq UInt64,
  logged_at DateTime64(3, 'UTC') DEFAULT now64(3)
)`,
        engine: "MergeTree",
        clauses: [
          `ORDER BY (source, partition, first_seq)`,
          `TTL toDateTime(logged_at) + INTERVAL ${r.deadLetterDays} DAY`,
        ],
        dedupWindow: false,
        placement: BY_LANE,
      }),
    ],
  }),
  migration({
    version: 3,
    name: "alert events: every firing and resolved transition of the in-service spike detector",
    ddl: (r) => [
      createTable({
        table: Tables.alertEvents,
        columns: `(
  at DateTime64(3, 'UTC'),
  alert_id String,
  state LowCardinality(String),
  alertname LowCardinality(String),
  gateway LowCardinality(String),
  cause LowCardinality(String),
  origin LowCardinality(String),
  severity LowCardinality(String),
  started_at DateTime64(3, 'UTC'),
  count Float64,
  baseline Float64,
  share Float64,
  baseline_share Float64,
  summary String,
  description String,
  runbook_url String,
  labels Map(String, String)
)`,
        engine: "MergeTree",
        clauses: [
          `PARTITION BY toYYYYMM(at)`,
          `ORDER BY (at, alert_id)`,
          `TTL toDateTime(at) + INTERVAL ${r.rollupDays} DAY`,
        ],
        dedupWindow: false,
        placement: { kind: "sharded", key: "cityHash64(alert_id)" },
      }),
    ],
  }),
  migration({
    version: 4,
    name: "per-hour rollup (backfilled from requests) and the waf_blocks view",
    // The hourly rollup reads `requests`, not the minute rollup, so both stay consistent with the
    // raw table. A replayed insert (same token) is skipped in all three only with
    // deduplicate_blocks_in_dependent_materialized_views = 1 on the insert (INSERT_SETTINGS) and a
    // deduplication window on each view's target table: chdb 26.7 with 0 skips the raw block but
    // still feeds the views. Yearly partitions keep the part count low over two years.
    ddl: (r) => [
      createTable({
        table: Tables.requests1h,
        columns: rollupColumns("hour"),
        engine: "AggregatingMergeTree",
        clauses: [
          `PARTITION BY toYear(hour)`,
          `ORDER BY (gateway, hour, cause, status, listener, backend_pool, origin)`,
          `TTL last_ingested_at + INTERVAL ${r.rollupHourDays} DAY`,
        ],
        dedupWindow: true,
        placement: FED_BY_VIEWS,
      }),
      // Backfill before the view exists, and only into an empty table, so a re-run after a crash
      // (the version is recorded last) never counts a row twice. Rows inserted between this
      // statement and the next are missed: migrate before ingesting. Query-level insert_deduplicate
      // = 0: the embedded session may still carry the token of an earlier insert (settings are SET).
      {
        kind: "backfill",
        target: Tables.requests1h,
        select: (from) => hourlyRollup(from, `WHERE (SELECT count() FROM ${from(Tables.requests1h)}) = 0`),
      },
      {
        kind: "create_materialized_view",
        view: `${Tables.requests1h}_mv`,
        target: Tables.requests1h,
        select: (from) => hourlyRollup(from),
      },
      { kind: "create_view", view: Tables.wafBlocks, select: wafBlocksSelect },
    ],
  }),
  migration({
    version: 5,
    name: "dead letter replays: which dead letters were fed back through the pipeline",
    ddl: (r) => [
      createTable({
        table: Tables.deadLetterReplays,
        columns: `(
  reason LowCardinality(String),
  source LowCardinality(String),
  partition LowCardinality(String),
  batch_seq UInt64,
  body_index UInt32,
  record_index Int32,
  replayed_at DateTime64(3, 'UTC') DEFAULT now64(3)
)`,
        engine: "MergeTree",
        clauses: [
          `ORDER BY (source, partition, batch_seq, body_index, record_index)`,
          `TTL toDateTime(replayed_at) + INTERVAL ${r.deadLetterDays} DAY`,
        ],
        dedupWindow: false,
        placement: BY_LANE,
      }),
    ],
  }),
];

/** The per-hour aggregation of `requests`, shared by the hourly view and its backfill. */
function hourlyRollup(from: TableRef, where = ""): string {
  return `SELECT
  toStartOfHour(time) AS hour,
  gateway, listener, backend_pool, cause, origin, status,
  count() AS requests,
  sum(received_bytes) AS received_bytes,
  sum(sent_bytes) AS sent_bytes,
  quantilesStateIf(0.5, 0.9, 0.99)(assumeNotNull(time_taken), time_taken IS NOT NULL) AS time_taken,
  quantilesStateIf(0.5, 0.9, 0.99)(assumeNotNull(backend_latency), backend_latency IS NOT NULL) AS backend_latency,
  max(toDateTime(ingested_at)) AS last_ingested_at
FROM ${from(Tables.requests)}${where === "" ? "" : `\n${where}`}
GROUP BY hour, gateway, listener, backend_pool, cause, origin, status`;
}

/** Seconds either side of a request within which a firewall record may match it by client IP + URI. */
const WAF_FALLBACK_WINDOW_SECONDS = 120;

/**
 * `waf_blocks`: each `waf_block` request with the firewall records of the same request (spec
 * causes.md section 4), one row per record (the anomaly-scoring block is N `matched` rows plus one
 * `blocked` 949110 row; `action` tells them apart). Linked by `transaction_id` when both sides have
 * one; otherwise by client IP + URI within ±{@link WAF_FALLBACK_WINDOW_SECONDS} (v1 access records
 * carry no transaction id). Empty IPs and URIs never match. Firewall records are the probe side of
 * each join and the (fewer) blocked requests the build side.
 */
function wafBlocksSelect(from: TableRef): string {
  const req = (where: string) => `(
  SELECT time, gateway, host, request_uri, client_ip, transaction_id
  FROM ${from(Tables.requests)}
  WHERE cause = 'waf_block'${where}
) AS r`;
  const fw = `time AS firewall_time, rule_id, rule_group, rule_set_type, rule_set_version, message, action,
    request_uri, client_ip, transaction_id`;
  const columns = (matchedBy: string) => `SELECT
  r.time AS time, r.gateway AS gateway, r.host AS host, r.request_uri AS request_uri,
  r.client_ip AS client_ip, r.transaction_id AS transaction_id, f.firewall_time AS firewall_time,
  f.rule_id AS rule_id, f.rule_group AS rule_group, f.rule_set_type AS rule_set_type,
  f.rule_set_version AS rule_set_version, f.message AS message, f.action AS action,
  '${matchedBy}' AS matched_by`;
  const w = WAF_FALLBACK_WINDOW_SECONDS;
  return `${columns("transaction_id")}
FROM (SELECT ${fw} FROM ${from(Tables.firewallEvents)} WHERE transaction_id != '') AS f
INNER JOIN ${req(" AND transaction_id != ''")}
  ON f.transaction_id = r.transaction_id
UNION ALL
${columns("fallback")}
FROM (SELECT ${fw} FROM ${from(Tables.firewallEvents)} WHERE client_ip != '' AND request_uri != '') AS f
INNER JOIN ${req(" AND client_ip != '' AND request_uri != ''")}
  ON f.client_ip = r.client_ip AND f.request_uri = r.request_uri
WHERE (f.transaction_id = '' OR r.transaction_id = '')
  AND f.firewall_time BETWEEN r.time - toIntervalSecond(${w}) AND r.time + toIntervalSecond(${w})`;
}

/** Highest schema version this build knows. */
export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
