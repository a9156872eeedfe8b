/**
 * Historical questions asked of the store by the API, the CLI and the overview page: cause trends,
 * top contributors against the previous period, one request explained, the alert history. Every
 * value reaches ClickHouse as a query parameter, never inside the SQL text; every query is bounded in
 * time (`max_execution_time`) and in result size (steps, limits).
 *
 * Which table answers: trends read the per-minute rollup, or the per-hour one when the step is
 * whole hours; top lists read the per-minute rollup for ranges up to {@link MINUTE_ROLLUP_MAX_RANGE}
 * and the per-hour one beyond; hosts and backend addresses are not in the rollups, so they read raw
 * entries, for ranges up to {@link RAW_MAX_RANGE} only. A rollup counts whole buckets, so a range
 * it answers is widened to whole minutes or hours, and the answer carries the range it covers.
 */
import { GatewatchError } from "@gatewatch/pipeline";
import { Tables } from "./schema.js";
import type { ClickHouseStore } from "./store.js";

/** Dimensions a top list can rank by. */
export const TOP_DIMENSIONS = [
  "cause",
  "origin",
  "gateway",
  "listener",
  "backend_pool",
  "status",
  "host",
  "backend_address",
] as const;
export type TopDimension = (typeof TOP_DIMENSIONS)[number];

/** Dimensions only the raw `requests` table has. */
const RAW_DIMENSIONS: ReadonlySet<TopDimension> = new Set(["host", "backend_address"]);

/** Longest range a top list reads from the per-minute rollup, seconds (beyond: per-hour). */
export const MINUTE_ROLLUP_MAX_RANGE = 7 * 86_400;
/** Longest range a top list by host or backend address may cover (raw entries), seconds. */
export const RAW_MAX_RANGE = 7 * 86_400;
/** Most buckets a trend may have. */
export const MAX_TREND_POINTS = 1500;
/** Server-side time limit of one insight query, seconds. */
const MAX_EXECUTION_SECONDS = 15;

/** Optional filters; each is a list of accepted values (empty or absent: all). */
export interface InsightFilters {
  readonly gateway?: readonly string[];
  readonly cause?: readonly string[];
  readonly origin?: readonly string[];
  readonly listener?: readonly string[];
  readonly backendPool?: readonly string[];
}

/** A time range in epoch seconds, `from` inclusive, `to` exclusive. */
export interface TimeRange {
  readonly from: number;
  readonly to: number;
}

/** {@link queryTrends} input. `step` in seconds, a multiple of 60. */
export interface TrendsQuery extends InsightFilters, TimeRange {
  readonly step: number;
}

/** Requests per bucket and cause, zero-filled: `series[i].values[j]` belongs to `times[j]`. */
export interface TrendsResult extends TimeRange {
  readonly step: number;
  readonly table: string;
  /** Bucket starts, epoch seconds. */
  readonly times: number[];
  /** All requests per bucket (sum of the series). */
  readonly totals: number[];
  /** One per cause, largest total first. */
  readonly series: { cause: string; origin: string; total: number; values: number[] }[];
}

/** {@link queryTop} input. */
export interface TopQuery extends InsightFilters, TimeRange {
  readonly by: TopDimension;
  readonly limit: number;
}

/** One ranked value; `change` is the relative change against the previous period (null: none then). */
export interface TopRow {
  readonly value: string;
  readonly requests: number;
  /** Of them, status >= 400. */
  readonly errors: number;
  /** Share of all requests in the range matching the filters. */
  readonly share: number;
  readonly previous: number;
  readonly change: number | null;
}

export interface TopResult extends TimeRange {
  readonly by: TopDimension;
  readonly table: string;
  /** The period of equal length just before the range. */
  readonly previousRange: TimeRange;
  readonly total: number;
  readonly previousTotal: number;
  readonly rows: TopRow[];
}

/** The stored rows of one transaction id: its entries and its firewall records. */
export interface TransactionRows {
  readonly entries: Record<string, unknown>[];
  /** Firewall records with the same transaction id, or (`matched_by` fallback) same client IP + URI. */
  readonly firewall: Record<string, unknown>[];
}

/** {@link queryAlertHistory} input. */
export interface AlertHistoryQuery {
  /** Only alerts whose last transition is `firing`, however long ago it fired. */
  readonly active: boolean;
  /** Transitions (or, with `active`, last transitions) at most this old; absent: all. */
  readonly sinceSeconds?: number;
  /** @default 1000 */
  readonly limit?: number;
}

