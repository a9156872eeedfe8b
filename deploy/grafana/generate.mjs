// Writes the Grafana dashboards in deploy/grafana/dashboards/ from the definitions below, so that the
// SQL lives here readable (shared filters, one rollup switch) instead of as escaped JSON strings.
// Run: node deploy/grafana/generate.mjs          (rewrites the JSON files)
//      node deploy/grafana/generate.mjs --check  (exit 1 when a committed file differs)
// test/integration/grafana-dashboards.test.ts runs the check and every query against demo data.
import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import * as prettier from "prettier";

/** Datasources, as provisioned by provisioning/datasources/gatewatch.yaml. */
const CH = { type: "grafana-clickhouse-datasource", uid: "gatewatch-clickhouse" };
const PROM = { type: "prometheus", uid: "gatewatch-prometheus" };
/** Oldest plugin version whose query model (editorType, rawSql, format) the targets use. */
const CH_PLUGIN_VERSION = "4.0.0";

// ---------------------------------------------------------------------------------------------
// SQL building blocks (grafana-clickhouse-datasource macros: $__timeFilter, $__fromTime, $__toTime,
// $__interval_s, $__timeInterval and the frontend's $__conditionalAll).

/** `${name:singlequote}`: every selected value quoted, comma-separated; the IN-list syntax. */
const quoted = (name) => "${" + name + ":singlequote}";
/** A filter on a multi-value variable that disappears (1=1) when All is selected. */
const selected = (column, variable = column) =>
  `$__conditionalAll(${column} IN (${quoted(variable)}), $${variable})`;

/** Longest range, in seconds, read from the per-minute rollup; longer ranges read the per-hour one. */
const MINUTE_ROLLUP_MAX_SECONDS = 2 * 86_400;
const RANGE_SECONDS = "dateDiff('second', $__fromTime, $__toTime)";
/**
 * The two rollups with the condition under which each is read. Both branches of a UNION ALL carry
 * their condition in WHERE; ClickHouse folds the constant and reads nothing for the false one.
 */
const ROLLUPS = [
  {
    table: "gatewatch.requests_1m",
    bucket: "minute",
    when: `${RANGE_SECONDS} <= ${MINUTE_ROLLUP_MAX_SECONDS}`,
    step: "greatest($__interval_s, 60)",
  },
  {
    table: "gatewatch.requests_1h",
    bucket: "hour",
    when: `${RANGE_SECONDS} > ${MINUTE_ROLLUP_MAX_SECONDS}`,
    step: "greatest($__interval_s, 3600)",
  },
];

/**
 * The same aggregation over both rollups. `select(r)` gets `{ table, bucket, when, step, time }`
 * (`time` is the bucket rounded to the panel interval, never finer than the rollup) and returns one
 * SELECT; the result is their UNION ALL. Only one branch reads data, so no bucket appears twice.
 */
const overRollups = (select) =>
  ROLLUPS.map((r) =>
    select({ ...r, time: `toStartOfInterval(${r.bucket}, toIntervalSecond(${r.step}))` }),
  ).join("\nUNION ALL\n");

/** An error is a request the gateway answered with 4xx/5xx, or not at all (v1 logs status 0). */
const IS_ERROR = "(status >= 400 OR status = 0)";
/** Internal traffic (the gateway's own 127.0.0.1 probes) is left out unless the toggle says include. */
const INTERNAL = `(cause != 'internal_traffic' OR ${quoted("internal")} = 'include')`;
/** Filters of the overview on the rollups' dimensions. */
const OVERVIEW_FILTERS = [
  selected("gateway"),
  selected("listener"),
  selected("backend_pool"),
  selected("cause"),
  selected("origin"),
  INTERNAL,
].join("\n    AND ");
/** Filters of the cause drill-down: one cause, any gateway/listener/pool selection. */
const CAUSE_FILTERS = [
  `cause = ${quoted("cause")}`,
  selected("gateway"),
  selected("listener"),
  selected("backend_pool"),
].join("\n    AND ");
/** Raw `requests` panels read at most the last two days of the range (and LIMIT their rows). */
const RAW_RANGE = "$__timeFilter(time) AND time >= $__toTime - INTERVAL 2 DAY";

/** Variable query: distinct values of a rollup dimension in the range (hourly rollup: cheap for a year). */
const rollupValues = (column, extra = []) =>
  [
    `SELECT DISTINCT ${column}`,
    "FROM gatewatch.requests_1h",
    `WHERE hour >= toStartOfHour($__fromTime) AND hour <= $__toTime AND ${column} != ''`,
    ...extra.map((e) => `  AND ${e}`),
    `ORDER BY ${column}`,
  ].join("\n");

// ---------------------------------------------------------------------------------------------
// Grafana model helpers.

const sqlTarget = (rawSql, format, refId = "A") => ({
  refId,
  datasource: CH,
  editorType: "sql",
  format: format === "time_series" ? 0 : 1,
  queryType: format === "time_series" ? "timeseries" : "table",
  pluginVersion: CH_PLUGIN_VERSION,
  rawSql,
});

const promTarget = (expr, legendFormat, refId = "A", extra = {}) => ({
  refId,
  datasource: PROM,
  expr,
  legendFormat,
  range: true,
  editorMode: "code",
  ...extra,
});

/** A `byName` override: a column's display name, unit, links or other properties. */
const column = (name, props) => ({
  matcher: { id: "byName", options: name },
  properties: Object.entries(props).map(([id, value]) => ({ id, value })),
});

const timeseries = ({
  title,
  description,
  targets,
  unit = "short",
  stack = false,
  overrides = [],
  min,
  seriesLabel,
}) => ({
  type: "timeseries",
  title,
  description,
  targets,
  // ClickHouse panels: never finer than a minute, the finest rollup.
  ...(targets[0].datasource === CH ? { interval: "1m" } : {}),
  fieldConfig: {
    defaults: {
      unit,
      ...(min === undefined ? {} : { min }),
      // Long results (a text column per series) become one series per value: name them by it.
      ...(seriesLabel === undefined ? {} : { displayName: "${__field.labels." + seriesLabel + "}" }),
      custom: {
        drawStyle: "line",
        lineWidth: 1,
        fillOpacity: stack ? 60 : 10,
        showPoints: "never",
        spanNulls: false,
        stacking: { mode: stack ? "normal" : "none", group: "A" },
      },
    },
    overrides,
  },
  options: {
    legend: { displayMode: "list", placement: "bottom", showLegend: true },
    tooltip: { mode: "multi", sort: "desc" },
  },
});

