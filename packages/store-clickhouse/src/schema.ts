/**
 * Schema v1 and its migrations. Each migration is a list of idempotent statements; the applied
 * versions are recorded in `schema_migrations`. Statements use `{db}` for the database name.
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

/** One schema migration. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: (db: string, retention: Retention) => string[];
}

const dedup = `non_replicated_deduplication_window = ${DEDUP_WINDOW}`;

/** All migrations, in order. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "requests, firewall events, dead letters, per-minute rollup",
    statements: (db, r) => [
      `CREATE TABLE IF NOT EXISTS ${db}.${Tables.requests}
(
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
)
ENGINE = MergeTree
PARTITION BY toDate(time)
ORDER BY (gateway, toStartOfHour(time), cause, time)
TTL toDateTime(ingested_at) + INTERVAL ${r.requestsDays} DAY
SETTINGS ${dedup}`,
      `CREATE TABLE IF NOT EXISTS ${db}.${Tables.firewallEvents}
(
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
)
ENGINE = MergeTree
PARTITION BY toDate(time)
ORDER BY (gateway, toStartOfHour(time), action, time)
TTL toDateTime(ingested_at) + INTERVAL ${r.firewallDays} DAY
SETTINGS ${dedup}`,
      `CREATE TABLE IF NOT EXISTS ${db}.${Tables.deadLetters}
(
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
)
ENGINE = MergeTree
PARTITION BY toDate(received_at)
ORDER BY (reason, received_at)
TTL toDateTime(received_at) + INTERVAL ${r.deadLetterDays} DAY
SETTINGS ${dedup}`,
      `CREATE TABLE IF NOT EXISTS ${db}.${Tables.requests1m}
(
  minute DateTime('UTC'),
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
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (gateway, minute, cause, status, listener, backend_pool, origin)
TTL last_ingested_at + INTERVAL ${r.rollupDays} DAY
SETTINGS ${dedup}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${Tables.requests1m}_mv TO ${db}.${Tables.requests1m} AS
SELECT
  toStartOfMinute(time) AS minute,
  gateway, listener, backend_pool, cause, origin, status,
  count() AS requests,
  sum(received_bytes) AS received_bytes,
  sum(sent_bytes) AS sent_bytes,
  quantilesStateIf(0.5, 0.9, 0.99)(assumeNotNull(time_taken), time_taken IS NOT NULL) AS time_taken,
  quantilesStateIf(0.5, 0.9, 0.99)(assumeNotNull(backend_latency), backend_latency IS NOT NULL) AS backend_latency,
  max(toDateTime(ingested_at)) AS last_ingested_at
FROM ${db}.${Tables.requests}
GROUP BY minute, gateway, listener, backend_pool, cause, origin, status`,
    ],
  },
  {
    version: 2,
    name: "batch log: the range of each live batch, written before its rows",
    // A live source (Event Hubs) cuts batches by arrival, so after a crash it would cut the
    // unfinished batch differently and its deduplication token would not match. The log keeps the
    // last range per partition so the restarted source cuts that batch again exactly.
    statements: (db, r) => [
      `CREATE TABLE IF NOT EXISTS ${db}.${Tables.batchLog}
(
  source LowCardinality(String),
  partition LowCardinality(String),
  first_seq UInt64,
  last_seq UInt64,
  logged_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (source, partition, first_seq)
TTL toDateTime(logged_at) + INTERVAL ${r.deadLetterDays} DAY`,
    ],
  },
  {
    version: 3,
    name: "alert events: every firing and resolved transition of the in-service spike detector",
    statements: (db, r) => [
      `CREATE TABLE IF NOT EXISTS ${db}.${Tables.alertEvents}
(
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
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (at, alert_id)
TTL toDateTime(at) + INTERVAL ${r.rollupDays} DAY`,
    ],
  },
  {
    version: 4,
    name: "per-hour rollup (backfilled from requests) and the waf_blocks view",
    // The hourly rollup reads `requests`, not the minute rollup, so both stay consistent with the
    // raw table. A replayed insert (same token) is skipped in all three only with
    // deduplicate_blocks_in_dependent_materialized_views = 1 on the insert (INSERT_SETTINGS) and a
    // deduplication window on each view's target table: chdb 26.7 with 0 skips the raw block but
    // still feeds the views. Yearly partitions keep the part count low over two years.
    statements: (db, r) => [
      `CREATE TABLE IF NOT EXISTS ${db}.${Tables.requests1h}
(
  hour DateTime('UTC'),
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
)
ENGINE = AggregatingMergeTree
PARTITION BY toYear(hour)
ORDER BY (gateway, hour, cause, status, listener, backend_pool, origin)
TTL last_ingested_at + INTERVAL ${r.rollupHourDays} DAY
SETTINGS ${dedup}`,
      // Backfill before the view exists, and only into an empty table, so a re-run after a crash
      // (the version is recorded last) never counts a row twice. Rows inserted between this
      // statement and the next are missed: migrate before ingesting. Query-level insert_deduplicate
      // = 0: the embedded session may still carry the token of an earlier insert (settings are SET).
      `INSERT INTO ${db}.${Tables.requests1h}
${hourlyRollup(db, `WHERE (SELECT count() FROM ${db}.${Tables.requests1h}) = 0`)}
SETTINGS insert_deduplicate = 0`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${Tables.requests1h}_mv TO ${db}.${Tables.requests1h} AS
${hourlyRollup(db)}`,
      wafBlocksView(db),
    ],
  },
  {
    version: 5,
    name: "dead letter replays: which dead letters were fed back through the pipeline",
    statements: (db, r) => [
      `CREATE TABLE IF NOT EXISTS ${db}.${Tables.deadLetterReplays}
(
  reason LowCardinality(String),
  source LowCardinality(String),
  partition LowCardinality(String),
  batch_seq UInt64,
  body_index UInt32,
  record_index Int32,
  replayed_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (source, partition, batch_seq, body_index, record_index)
TTL toDateTime(replayed_at) + INTERVAL ${r.deadLetterDays} DAY`,
    ],
  },
];

/** The per-hour aggregation of `requests`, shared by the hourly view and its backfill. */
function hourlyRollup(db: string, where = ""): string {
  return `SELECT
  toStartOfHour(time) AS hour,
  gateway, listener, backend_pool, cause, origin, status,
  count() AS requests,
  sum(received_bytes) AS received_bytes,
  sum(sent_bytes) AS sent_bytes,
  quantilesStateIf(0.5, 0.9, 0.99)(assumeNotNull(time_taken), time_taken IS NOT NULL) AS time_taken,
  quantilesStateIf(0.5, 0.9, 0.99)(assumeNotNull(backend_latency), backend_latency IS NOT NULL) AS backend_latency,
  max(toDateTime(ingested_at)) AS last_ingested_at
FROM ${db}.${Tables.requests}${where === "" ? "" : `\n${where}`}
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
function wafBlocksView(db: string): string {
  const req = (where: string) => `(
  SELECT time, gateway, host, request_uri, client_ip, transaction_id
  FROM ${db}.${Tables.requests}
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
  return `CREATE VIEW IF NOT EXISTS ${db}.${Tables.wafBlocks} AS
${columns("transaction_id")}
FROM (SELECT ${fw} FROM ${db}.${Tables.firewallEvents} WHERE transaction_id != '') AS f
INNER JOIN ${req(" AND transaction_id != ''")}
  ON f.transaction_id = r.transaction_id
UNION ALL
${columns("fallback")}
FROM (SELECT ${fw} FROM ${db}.${Tables.firewallEvents} WHERE client_ip != '' AND request_uri != '') AS f
INNER JOIN ${req(" AND client_ip != '' AND request_uri != ''")}
  ON f.client_ip = r.client_ip AND f.request_uri = r.request_uri
WHERE (f.transaction_id = '' OR r.transaction_id = '')
  AND f.firewall_time BETWEEN r.time - toIntervalSecond(${w}) AND r.time + toIntervalSecond(${w})`;
}

/** Highest schema version this build knows. */
export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