const BOUNDED = `SETTINGS max_execution_time = ${MAX_EXECUTION_SECONDS}, timeout_overflow_mode = 'throw'`;

const FILTER_COLUMNS: readonly [keyof InsightFilters, string][] = [
  ["gateway", "gateway"],
  ["cause", "cause"],
  ["origin", "origin"],
  ["listener", "listener"],
  ["backendPool", "backend_pool"],
];

/**
 * WHERE conditions and parameters for the filters. Internal traffic (spec R0) is left out unless
 * the cause filter asks for it.
 */
function filterSql(f: InsightFilters): { where: string[]; params: Record<string, unknown> } {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  for (const [key, column] of FILTER_COLUMNS) {
    const values = f[key];
    if (values && values.length > 0) {
      where.push(`${column} IN {f_${column}:Array(String)}`);
      params[`f_${column}`] = values;
    }
  }
  if (!f.cause?.includes("internal_traffic")) where.push(`cause != 'internal_traffic'`);
  return { where, params };
}

/** Requests per bucket and cause over the range, from the rollup that fits the step. */
export async function queryTrends(store: ClickHouseStore, q: TrendsQuery): Promise<TrendsResult> {
  const hourly = q.step % 3600 === 0;
  const table = hourly ? Tables.requests1h : Tables.requests1m;
  const bucket = hourly ? "hour" : "minute";
  const from = Math.floor(q.from / q.step) * q.step;
  const to = Math.ceil(q.to / q.step) * q.step;
  const { where, params } = filterSql(q);
  const rows = (await store.queryReadOnly(
    `SELECT toUInt32(toUnixTimestamp(toStartOfInterval(${bucket}, toIntervalSecond({step:UInt32})))) AS t,
       toString(cause) AS cause, any(toString(origin)) AS origin, toUInt64(sum(requests)) AS n
     FROM ${store.database}.${table}
     WHERE ${bucket} >= toDateTime({from:UInt32}) AND ${bucket} < toDateTime({to:UInt32})
       ${where.map((w) => `AND ${w}`).join(" ")}
     GROUP BY t, cause
     ${BOUNDED}`,
    { ...params, step: q.step, from, to },
  )) as { t: number; cause: string; origin: string; n: number }[];

  const times = Array.from({ length: (to - from) / q.step }, (_, i) => from + i * q.step);
  const totals = times.map(() => 0);
  const byCause = new Map<string, { cause: string; origin: string; total: number; values: number[] }>();
  for (const r of rows) {
    const i = (Number(r.t) - from) / q.step;
    let s = byCause.get(r.cause);
    if (!s)
      byCause.set(r.cause, (s = { cause: r.cause, origin: r.origin, total: 0, values: times.map(() => 0) }));
    const n = Number(r.n);
    s.values[i] = n;
    s.total += n;
    totals[i] = (totals[i] ?? 0) + n;
  }
  const series = [...byCause.values()].sort((a, b) => b.total - a.total || a.cause.localeCompare(b.cause));
  return { from, to, step: q.step, table, times, totals, series };
}

/** The largest values of one dimension over the range, with the previous period for comparison. */
export async function queryTop(store: ClickHouseStore, q: TopQuery): Promise<TopResult> {
  // `by` becomes a column name in the SQL text: only the fixed list may pass.
  if (!(TOP_DIMENSIONS as readonly string[]).includes(q.by))
    throw new GatewatchError("query_invalid", `by must be one of ${TOP_DIMENSIONS.join(", ")}`);
  const raw = RAW_DIMENSIONS.has(q.by);
  const hourly = !raw && q.to - q.from > MINUTE_ROLLUP_MAX_RANGE;
  // A rollup counts whole buckets: widen the range to them (the answer says which range it covers).
  const bucket = raw ? 1 : hourly ? 3600 : 60;
  const from = Math.floor(q.from / bucket) * bucket;
  const to = Math.ceil(q.to / bucket) * bucket;
  const previousFrom = from - (to - from);
  const table = raw ? Tables.requests : hourly ? Tables.requests1h : Tables.requests1m;
  const time = raw ? "time" : hourly ? "hour" : "minute";
  const n = raw ? "1" : "requests";
  const { where, params } = filterSql(q);
  const rows = (await store.queryReadOnly(
    `SELECT value, cur AS requests, err AS errors, prev AS previous,
       sum(cur) OVER () AS total, sum(prev) OVER () AS previous_total
     FROM (
       SELECT toString(${q.by}) AS value,
         toUInt64(sumIf(${n}, ${time} >= toDateTime({from:UInt32}))) AS cur,
         toUInt64(sumIf(${n}, ${time} >= toDateTime({from:UInt32}) AND status >= 400)) AS err,
         toUInt64(sumIf(${n}, ${time} < toDateTime({from:UInt32}))) AS prev
       FROM ${store.database}.${table}
       WHERE ${time} >= toDateTime({previous_from:UInt32}) AND ${time} < toDateTime({to:UInt32})
         ${where.map((w) => `AND ${w}`).join(" ")}
       GROUP BY value
     )
     ORDER BY cur DESC, value
     LIMIT {limit:UInt32}
     ${BOUNDED}`,
    { ...params, from, to, previous_from: previousFrom, limit: q.limit },
  )) as {
    value: string;
    requests: number;
    errors: number;
    previous: number;
    total: number;
    previous_total: number;
  }[];
  const total = Number(rows[0]?.total ?? 0);
  return {
    by: q.by,
    table,
    from,
    to,
    previousRange: { from: previousFrom, to: from },
    total,
    previousTotal: Number(rows[0]?.previous_total ?? 0),
    rows: rows
      .filter((r) => Number(r.requests) > 0)
      .map((r) => {
        const requests = Number(r.requests);
        const previous = Number(r.previous);
        return {
          value: r.value,
          requests,
          errors: Number(r.errors),
          share: total > 0 ? requests / total : 0,
          previous,
          change: previous > 0 ? (requests - previous) / previous : null,
        };
      }),
  };
}