const stat = ({
  title,
  description,
  targets,
  unit = "short",
  decimals,
  thresholds,
  overrides = [],
  fields = "",
}) => ({
  type: "stat",
  title,
  description,
  targets,
  fieldConfig: {
    defaults: {
      unit,
      ...(decimals === undefined ? {} : { decimals }),
      color: { mode: "thresholds" },
      thresholds: thresholds ?? { mode: "absolute", steps: [{ color: "green", value: null }] },
    },
    overrides,
  },
  options: {
    // fields "": numeric fields only; a regex to show a text field.
    reduceOptions: { calcs: ["lastNotNull"], fields, values: false },
    colorMode: "value",
    graphMode: "none",
    justifyMode: "auto",
    orientation: "auto",
    textMode: "auto",
  },
});

const table = ({ title, description, targets, overrides = [], sortBy = [] }) => ({
  type: "table",
  title,
  description,
  targets,
  fieldConfig: { defaults: { custom: { align: "auto", filterable: true } }, overrides },
  options: {
    showHeader: true,
    cellHeight: "sm",
    sortBy,
    footer: { show: false, reducer: ["sum"], fields: "" },
  },
});

const barchart = ({ title, description, targets, xField, unit = "short" }) => ({
  type: "barchart",
  title,
  description,
  targets,
  fieldConfig: { defaults: { unit, custom: { fillOpacity: 80, lineWidth: 1 } }, overrides: [] },
  options: {
    xField,
    orientation: "vertical",
    showValue: "auto",
    stacking: "none",
    barWidth: 0.9,
    groupWidth: 0.7,
    xTickLabelRotation: 0,
    legend: { displayMode: "list", placement: "bottom", showLegend: false },
    tooltip: { mode: "single", sort: "none" },
  },
});

const thresholdsOf = (...steps) => ({
  mode: "absolute",
  steps: steps.map(([color, value]) => ({ color, value })),
});

/** Lays panels out left to right in rows of 24 columns; each item is [panel, width, height]. */
function layout(rows) {
  const panels = [];
  let y = 0;
  let id = 1;
  for (const row of rows) {
    let x = 0;
    let height = 0;
    for (const [panel, w, h] of row) {
      panels.push({ id: id++, ...panel, gridPos: { h, w, x, y } });
      x += w;
      height = Math.max(height, h);
    }
    if (x > 24) throw new Error(`row at y=${y} is ${x} columns wide`);
    y += height;
  }
  // Every panel and target names its datasource, so a dashboard never depends on the default one.
  return panels.map((p) => ({ ...p, datasource: p.targets[0].datasource }));
}

/** A ClickHouse query variable. */
const chVariable = ({ name, label, query, multi = true, refresh = 2 }) => ({
  type: "query",
  name,
  label,
  datasource: CH,
  query,
  definition: query,
  refresh,
  multi,
  includeAll: multi,
  current: multi ? { selected: true, text: ["All"], value: ["$__all"] } : {},
  options: [],
  sort: 0,
  regex: "",
  hide: 0,
  skipUrlSync: false,
});

const customVariable = ({ name, label, values, description }) => ({
  type: "custom",
  name,
  label,
  description,
  query: values.join(","),
  multi: false,
  includeAll: false,
  current: { selected: true, text: values[0], value: values[0] },
  options: values.map((v, i) => ({ selected: i === 0, text: v, value: v })),
  hide: 0,
  skipUrlSync: false,
});

/** The gatewatch service URL, for links to its API; edit the constant to your service's address. */
const GATEWATCH_URL = {
  type: "constant",
  name: "gatewatch_url",
  label: "gatewatch service URL",
  description: "Base URL of the gatewatch service (HTTP API), used by the explain links.",
  query: "http://localhost:9464",
  current: { selected: true, text: "http://localhost:9464", value: "http://localhost:9464" },
  options: [{ selected: true, text: "http://localhost:9464", value: "http://localhost:9464" }],
  hide: 2,
  skipUrlSync: false,
};

const EXPLAIN_LINK = {
  title: "Explain this request (gatewatch)",
  url: "${gatewatch_url}/api/v1/explain/${__data.fields.transaction_id}",
  targetBlank: true,
};

function dashboard({
  uid,
  title,
  description,
  tags = [],
  time = { from: "now-6h", to: "now" },
  variables,
  panels,
}) {
  return {
    uid,
    title,
    description,
    tags: ["gatewatch", ...tags],
    timezone: "utc",
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: "1m",
    time,
    timepicker: {},
    fiscalYearStartMonth: 0,
    liveNow: false,
    weekStart: "",
    links: [
      {
        type: "dashboards",
        title: "gatewatch",
        tags: ["gatewatch"],
        asDropdown: true,
        includeVars: false,
        keepTime: true,
        targetBlank: false,
        icon: "external link",
        tooltip: "",
        url: "",
      },
    ],
    annotations: { list: [] },
    templating: { list: variables },
    panels,
  };
}

// ---------------------------------------------------------------------------------------------
// Overview.

const overviewVariables = [
  chVariable({ name: "gateway", label: "Gateway", query: rollupValues("gateway") }),
  chVariable({ name: "listener", label: "Listener", query: rollupValues("listener", [selected("gateway")]) }),
  chVariable({
    name: "backend_pool",
    label: "Backend pool",
    query: rollupValues("backend_pool", [selected("gateway"), selected("listener")]),
  }),
  chVariable({ name: "origin", label: "Origin", query: rollupValues("origin", [selected("gateway")]) }),
  chVariable({
    name: "cause",
    label: "Cause",
    query: rollupValues("cause", [selected("gateway"), selected("origin")]),
  }),
  customVariable({
    name: "internal",
    label: "Internal traffic",
    description:
      "The gateway's own 127.0.0.1 requests (cause internal_traffic): left out of totals unless included.",
    values: ["exclude", "include"],
  }),
];

/** Active alerts at the end of the range: the last transition of each alert_id is 'firing'. */
const activeAlerts = (columns) => `SELECT ${columns}
FROM (
  SELECT alert_id, state, at, started_at, severity, gateway, cause, origin, summary, count, baseline, runbook_url
  FROM gatewatch.alert_events
  WHERE at <= $__toTime
  ORDER BY at DESC
  LIMIT 1 BY alert_id
)
WHERE state = 'firing'
  AND ${selected("gateway")}
  AND ${selected("cause")}
  AND ${selected("origin")}`;

const overview = dashboard({
  uid: "gatewatch-overview",
  title: "gatewatch / Overview",
  description:
    "Requests, errors and their causes across Application Gateways (gatewatch rollups in ClickHouse).",
  tags: ["overview"],
  variables: overviewVariables,
  panels: layout([
    [
      [
        stat({
          title: "Requests",
          description: "Requests in the range (rollup buckets that start inside it).",
          targets: [
            sqlTarget(
              `SELECT sum(requests) AS requests
FROM (
${overRollups(
  (r) => `  SELECT sum(requests) AS requests
  FROM ${r.table}
  WHERE ${r.when}
    AND $__timeFilter(${r.bucket})
    AND ${OVERVIEW_FILTERS}`,
)}
)`,
              "table",
            ),
          ],
        }),
        6,
        4,
      ],
      [
        stat({
          title: "Error ratio",
          description:
            "Share of requests answered with 4xx/5xx (or status 0: no response), internal traffic excluded.",
          unit: "percentunit",
          decimals: 2,
          thresholds: thresholdsOf(["green", null], ["orange", 0.02], ["red", 0.05]),
          targets: [
            sqlTarget(
              // Inner aliases differ from column names: "sum(requests) AS requests" would make the
              // sumIf(requests, …) beside it refer to the alias, an aggregate inside an aggregate.
              `SELECT sum(errors) / nullIf(sum(total), 0) AS error_ratio
FROM (
${overRollups(
  (r) => `  SELECT sumIf(requests, ${IS_ERROR}) AS errors, sum(requests) AS total
  FROM ${r.table}
  WHERE ${r.when}
    AND $__timeFilter(${r.bucket})
    AND ${OVERVIEW_FILTERS}`,
)}
)`,
              "table",
            ),
          ],
        }),
        6,
        4,
      ],
      [
        stat({
          title: "Request rate",
          description: "Mean requests per second over the range.",
          unit: "reqps",
          decimals: 1,
          targets: [
            sqlTarget(
              `SELECT sum(requests) / ${RANGE_SECONDS} AS requests_per_s
FROM (
${overRollups(
  (r) => `  SELECT sum(requests) AS requests
  FROM ${r.table}
  WHERE ${r.when}
    AND $__timeFilter(${r.bucket})
    AND ${OVERVIEW_FILTERS}`,
)}
)`,
              "table",
            ),
          ],
        }),
        6,
        4,
      ],
      [
        stat({
          title: "Alerts firing",
          description:
            "Cause-spike alerts of the gatewatch service firing at the end of the range (alert_events).",
          thresholds: thresholdsOf(["green", null], ["red", 1]),
          targets: [sqlTarget(activeAlerts("count() AS alerts_firing"), "table")],
        }),
        6,
        4,
      ],
    ],
    [
      [
        timeseries({
          title: "Requests and errors per second",
          unit: "reqps",
          targets: [
            sqlTarget(
              `SELECT time, requests_per_s, errors_per_s
FROM (
${overRollups(
  (r) => `  SELECT ${r.time} AS time,
    sum(requests) / ${r.step} AS requests_per_s,
    sumIf(requests, ${IS_ERROR}) / ${r.step} AS errors_per_s
  FROM ${r.table}
  WHERE ${r.when}
    AND $__timeFilter(${r.bucket})
    AND ${OVERVIEW_FILTERS}
  GROUP BY time`,
)}
)
ORDER BY time`,
              "time_series",
            ),
          ],
          overrides: [
            column("requests_per_s", { displayName: "requests" }),
            column("errors_per_s", { displayName: "errors", color: { mode: "fixed", fixedColor: "red" } }),
          ],
        }),
        12,
        8,
      ],
      [
        timeseries({
          title: "Error ratio",
          description: "4xx/5xx (and status 0) share of requests per interval.",
          unit: "percentunit",
          min: 0,
          targets: [
            sqlTarget(
              `SELECT time, error_ratio
FROM (
${overRollups(
  (r) => `  SELECT ${r.time} AS time, sumIf(requests, ${IS_ERROR}) / sum(requests) AS error_ratio
  FROM ${r.table}
  WHERE ${r.when}
    AND $__timeFilter(${r.bucket})
    AND ${OVERVIEW_FILTERS}
  GROUP BY time`,
)}
)
ORDER BY time`,
              "time_series",
            ),
          ],
        }),
        12,
        8,
      ],
    ],
    [
      [
        timeseries({
          title: "Causes over time (success excluded)",
          description:
            "Requests per second by cause, stacked; causes of origin none (success, l4_session_ok) are left out.",
          unit: "reqps",
          stack: true,
          seriesLabel: "cause",
          targets: [
            sqlTarget(
              `SELECT time, cause, requests_per_s
FROM (
${overRollups(
  (r) => `  SELECT ${r.time} AS time, cause, sum(requests) / ${r.step} AS requests_per_s
  FROM ${r.table}
  WHERE ${r.when}
    AND $__timeFilter(${r.bucket})
    AND origin != 'none'
    AND ${OVERVIEW_FILTERS}
  GROUP BY time, cause`,
)}
)
ORDER BY time, cause`,
              "time_series",
            ),
          ],
          overrides: [],
        }),
        24,
        9,
      ],
    ],
    [
      [
        table({
          title: "Top causes: now vs the same period last week",
          description:
            "Requests by cause in the range and in the same range 7 days earlier (success excluded).",
          sortBy: [{ displayName: "requests", desc: true }],
          targets: [
            sqlTarget(
              `SELECT cause, any(origin) AS origin, sum(now) AS requests, sum(last_week) AS requests_last_week,
  (sum(now) - sum(last_week)) / nullIf(sum(last_week), 0) AS change
FROM (
${overRollups(
  (r) => `  SELECT cause, origin,
    sumIf(requests, $__timeFilter(${r.bucket})) AS now,
    sumIf(requests, ${r.bucket} >= $__fromTime - INTERVAL 7 DAY AND ${r.bucket} <= $__toTime - INTERVAL 7 DAY) AS last_week
  FROM ${r.table}
  WHERE ${r.when}
    AND (($__timeFilter(${r.bucket}))
      OR (${r.bucket} >= $__fromTime - INTERVAL 7 DAY AND ${r.bucket} <= $__toTime - INTERVAL 7 DAY))
    AND origin != 'none'
    AND ${OVERVIEW_FILTERS}
  GROUP BY cause, origin`,
)}
)
GROUP BY cause
ORDER BY requests DESC
LIMIT 20`,
              "table",
            ),
          ],
          overrides: [
            column("requests_last_week", { displayName: "last week" }),
            column("change", { unit: "percentunit", decimals: 0 }),
            column("cause", {
              links: [
                {
                  title: "Drill into ${__data.fields.cause}",
                  url: "/d/gatewatch-cause/gatewatch-cause?var-cause=${__data.fields.cause}&${gateway:queryparam}&${__url_time_range}",
                },
              ],
            }),
          ],
        }),
        12,
        10,
      ],
      [
        table({
          title: "Active alerts",
          description:
            "Alerts of the in-service spike detector whose last transition at the end of the range is 'firing'. Gateway, cause and origin filters apply.",
          targets: [
            sqlTarget(
              `${activeAlerts(
                "started_at, severity, gateway, cause, origin, summary, count, baseline, runbook_url, alert_id",
              )}
ORDER BY indexOf(['critical', 'warning', 'info'], severity), started_at DESC
LIMIT 100`,
              "table",
            ),
          ],
          overrides: [
            column("started_at", { displayName: "since", unit: "dateTimeAsIso" }),
            column("count", { displayName: "per min", decimals: 0 }),
            column("baseline", { decimals: 1 }),
            column("cause", {
              links: [
                {
                  title: "Drill into ${__data.fields.cause} on ${__data.fields.gateway}",
                  url: "/d/gatewatch-cause/gatewatch-cause?var-cause=${__data.fields.cause}&var-gateway=${__data.fields.gateway}&${__url_time_range}",
                },
              ],
            }),
          ],
        }),
        12,
        10,
      ],
    ],
    [
      [
        timeseries({
          title: "Latency percentiles (time taken)",
          description: "Gateway time taken, p50/p90/p99 merged from the rollups' quantile states.",
          unit: "s",
          targets: [
            sqlTarget(
              `SELECT time, q[1] AS p50, q[2] AS p90, q[3] AS p99
FROM (
${overRollups(
  (r) => `  SELECT ${r.time} AS time, quantilesMerge(0.5, 0.9, 0.99)(time_taken) AS q
  FROM ${r.table}
  WHERE ${r.when}
    AND $__timeFilter(${r.bucket})
    AND ${OVERVIEW_FILTERS}
  GROUP BY time`,
)}
)
ORDER BY time`,
              "time_series",
            ),
          ],
        }),
        12,
        8,
      ],
      [
        timeseries({
          title: "Requests by origin (success excluded)",
          description: "Who produced the status: gateway, client, mTLS, WAF, backend.",
          unit: "reqps",
          stack: true,
          seriesLabel: "origin",
          targets: [
            sqlTarget(
              `SELECT time, origin, requests_per_s
FROM (
${overRollups(
  (r) => `  SELECT ${r.time} AS time, origin, sum(requests) / ${r.step} AS requests_per_s
  FROM ${r.table}
  WHERE ${r.when}
    AND $__timeFilter(${r.bucket})
    AND origin != 'none'
    AND ${OVERVIEW_FILTERS}
  GROUP BY time, origin`,
)}
)
ORDER BY time, origin`,
              "time_series",
            ),
          ],
        }),
        12,
        8,
      ],
    ],
  ]),
});