/** The entries and firewall records of one transaction id (at most 10 entries, 200 firewall records). */
export async function queryTransaction(
  store: ClickHouseStore,
  transactionId: string,
): Promise<TransactionRows> {
  const db = store.database;
  const params = { id: transactionId };
  const entries = await store.queryReadOnly(
    `SELECT * FROM ${db}.${Tables.requests} WHERE transaction_id = {id:String} ORDER BY time LIMIT 10 ${BOUNDED}`,
    params,
  );
  // Firewall records carrying the id, plus those the waf_blocks view links by client IP + URI
  // (a firewall record without the id, spec §4 fallback).
  const firewall = await store.queryReadOnly(
    `SELECT * FROM (
       SELECT time, action, rule_id, rule_group, rule_set_type, rule_set_version, message, details_message,
         details_data, hostname, request_uri, client_ip, policy_id, 'transaction_id' AS matched_by
       FROM ${db}.${Tables.firewallEvents} WHERE transaction_id = {id:String}
       UNION ALL
       SELECT firewall_time AS time, action, rule_id, rule_group, rule_set_type, rule_set_version, message,
         '' AS details_message, '' AS details_data, host AS hostname, request_uri, client_ip, '' AS policy_id,
         matched_by
       FROM ${db}.${Tables.wafBlocks} WHERE transaction_id = {id:String} AND matched_by = 'fallback'
     )
     ORDER BY time, rule_id
     LIMIT 200 ${BOUNDED}`,
    params,
  );
  return { entries, firewall };
}

/**
 * The alert history: every transition since `sinceSeconds` ago, or with `active` one row per alert
 * whose last transition is `firing` (and, when `sinceSeconds` is given, changed within it). An alert
 * stays active until its resolution is recorded, so one whose service stopped while it fired stays
 * listed until it fires and resolves again or its rows expire.
 */
export async function queryAlertHistory(
  store: ClickHouseStore,
  q: AlertHistoryQuery,
): Promise<Record<string, unknown>[]> {
  const table = `${store.database}.${Tables.alertEvents}`;
  const sql = q.active
    ? `SELECT alert_id, argMax(state, at) AS state, any(gateway) AS gateway, any(cause) AS cause,
         any(severity) AS severity, min(started_at) AS started_at, max(at) AS last_change,
         argMax(count, at) AS count, argMax(baseline, at) AS baseline,
         argMax(summary, at) AS summary, argMax(description, at) AS description, any(runbook_url) AS runbook_url
       FROM ${table} GROUP BY alert_id
       HAVING state = 'firing' AND last_change >= now64(3) - toIntervalSecond({since:UInt32})
       ORDER BY started_at LIMIT {limit:UInt32}`
    : `SELECT at, state, alert_id, gateway, cause, severity, summary
       FROM ${table} WHERE at >= now64(3) - toIntervalSecond({since:UInt32}) ORDER BY at, alert_id
       LIMIT {limit:UInt32}`;
  // Without a window, the whole history (its retention bounds it).
  const since = q.sinceSeconds ?? 0xffffffff;
  return store.queryReadOnly(`${sql} ${BOUNDED}`, { since, limit: q.limit ?? 1000 });
}