// ---------------------------------------------------------------------------------------------
// Cause drill-down.

const causeVariables = [
  chVariable({ name: "gateway", label: "Gateway", query: rollupValues("gateway") }),
  chVariable({ name: "listener", label: "Listener", query: rollupValues("listener", [selected("gateway")]) }),
  chVariable({
    name: "backend_pool",
    label: "Backend pool",
    query: rollupValues("backend_pool", [selected("gateway"), selected("listener")]),
  }),
  chVariable({ name: "origin", label: "Origin", query: rollupValues("origin", [selected("gateway")]) }),
  chVariable({
    name: "cause",
    label: "Cause",
    multi: false,
    // Problems before success, most frequent first, so the default is the biggest problem.
    query: `SELECT cause
FROM gatewatch.requests_1h
WHERE hour >= toStartOfHour($__fromTime) AND hour <= $__toTime
  AND ${selected("gateway")}
  AND ${selected("origin")}
GROUP BY cause
ORDER BY max(origin = 'none'), sum(requests) DESC, cause`,
  }),
  GATEWATCH_URL,
];

/** The cause's requests per second over time, split by `label` (an expression on a rollup column). */
const causeBy = (expression, label) => `SELECT time, ${label}, requests_per_s
FROM (
${overRollups(
  (r) => `  SELECT ${r.time} AS time, ${expression} AS ${label},
    sum(requests) / ${r.step} AS requests_per_s
  FROM ${r.table}
  WHERE ${r.when}
    AND $__timeFilter(${r.bucket})
    AND ${CAUSE_FILTERS}
  GROUP BY time, ${label}`,
)}
)
ORDER BY time, ${label}`;

const causeDashboard = dashboard({
  uid: "gatewatch-cause",
  title: "gatewatch / Cause drill-down",
  description:
    "One cause: when, where (backend pool, address, listener, host), how slow, and sample requests.",
  tags: ["cause"],
  variables: causeVariables,
  panels: layout([
    [
      [
        stat({
          title: "Requests with this cause",
          targets: [
            sqlTarget(
              `SELECT sum(requests) AS requests
FROM (
${overRollups(
  (r) => `  SELECT sum(requests) AS requests
  FROM ${r.table}
  WHERE ${r.when}
    AND $__timeFilter(${r.bucket})
    AND ${CAUSE_FILTERS}`,
)}
)`,
              "table",
            ),
          ],
        }),
        6,
        4,
      ],
      [
        stat({
          title: "Share of traffic",
          description:
            "This cause's share of all requests (internal traffic excluded) of the selected gateways, listeners and pools.",
          unit: "percentunit",
          decimals: 2,
          targets: [
            sqlTarget(
              `SELECT sum(cause_requests) / nullIf(sum(all_requests), 0) AS share
FROM (
${overRollups(
  (r) => `  SELECT sumIf(requests, cause = ${quoted("cause")}) AS cause_requests,
    sumIf(requests, cause != 'internal_traffic') AS all_requests
  FROM ${r.table}
  WHERE ${r.when}
    AND $__timeFilter(${r.bucket})
    AND ${selected("gateway")}
    AND ${selected("listener")}
    AND ${selected("backend_pool")}`,
)}
)`,
              "table",
            ),
          ],
        }),
        6,
        4,
      ],
      [
        stat({
          title: "p99 time taken",
          unit: "s",
          decimals: 2,
          targets: [
            sqlTarget(
              `SELECT quantilesMerge(0.5, 0.9, 0.99)(time_taken)[3] AS p99
FROM (
${overRollups(
  (r) => `  SELECT time_taken
  FROM ${r.table}
  WHERE ${r.when}
    AND $__timeFilter(${r.bucket})
    AND ${CAUSE_FILTERS}`,
)}
)`,
              "table",
            ),
          ],
        }),
        6,
        4,
      ],
      [
        stat({
          title: "Status codes",
          description: "Statuses this cause was logged with, most frequent first.",
          unit: "none",
          fields: "/^statuses$/",
          targets: [
            sqlTarget(
              `SELECT arrayStringConcat(groupArray(toString(status)), ', ') AS statuses
FROM (
  SELECT status, sum(requests) AS requests
  FROM (
${overRollups(
  (r) => `    SELECT status, requests
    FROM ${r.table}
    WHERE ${r.when}
      AND $__timeFilter(${r.bucket})
      AND ${CAUSE_FILTERS.replaceAll("\n    ", "\n      ")}`,
)}
  )
  GROUP BY status
  ORDER BY requests DESC
)`,
              "table",
            ),
          ],
        }),
        6,
        4,
      ],
    ],
    [
      [
        timeseries({
          title: "$cause over time, by status",
          unit: "reqps",
          stack: true,
          seriesLabel: "status_code",
          targets: [sqlTarget(causeBy("toString(status)", "status_code"), "time_series")],
        }),
        24,
        8,
      ],
    ],
    [
      [
        timeseries({
          title: "By backend pool",
          unit: "reqps",
          stack: true,
          seriesLabel: "pool",
          targets: [
            sqlTarget(causeBy("if(backend_pool = '', '(none)', backend_pool)", "pool"), "time_series"),
          ],
        }),
        12,
        8,
      ],
      [
        table({
          title: "By backend address (last 48 h of the range at most)",
          description: "From raw requests, so limited to the last two days of the range.",
          targets: [
            sqlTarget(
              `SELECT backend_pool, backend_address, count() AS requests,
  quantile(0.9)(time_taken) AS p90_time_taken, max(time) AS last_seen
FROM gatewatch.requests
WHERE ${RAW_RANGE}
    AND ${CAUSE_FILTERS}
GROUP BY backend_pool, backend_address
ORDER BY requests DESC
LIMIT 20`,
              "table",
            ),
          ],
          overrides: [
            column("p90_time_taken", { displayName: "p90 time taken", unit: "s" }),
            column("last_seen", { displayName: "last seen", unit: "dateTimeAsIso" }),
          ],
        }),
        12,
        8,
      ],
    ],
    [
      [
        timeseries({
          title: "By listener",
          unit: "reqps",
          stack: true,
          seriesLabel: "listener_name",
          targets: [
            sqlTarget(causeBy("if(listener = '', '(none)', listener)", "listener_name"), "time_series"),
          ],
        }),
        12,
        8,
      ],
      [
        table({
          title: "By host (last 48 h of the range at most)",
          description: "From raw requests, so limited to the last two days of the range.",
          targets: [
            sqlTarget(
              `SELECT host, listener, count() AS requests, uniq(client_ip) AS clients, max(time) AS last_seen
FROM gatewatch.requests
WHERE ${RAW_RANGE}
    AND ${CAUSE_FILTERS}
GROUP BY host, listener
ORDER BY requests DESC
LIMIT 20`,
              "table",
            ),
          ],
          overrides: [column("last_seen", { displayName: "last seen", unit: "dateTimeAsIso" })],
        }),
        12,
        8,
      ],
    ],
    [
      [
        timeseries({
          title: "Latency percentiles",
          description:
            "Time taken p50/p90/p99 and backend latency p90, merged from the rollups' quantile states.",
          unit: "s",
          targets: [
            sqlTarget(
              `SELECT time, t[1] AS p50, t[2] AS p90, t[3] AS p99, b[2] AS backend_p90
FROM (
${overRollups(
  (r) => `  SELECT ${r.time} AS time,
    quantilesMerge(0.5, 0.9, 0.99)(time_taken) AS t,
    quantilesMerge(0.5, 0.9, 0.99)(backend_latency) AS b
  FROM ${r.table}
  WHERE ${r.when}
    AND $__timeFilter(${r.bucket})
    AND ${CAUSE_FILTERS}
  GROUP BY time`,
)}
)
ORDER BY time`,
              "time_series",
            ),
          ],
          overrides: [column("backend_p90", { displayName: "backend p90" })],
        }),
        12,
        8,
      ],
      [
        barchart({
          title: "Latency distribution (last 48 h of the range at most)",
          description: "Requests by time taken, from raw requests.",
          xField: "time_taken",
          targets: [
            sqlTarget(
              `WITH [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60] AS bounds
SELECT
  if(i = 0, '> 60 s', concat('≤ ', toString(bounds[i]), ' s')) AS time_taken,
  count() AS requests
FROM (
  SELECT arrayFirstIndex(b -> assumeNotNull(time_taken) <= b, bounds) AS i
  FROM gatewatch.requests
  WHERE ${RAW_RANGE}
    AND time_taken IS NOT NULL
    AND ${CAUSE_FILTERS}
)
GROUP BY i
ORDER BY i = 0, i
LIMIT 20`,
              "table",
            ),
          ],
        }),
        12,
        8,
      ],
    ],
    [
      [
        table({
          title: "Recent requests",
          description:
            "The newest 100 requests with this cause (raw, last 48 h of the range at most). The transaction id links to gatewatch's explanation of the request.",
          targets: [
            sqlTarget(
              `SELECT time, gateway, listener, host, http_method, request_uri, status, backend_status, error_info,
  backend_pool, backend_address, time_taken, client_ip, rule, arrayStringConcat(evidence, ', ') AS evidence,
  transaction_id
FROM gatewatch.requests
WHERE ${RAW_RANGE}
    AND ${CAUSE_FILTERS}
ORDER BY time DESC
LIMIT 100`,
              "table",
            ),
          ],
          overrides: [
            column("time", { unit: "dateTimeAsIso" }),
            column("time_taken", { displayName: "time taken", unit: "s" }),
            column("transaction_id", { displayName: "transaction id", links: [EXPLAIN_LINK] }),
          ],
        }),
        24,
        12,
      ],
    ],
  ]),
});

// ---------------------------------------------------------------------------------------------
// WAF.

/** Filters of firewall_events (column `hostname`) and of the waf_blocks view (column `host`). */
const wafFilters = (hostColumn) =>
  [selected("gateway"), selected(hostColumn, "host"), selected("rule_group"), selected("rule_id")].join(
    "\n  AND ",
  );
/**
 * waf_blocks rows of the range. The view's time is the request's; its firewall records are logged
 * within seconds of it, so bounding `firewall_time` too lets ClickHouse skip old firewall parts.
 */
const WAF_BLOCKS_RANGE = `$__timeFilter(time)
  AND firewall_time >= $__fromTime - INTERVAL 5 MINUTE AND firewall_time <= $__toTime + INTERVAL 5 MINUTE`;

const firewallValues = (columnName, extra = []) =>
  [
    `SELECT DISTINCT ${columnName}`,
    "FROM gatewatch.firewall_events",
    `WHERE $__timeFilter(time) AND ${columnName} != ''`,
    ...extra.map((e) => `  AND ${e}`),
    `ORDER BY ${columnName}`,
    "LIMIT 1000",
  ].join("\n");

/** One row per blocked request of waf_blocks, with all its rules; `having` filters on the rules. */
const BLOCKED_REQUESTS = `SELECT time, gateway, host, request_uri, client_ip, transaction_id, matched_by,
  groupArray(rule_id) AS rules, groupArray(rule_group) AS rule_groups, groupArray(message) AS messages
FROM gatewatch.waf_blocks
WHERE ${WAF_BLOCKS_RANGE}
  AND ${selected("gateway")}
  AND ${selected("host")}
GROUP BY time, gateway, host, request_uri, client_ip, transaction_id, matched_by
HAVING $__conditionalAll(hasAny(rules, [${quoted("rule_id")}]), $rule_id)
  AND $__conditionalAll(hasAny(rule_groups, [${quoted("rule_group")}]), $rule_group)`;

const wafDashboard = dashboard({
  uid: "gatewatch-waf",
  title: "gatewatch / WAF",
  description: "Web application firewall: what was blocked, by which rules, for which URIs and clients.",
  tags: ["waf"],
  variables: [
    chVariable({ name: "gateway", label: "Gateway", query: rollupValues("gateway") }),
    chVariable({ name: "host", label: "Host", query: firewallValues("hostname", [selected("gateway")]) }),
    chVariable({
      name: "rule_group",
      label: "Rule group",
      query: firewallValues("rule_group", [selected("gateway")]),
    }),
    chVariable({
      name: "rule_id",
      label: "Rule",
      query: firewallValues("rule_id", [selected("gateway"), selected("rule_group")]),
    }),
    GATEWATCH_URL,
  ],
  panels: layout([
    [
      [
        stat({
          title: "Blocked requests",
          description: "Requests with cause waf_block (request rollups; only the gateway filter applies).",
          targets: [
            sqlTarget(
              `SELECT sum(requests) AS blocked_requests
FROM (
${overRollups(
  (r) => `  SELECT sum(requests) AS requests
  FROM ${r.table}
  WHERE ${r.when}
    AND $__timeFilter(${r.bucket})
    AND cause = 'waf_block'
    AND ${selected("gateway")}`,
)}
)`,
              "table",
            ),
          ],
        }),
        6,
        4,
      ],
      [
        stat({
          title: "Firewall records by action",
          description:
            "Rule evaluations logged by the WAF: blocked, matched (anomaly score contributions), detected (Detection mode).",
          targets: [
            sqlTarget(
              `SELECT countIf(action = 'blocked') AS blocked, countIf(action = 'matched') AS matched,
  countIf(action = 'detected') AS detected
FROM gatewatch.firewall_events
WHERE $__timeFilter(time)
  AND ${wafFilters("hostname")}`,
              "table",
            ),
          ],
        }),
        12,
        4,
      ],
      [
        stat({
          title: "Blocked client IPs",
          description: "Distinct client IPs with a blocking firewall record.",
          targets: [
            sqlTarget(
              `SELECT uniq(client_ip) AS blocked_clients
FROM gatewatch.firewall_events
WHERE $__timeFilter(time)
  AND action = 'blocked'
  AND ${wafFilters("hostname")}`,
              "table",
            ),
          ],
        }),
        6,
        4,
      ],
    ],
    [
      [
        timeseries({
          title: "Blocked vs matched vs detected",
          description: "Firewall records per second by action (firewall_events).",
          unit: "short",
          seriesLabel: "action",
          targets: [
            sqlTarget(
              // The bucket gets its own alias: an alias "time" would shadow the column in WHERE.
              `SELECT bucket AS time, action, records_per_s
FROM (
  SELECT $__timeInterval(time) AS bucket, action, count() / $__interval_s AS records_per_s
  FROM gatewatch.firewall_events
  WHERE $__timeFilter(time)
    AND ${wafFilters("hostname").replaceAll("\n  ", "\n    ")}
  GROUP BY bucket, action
)
ORDER BY time, action`,
              "time_series",
            ),
          ],
          overrides: [column("records_per_s", { unit: "reqps" })],
        }),
        12,
        8,
      ],
      [
        timeseries({
          title: "Blocked requests by gateway",
          description: "Requests with cause waf_block per second (request rollups).",
          unit: "reqps",
          stack: true,
          seriesLabel: "gateway",
          targets: [
            sqlTarget(
              `SELECT time, gateway, requests_per_s
FROM (
${overRollups(
  (r) => `  SELECT ${r.time} AS time, gateway, sum(requests) / ${r.step} AS requests_per_s
  FROM ${r.table}
  WHERE ${r.when}
    AND $__timeFilter(${r.bucket})
    AND cause = 'waf_block'
    AND ${selected("gateway")}
  GROUP BY time, gateway`,
)}
)
ORDER BY time, gateway`,
              "time_series",
            ),
          ],
        }),
        12,
        8,
      ],
    ],
    [
      [
        table({
          title: "Blocks by rule",
          description:
            "Rules whose records belong to blocked requests (waf_blocks). Click a rule to list its requests below.",
          targets: [
            sqlTarget(
              `SELECT rule_id, rule_group, any(message) AS message,
  uniqExact(time, client_ip, request_uri, transaction_id) AS blocked_requests, count() AS records
FROM gatewatch.waf_blocks
WHERE ${WAF_BLOCKS_RANGE}
  AND ${wafFilters("host")}
GROUP BY rule_id, rule_group
ORDER BY blocked_requests DESC, rule_id
LIMIT 50`,
              "table",
            ),
          ],
          overrides: [
            column("rule_id", {
              displayName: "rule",
              links: [
                {
                  title: "Requests matched by rule ${__data.fields.rule_id}",
                  url: "/d/gatewatch-waf/gatewatch-waf?${gateway:queryparam}&${host:queryparam}&var-rule_id=${__data.fields.rule_id}&${__url_time_range}",
                },
              ],
            }),
            column("blocked_requests", { displayName: "blocked requests" }),
          ],
        }),
        14,
        9,
      ],
      [
        table({
          title: "Blocks by rule group",
          targets: [
            sqlTarget(
              `SELECT rule_group, uniqExact(time, client_ip, request_uri, transaction_id) AS blocked_requests,
  uniqExact(rule_id) AS rules
FROM gatewatch.waf_blocks
WHERE ${WAF_BLOCKS_RANGE}
  AND ${wafFilters("host")}
GROUP BY rule_group
ORDER BY blocked_requests DESC
LIMIT 50`,
              "table",
            ),
          ],
          overrides: [column("blocked_requests", { displayName: "blocked requests" })],
        }),
        10,
        9,
      ],
    ],
    [
      [
        table({
          title: "Top blocked URIs",
          targets: [
            sqlTarget(
              `SELECT request_uri, host, uniqExact(time, client_ip, transaction_id) AS blocked_requests,
  uniq(client_ip) AS clients
FROM gatewatch.waf_blocks
WHERE ${WAF_BLOCKS_RANGE}
  AND ${wafFilters("host")}
GROUP BY request_uri, host
ORDER BY blocked_requests DESC
LIMIT 20`,
              "table",
            ),
          ],
          overrides: [column("blocked_requests", { displayName: "blocked requests" })],
        }),
        12,
        8,
      ],
      [
        table({
          title: "Top blocked client IPs",
          targets: [
            sqlTarget(
              `SELECT client_ip, uniqExact(time, request_uri, transaction_id) AS blocked_requests,
  uniq(request_uri) AS uris, max(time) AS last_seen
FROM gatewatch.waf_blocks
WHERE ${WAF_BLOCKS_RANGE}
  AND ${wafFilters("host")}
GROUP BY client_ip
ORDER BY blocked_requests DESC
LIMIT 20`,
              "table",
            ),
          ],
          overrides: [
            column("blocked_requests", { displayName: "blocked requests" }),
            column("last_seen", { displayName: "last seen", unit: "dateTimeAsIso" }),
          ],
        }),
        12,
        8,
      ],
    ],
    [
      [
        table({
          title: "Firewall records by client IP",
          description: "All firewall records (blocked, matched, detected) by client IP (firewall_events).",
          targets: [
            sqlTarget(
              `SELECT client_ip, countIf(action = 'blocked') AS blocked, countIf(action = 'matched') AS matched,
  countIf(action = 'detected') AS detected, uniq(rule_id) AS rules, max(time) AS last_seen
FROM gatewatch.firewall_events
WHERE $__timeFilter(time)
  AND ${wafFilters("hostname")}
GROUP BY client_ip
ORDER BY blocked DESC, matched + detected DESC
LIMIT 20`,
              "table",
            ),
          ],
          overrides: [column("last_seen", { displayName: "last seen", unit: "dateTimeAsIso" })],
        }),
        24,
        8,
      ],
    ],
    [
      [
        table({
          title: "Blocked requests (filtered by rule)",
          description:
            "The newest 100 blocked requests with their rules; with a rule or rule group selected, only requests whose records include it. The transaction id links to gatewatch's explanation.",
          targets: [
            sqlTarget(
              `SELECT time, gateway, host, request_uri, client_ip, arrayStringConcat(arrayDistinct(rules), ', ') AS rules,
  arrayStringConcat(arrayFilter(m -> m != '', arrayDistinct(messages)), ' | ') AS messages, matched_by, transaction_id
FROM (
${BLOCKED_REQUESTS.split("\n")
  .map((l) => `  ${l}`)
  .join("\n")}
)
ORDER BY time DESC
LIMIT 100`,
              "table",
            ),
          ],
          overrides: [
            column("time", { unit: "dateTimeAsIso" }),
            column("transaction_id", { displayName: "transaction id", links: [EXPLAIN_LINK] }),
          ],
        }),
        24,
        12,
      ],
    ],
  ]),
});

// ---------------------------------------------------------------------------------------------
// Pipeline health (Prometheus).

/** Selector on the scraped gatewatch replicas chosen by $instance. */
const sel = (matchers = "") => `{instance=~"$instance"${matchers === "" ? "" : `, ${matchers}`}}`;
const rate = (metric, matchers = "") => `rate(${metric}${sel(matchers)}[$__rate_interval])`;

const pipelineDashboard = dashboard({
  uid: "gatewatch-pipeline",
  title: "gatewatch / Pipeline health",
  description:
    "The gatewatch service itself: throughput, consumer lag, inserts, dead letters, alerts, label caps.",
  tags: ["pipeline"],
  time: { from: "now-3h", to: "now" },
  variables: [
    {
      type: "query",
      name: "instance",
      label: "Instance",
      datasource: PROM,
      query: "label_values(gatewatch_pipeline_records_total, instance)",
      definition: "label_values(gatewatch_pipeline_records_total, instance)",
      refresh: 2,
      multi: true,
      includeAll: true,
      allValue: ".*",
      current: { selected: true, text: ["All"], value: ["$__all"] },
      options: [],
      sort: 1,
      regex: "",
      hide: 0,
      skipUrlSync: false,
    },
  ],
  panels: layout([
    [
      [
        stat({
          title: "Records stored/s",
          unit: "short",
          decimals: 0,
          targets: [
            promTarget(
              `sum(${rate("gatewatch_pipeline_records_total", 'outcome="stored"')})`,
              "stored/s",
              "A",
              {
                instant: true,
                range: false,
              },
            ),
          ],
        }),
        6,
        4,
      ],
      [
        stat({
          title: "Since last insert",
          description: "Seconds since ClickHouse last acknowledged an insert.",
          unit: "s",
          thresholds: thresholdsOf(["green", null], ["orange", 120], ["red", 600]),
          targets: [
            promTarget(`time() - max(gatewatch_store_last_write_timestamp_seconds${sel()})`, "age", "A", {
              instant: true,
              range: false,
            }),
          ],
        }),
        6,
        4,
      ],
      [
        stat({
          title: "Dead letters in range",
          thresholds: thresholdsOf(["green", null], ["orange", 1]),
          targets: [
            promTarget(
              `sum(increase(gatewatch_pipeline_dead_letters_total${sel()}[$__range]))`,
              "dead letters",
              "A",
              {
                instant: true,
                range: false,
              },
            ),
          ],
        }),
        6,
        4,
      ],
      [
        stat({
          title: "Alerts firing",
          description: "Cause-spike alerts firing in the service now.",
          thresholds: thresholdsOf(["green", null], ["red", 1]),
          targets: [
            promTarget(`sum(gatewatch_alerts_firing${sel()})`, "firing", "A", {
              instant: true,
              range: false,
            }),
          ],
        }),
        6,
        4,
      ],
    ],
    [
      [
        timeseries({
          title: "Records by kind and outcome",
          unit: "short",
          targets: [
            promTarget(
              `sum by (kind, outcome) (${rate("gatewatch_pipeline_records_total")})`,
              "{{kind}} {{outcome}}",
            ),
          ],
        }),
        12,
        8,
      ],
      [
        timeseries({
          title: "Events received by partition",
          unit: "short",
          targets: [
            promTarget(`sum by (partition) (${rate("gatewatch_source_events_total")})`, "{{partition}}"),
          ],
        }),
        12,
        8,
      ],
    ],
    [
      [
        timeseries({
          title: "Consumer lag (seconds) by partition",
          description: "Age of the last event received when it was received.",
          unit: "s",
          targets: [promTarget(`max by (partition) (gatewatch_source_lag_seconds${sel()})`, "{{partition}}")],
        }),
        8,
        8,
      ],
      [
        timeseries({
          title: "Consumer lag (events) by partition",
          unit: "short",
          targets: [promTarget(`max by (partition) (gatewatch_source_lag_events${sel()})`, "{{partition}}")],
        }),
        8,
        8,
      ],
      [
        timeseries({
          title: "Checkpoint age by partition",
          unit: "s",
          targets: [
            promTarget(
              `max by (partition) (gatewatch_source_checkpoint_age_seconds${sel()})`,
              "{{partition}}",
            ),
          ],
        }),
        8,
        8,
      ],
    ],
    [
      [
        timeseries({
          title: "Insert latency by table",
          description: "Time to insert one batch into a table, retries included.",
          unit: "s",
          targets: [
            promTarget(
              `histogram_quantile(0.5, sum by (le, table) (${rate("gatewatch_store_insert_duration_seconds_bucket")}))`,
              "p50 {{table}}",
              "A",
            ),
            promTarget(
              `histogram_quantile(0.99, sum by (le, table) (${rate("gatewatch_store_insert_duration_seconds_bucket")}))`,
              "p99 {{table}}",
              "B",
            ),
          ],
        }),
        8,
        8,
      ],
      [
        timeseries({
          title: "Rows written by table",
          unit: "short",
          targets: [
            promTarget(`sum by (table) (${rate("gatewatch_store_rows_written_total")})`, "{{table}}"),
          ],
        }),
        8,
        8,
      ],
      [
        timeseries({
          title: "Insert retries",
          unit: "short",
          targets: [
            promTarget(
              `sum by (table, reason) (${rate("gatewatch_store_insert_retries_total")})`,
              "{{table}} {{reason}}",
            ),
          ],
        }),
        8,
        8,
      ],
    ],
    [
      [
        timeseries({
          title: "Dead letters by reason",
          unit: "short",
          targets: [
            promTarget(`sum by (reason) (${rate("gatewatch_pipeline_dead_letters_total")})`, "{{reason}}"),
          ],
        }),
        8,
        8,
      ],
      [
        timeseries({
          title: "Backpressure",
          description:
            "Batches admitted and not yet stored, batches waiting for a worker, records not yet stored.",
          unit: "short",
          targets: [
            promTarget(`sum(gatewatch_pipeline_batches_in_flight${sel()})`, "batches in flight", "A"),
            promTarget(`sum(gatewatch_pipeline_pool_queue_depth${sel()})`, "pool queue", "B"),
            promTarget(`sum(gatewatch_pipeline_pending_rows${sel()})`, "pending rows", "C"),
          ],
          overrides: [column("pending rows", { "custom.axisPlacement": "right" })],
        }),
        8,
        8,
      ],
      [
        timeseries({
          title: "Classification time per batch",
          unit: "s",
          targets: [
            promTarget(
              `histogram_quantile(0.99, sum by (le) (${rate("gatewatch_pipeline_batch_duration_seconds_bucket")}))`,
              "p99",
              "A",
            ),
            promTarget(
              `histogram_quantile(0.5, sum by (le) (${rate("gatewatch_pipeline_batch_duration_seconds_bucket")}))`,
              "p50",
              "B",
            ),
          ],
        }),
        8,
        8,
      ],
    ],
    [
      [
        timeseries({
          title: "Alerts firing by cause",
          description:
            "The service's spike detector (gatewatch_alerts_firing) and Prometheus's own gatewatch rules (ALERTS).",
          unit: "short",
          targets: [
            promTarget(
              `sum by (cause, severity) (gatewatch_alerts_firing${sel()})`,
              "{{cause}} ({{severity}})",
              "A",
            ),
            promTarget(
              'count by (alertname) (ALERTS{alertstate="firing", alertname=~"Gatewatch.*"})',
              "rule {{alertname}}",
              "B",
            ),
          ],
        }),
        8,
        8,
      ],
      [
        timeseries({
          title: "Alert notifications",
          unit: "short",
          targets: [
            promTarget(
              `sum by (target, outcome) (${rate("gatewatch_alert_notifications_total")})`,
              "{{target}} {{outcome}}",
            ),
          ],
        }),
        8,
        8,
      ],
      [
        timeseries({
          title: "Label overflow",
          description:
            "Values folded into 'other' because a label reached its cap (GATEWATCH_METRICS_LABEL_CAP).",
          unit: "short",
          targets: [promTarget(`sum by (label) (${rate("gatewatch_label_overflow_total")})`, "{{label}}")],
        }),
        8,
        8,
      ],
    ],
    [
      [
        timeseries({
          title: "Source errors, rebalances and throttling",
          unit: "short",
          targets: [
            promTarget(
              `sum by (kind) (${rate("gatewatch_source_receive_errors_total")})`,
              "errors {{kind}}",
              "A",
            ),
            promTarget(`sum(${rate("gatewatch_source_rebalances_total")})`, "rebalances", "B"),
            promTarget(`sum(${rate("gatewatch_source_throttle_seconds_total")})`, "throttled s/s", "C"),
          ],
        }),
        8,
        8,
      ],
      [
        timeseries({
          title: "Owned partitions",
          unit: "short",
          targets: [
            promTarget(`sum by (instance) (gatewatch_source_owned_partitions${sel()})`, "{{instance}}"),
          ],
        }),
        8,
        8,
      ],
      [
        timeseries({
          title: "Classified requests by gateway",
          description:
            "Requests per second, internal traffic excluded (recording rule gatewatch:requests_total:rate5m from deploy/prometheus).",
          unit: "reqps",
          targets: [promTarget("sum by (gateway) (gatewatch:requests_total:rate5m)", "{{gateway}}")],
        }),
        8,
        8,
      ],
    ],
  ]),
});

// ---------------------------------------------------------------------------------------------

export const DASHBOARDS = {
  "gatewatch-overview.json": overview,
  "gatewatch-cause.json": causeDashboard,
  "gatewatch-waf.json": wafDashboard,
  "gatewatch-pipeline.json": pipelineDashboard,
};

async function main() {
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const [name, model] of Object.entries(DASHBOARDS)) {
    const path = fileURLToPath(new URL(`dashboards/${name}`, import.meta.url));
    const config = (await prettier.resolveConfig(path)) ?? {};
    const text = await prettier.format(JSON.stringify(model), { ...config, filepath: path });
    if (!check) writeFileSync(path, text);
    else if (readFileSync(path, "utf8") !== text) {
      process.stderr.write(`${path} is stale: run node deploy/grafana/generate.mjs\n`);
      stale++;
    }
  }
  if (stale > 0) process.exitCode = 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
