/**
 * The Grafana provisioning and dashboards of deploy/grafana, without a Grafana: the dashboard JSON
 * is checked against a strict model (test/fixtures/grafana), every ClickHouse panel and variable
 * query is interpolated as Grafana and the ClickHouse plugin would (test/helpers/grafana-macros)
 * and run on an embedded store holding seeded demo data, for a 1-hour range (per-minute rollup) and
 * a 30-day range (per-hour rollup), with every variable on All and on one value; every PromQL
 * expression of the pipeline dashboard passes promtool and names only metrics gatewatch exports.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { causeInfo, type CauseId } from "@gatewatch/classify";
import { GatewatchMetrics } from "@gatewatch/metrics";
import { createDemoGenerator, type DemoOptions } from "@gatewatch/source-demo";
import type { AlertEventRow } from "@gatewatch/store-clickhouse";
import { Dashboard, type DataLink, type Panel, type Variable } from "../fixtures/grafana/dashboard-schema.js";
import { ROOT, runCli } from "../helpers/cli.js";
import {
  CLICKHOUSE_MACROS,
  applyConditionalAll,
  calculateIntervalMs,
  interpolateClickHouseQuery,
  interpolateVariables,
  leftoverVariables,
  type QueryContext,
  type VariableState,
} from "../helpers/grafana-macros.js";

const run = promisify(execFile);
const GRAFANA = join(ROOT, "deploy/grafana");
const FILES = [
  "gatewatch-overview.json",
  "gatewatch-cause.json",
  "gatewatch-waf.json",
  "gatewatch-pipeline.json",
];
const CH_UID = "gatewatch-clickhouse";
const PROM_UID = "gatewatch-prometheus";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The demo data ends here: an hour of dense traffic with every incident, 40 days of sparse history before. */
const END = Date.UTC(2026, 2, 9, 12);
const RANGES = {
  "1 h": { fromMs: END - HOUR, toMs: END, rollup: "requests_1m", stepMs: 60_000 },
  "30 days": { fromMs: END - 30 * DAY, toMs: END, rollup: "requests_1h", stepMs: HOUR },
} as const;
type RangeName = keyof typeof RANGES;
/** Grafana's max data points for a panel about 1000 pixels wide. */
const MAX_DATA_POINTS = 1000;

/** "One value" scenario: the slow_backend incident on the shop gateway, and the SQL injection WAF rule. */
const ONE_VALUE: Record<string, string> = {
  gateway: "agw-shop-prod-weu",
  listener: "lst-https-api",
  backend_pool: "pool-catalog-api",
  origin: "backend",
  cause: "backend_timeout",
  host: "www.contoso-shop.com",
  rule_group: "REQUEST-942-APPLICATION-ATTACK-SQLI",
  rule_id: "942100",
};
type Scenario = "all" | "one value";

const dashboards = FILES.map((file) => ({
  file,
  json: JSON.parse(readFileSync(join(GRAFANA, "dashboards", file), "utf8")) as unknown,
}));
/** The dashboards as the schema types them; the schema test below says where one does not match. */
const models = dashboards.map(({ file, json }) => ({ file, model: json as Dashboard }));
const clickhouseModels = models.filter(({ model }) => model.panels.every((p) => p.datasource.uid === CH_UID));

// ---------------------------------------------------------------------------------------------
// The store: demo data replayed by the CLI, then opened in this process (chdb: one per process).

const dir = mkdtempSync(join(tmpdir(), "gw-grafana-"));
const storeDir = join(dir, "store");
let client: ClickHouseClient;

function writeDemo(file: string, options: DemoOptions, ticks: number): void {
  const gen = createDemoGenerator(options);
  const decoder = new TextDecoder();
  const lines: string[] = [];
  for (let t = 0; t < ticks; t++) for (const body of gen.bodiesAt(t)) lines.push(decoder.decode(body));
  writeFileSync(file, lines.join("\n") + "\n");
}

const alert = (
  gateway: string,
  cause: CauseId,
  state: "firing" | "resolved",
  at: number,
  startedAt: number,
) => {
  const info = causeInfo(cause);
  return {
    at,
    alert_id: `${gateway}/${cause}/${startedAt}`,
    state,
    alertname: "GatewatchCauseSpikeDetected",
    gateway,
    cause,
    origin: info.origin,
    severity: info.severity,
    started_at: startedAt,
    count: 40,
    baseline: 2,
    share: 0.2,
    baseline_share: 0.01,
    summary: `${cause} on ${gateway}: 40/min, 20× its baseline of 2/min`,
    description: "",
    runbook_url: `docs/causes/${cause}.md`,
    labels: { alertname: "GatewatchCauseSpikeDetected", gateway, cause },
  } satisfies AlertEventRow;
};
/** Two alerts still firing at END, two resolved before it. */
const ALERTS = [
  alert("agw-shop-prod-weu", "no_healthy_backend", "firing", END - 55 * 60_000, END - 55 * 60_000),
  alert("agw-shop-prod-weu", "no_healthy_backend", "resolved", END - 45 * 60_000, END - 55 * 60_000),
  alert("agw-shop-prod-weu", "backend_timeout", "firing", END - 40 * 60_000, END - 40 * 60_000),
  alert("agw-partner-prod-weu", "mtls_certificate_expired", "firing", END - 20 * 60_000, END - 20 * 60_000),
  alert("agw-shop-prod-weu", "waf_block", "firing", END - 15 * 60_000, END - 15 * 60_000),
  alert("agw-shop-prod-weu", "waf_block", "resolved", END - 5 * 60_000, END - 15 * 60_000),
];
const ACTIVE_ALERT_IDS = [ALERTS[2]!.alert_id, ALERTS[3]!.alert_id];

beforeAll(async () => {
  const history = join(dir, "history.ndjson");
  const incidents = join(dir, "incidents.ndjson");
  // 40 days of sparse traffic (hourly ticks, an incident every 6 hours), two gateways...
  writeDemo(
    history,
    {
      seed: 11,
      startTimeMs: END - 40 * DAY,
      ratePerSecond: 0.005,
      tickMs: HOUR,
      gateways: 2,
      incidentPeriodSeconds: 6 * 3600,
      incidentDurationSeconds: 3600,
    },
    40 * 24 - 1,
  );
  // ...then the last hour at 3 requests/s on three gateways, every incident (one each 5 minutes).
  writeDemo(incidents, { seed: 7, startTimeMs: END - HOUR, ratePerSecond: 3, tickMs: 60_000 }, 60);
  const replay = await runCli([
    "replay",
    history,
    incidents,
    "--no-progress",
    "--store",
    `embedded:${storeDir}`,
  ]);
  expect(replay.code, replay.stderr).toBe(0);

  const { createChdbConnection } = await import("chdb/connection");
  type Connection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>["connection"]>;
  client = createClient({ connection: createChdbConnection({ path: storeDir }) as unknown as Connection });
  // The fixed range lies in the past: the table's 90-day TTL would let a merge drop the seeded alerts.
  await client.command({ query: "ALTER TABLE gatewatch.alert_events REMOVE TTL" });
  await client.insert({
    table: "gatewatch.alert_events",
    values: ALERTS,
    format: "JSONEachRow",
    clickhouse_settings: { async_insert: 0 },
  });
}, 120_000);

afterAll(async () => {
  await client?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Result {
  columns: { name: string; type: string }[];
  rows: Record<string, unknown>[];
}

async function query(sql: string): Promise<Result> {
  const rs = await client.query({
    query: sql,
    format: "JSON",
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  const json = await rs.json<Record<string, unknown>>();
  return { columns: json.meta ?? [], rows: json.data };
}

/** Tables a query reads, with the rows ClickHouse estimates it reads from each. */
async function tablesRead(sql: string): Promise<Record<string, number>> {
  const { rows } = await query(`EXPLAIN ESTIMATE ${sql}`);
  const read: Record<string, number> = {};
  for (const r of rows) read[String(r.table)] = (read[String(r.table)] ?? 0) + Number(r.rows);
  return read;
}

// ---------------------------------------------------------------------------------------------
// Static checks.

const GRAFANA_BUILTINS = new Set([
  "__from",
  "__to",
  "__interval",
  "__interval_ms",
  "__range",
  "__range_s",
  "__range_ms",
  "__rate_interval",
  "__data",
  "__field",
  "__url_time_range",
]);
const PLUGIN_MACROS = new Set([...Object.keys(CLICKHOUSE_MACROS).map((m) => `__${m}`), "__conditionalAll"]);

/** Names of the variables a text refers to (Grafana's variable syntax). */
function referencedVariables(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(/\$(\w+)|\[\[(\w+?)(?::\w+)?\]\]|\$\{(\w+)(?:\.[^:}]+)?(?::[^}]+)?\}/g))
    names.push(m[1] ?? m[2] ?? m[3]!);
  return names;
}

type Override = Panel["fieldConfig"]["overrides"][number];
/** The data links an override sets (the schema checked their shape). */
const linksOf = (o: Override): DataLink[] =>
  o.properties.flatMap((p) => (p.id === "links" ? (p.value as DataLink[]) : []));
const dataLinks = (panel: Panel): DataLink[] => panel.fieldConfig.overrides.flatMap(linksOf);

/** Every text of a panel Grafana interpolates: title, queries, series names, data links. */
function panelTexts(panel: Panel): string[] {
  const texts = [panel.title, panel.fieldConfig.defaults.displayName ?? ""];
  for (const t of panel.targets) texts.push("rawSql" in t ? t.rawSql : t.expr);
  for (const o of panel.fieldConfig.overrides) for (const l of linksOf(o)) texts.push(l.title, l.url);
  return texts;
}

describe("Grafana provisioning", () => {
  interface Provisioned {
    apiVersion: number;
    datasources: { uid: string; [key: string]: unknown }[];
    providers: { type: string; folder: string; options: { path: string }; [key: string]: unknown }[];
  }
  const load = (file: string) =>
    parseYaml(readFileSync(join(GRAFANA, "provisioning", file), "utf8")) as Provisioned;
  const datasources = load("datasources/gatewatch.yaml");
  const providers = load("dashboards/gatewatch.yaml");

  it("provisions the ClickHouse datasource over HTTP and Prometheus, configured from the environment", () => {
    expect(datasources.apiVersion).toBe(1);
    const byUid = new Map(datasources.datasources.map((d) => [d.uid, d]));
    expect([...byUid.keys()].sort()).toEqual([CH_UID, PROM_UID]);
    const ch = byUid.get(CH_UID)!;
    expect(ch).toMatchObject({
      type: "grafana-clickhouse-datasource",
      access: "proxy",
      jsonData: {
        protocol: "http",
        host: "$GRAFANA_GATEWATCH_CLICKHOUSE_HOST",
        port: "$GRAFANA_GATEWATCH_CLICKHOUSE_PORT",
        secure: "$GRAFANA_GATEWATCH_CLICKHOUSE_SECURE",
        username: "$GRAFANA_GATEWATCH_CLICKHOUSE_USER",
        defaultDatabase: "gatewatch",
      },
      secureJsonData: { password: "$GRAFANA_GATEWATCH_CLICKHOUSE_PASSWORD" },
    });
    expect(byUid.get(PROM_UID)).toMatchObject({
      type: "prometheus",
      url: "$GRAFANA_GATEWATCH_PROMETHEUS_URL",
    });
    // No secret or address is written into the file itself.
    const text = readFileSync(join(GRAFANA, "provisioning/datasources/gatewatch.yaml"), "utf8");
    expect(text).not.toMatch(/password:\s*[^$\s]/);
  });

  it("loads the dashboards folder, whose four dashboards have distinct uids", () => {
    expect(providers.apiVersion).toBe(1);
    expect(providers.providers).toHaveLength(1);
    const provider = providers.providers[0]!;
    expect(provider).toMatchObject({ type: "file", folder: "gatewatch" });
    // deploy/grafana is mounted at /etc/grafana/gatewatch (README): the provider reads its dashboards/.
    const mount = "/etc/grafana/gatewatch/";
    expect(provider.options.path.startsWith(mount), provider.options.path).toBe(true);
    const folder = join(GRAFANA, provider.options.path.slice(mount.length));
    expect(folder).toBe(join(GRAFANA, "dashboards"));
    expect(readdirSync(folder).sort()).toEqual([...FILES].sort());
    expect(new Set(models.map((m) => m.model.uid)).size).toBe(FILES.length);
  });

  it("has dashboards that are what deploy/grafana/generate.mjs writes", async () => {
    const r = await run(process.execPath, [join(GRAFANA, "generate.mjs"), "--check"], { cwd: ROOT }).catch(
      (err: { stderr?: string; code?: number }) => err,
    );
    expect("code" in r ? r.code : 0, "stderr" in r ? r.stderr : "").toBe(0);
  });
});

describe.each(dashboards)("dashboard $file", ({ file, json }) => {
  it("matches the Grafana dashboard model", () => {
    const parsed = Dashboard.safeParse(json);
    expect(parsed.success, parsed.error ? JSON.stringify(parsed.error.issues, null, 1) : "").toBe(true);
  });

  const model = models.find((m) => m.file === file)!.model;
  const variables = new Map(model.templating.list.map((v) => [v.name, v]));

  it("lays panels out on the 24-column grid without overlaps, with unique ids", () => {
    const ids = model.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of model.panels) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    for (const [i, a] of model.panels.entries())
      for (const b of model.panels.slice(i + 1)) {
        const overlap =
          a.gridPos.x < b.gridPos.x + b.gridPos.w &&
          b.gridPos.x < a.gridPos.x + a.gridPos.w &&
          a.gridPos.y < b.gridPos.y + b.gridPos.h &&
          b.gridPos.y < a.gridPos.y + a.gridPos.h;
        expect(overlap, `${a.title} overlaps ${b.title}`).toBe(false);
      }
  });

  it("uses only the provisioned datasources, the same for a panel and its targets", () => {
    const types = { [CH_UID]: "grafana-clickhouse-datasource", [PROM_UID]: "prometheus" };
    const refs = [
      ...model.panels.flatMap((p) => [p.datasource, ...p.targets.map((t) => t.datasource)]),
      ...model.templating.list.flatMap((v) => ("datasource" in v ? [v.datasource] : [])),
    ];
    for (const ref of refs) expect(types[ref.uid as keyof typeof types], ref.uid).toBe(ref.type);
    for (const p of model.panels)
      for (const t of p.targets) expect(t.datasource, p.title).toEqual(p.datasource);
    for (const p of model.panels) {
      const refIds = p.targets.map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
    }
  });

  it("defines every variable it uses, before any variable query that uses it", () => {
    const check = (text: string, defined: Set<string>, where: string) => {
      for (const name of referencedVariables(text)) {
        if (name.startsWith("__")) {
          expect(GRAFANA_BUILTINS.has(name) || PLUGIN_MACROS.has(name), `${where}: $${name}`).toBe(true);
        } else expect(defined.has(name), `${where}: $${name} is not defined`).toBe(true);
      }
    };
    const before = new Set<string>();
    for (const v of model.templating.list) {
      if (v.type === "query") check(v.query, before, `variable ${v.name}`);
      before.add(v.name);
    }
    for (const p of model.panels) for (const text of panelTexts(p)) check(text, before, p.title);
    // $__conditionalAll needs a plain variable reference to detect All (plugin docs): with every
    // variable on All, each call must become 1=1.
    const allSelected = model.templating.list.map((v) => ({ name: v.name, value: "$__all" }));
    for (const p of model.panels)
      for (const text of panelTexts(p)) {
        const calls = text.split("$__conditionalAll(").length - 1;
        const expanded = applyConditionalAll(text, allSelected);
        expect(expanded, p.title).not.toContain("$__conditionalAll(");
        expect(expanded.split("1=1").length - text.split("1=1").length, p.title).toBe(calls);
      }
  });

  it("links only to gatewatch dashboards and their variables", () => {
    const uids = new Map(
      models.map((m) => [m.model.uid, new Set(m.model.templating.list.map((v) => v.name))]),
    );
    for (const p of model.panels)
      for (const link of dataLinks(p)) {
        if (link.url.startsWith("${gatewatch_url}/api/v1/explain/")) {
          expect(variables.get("gatewatch_url")?.type, p.title).toBe("constant");
          continue;
        }
        const target = /^\/d\/([\w-]+)\/[\w-]+\?/.exec(link.url);
        expect(target, link.url).not.toBeNull();
        const targetVars = uids.get(target![1]!);
        expect(targetVars, link.url).toBeDefined();
        for (const m of link.url.matchAll(/var-(\w+)=/g)) expect(targetVars!.has(m[1]!), link.url).toBe(true);
        for (const m of link.url.matchAll(/\$\{(\w+):queryparam\}/g))
          expect(targetVars!.has(m[1]!), link.url).toBe(true);
        expect(link.url, "keeps the time range").toContain("${__url_time_range}");
      }
  });
});

// ---------------------------------------------------------------------------------------------
// ClickHouse queries against the demo data.

const NUMERIC = /^(Nullable\()?(U?Int\d+|Float\d+|Decimal)/;
const TIME = /^(Nullable\()?(DateTime|Date)/;
const TEXT = /^(Nullable\()?(LowCardinality\()?String/;

/** Variable states for a scenario, resolving each query variable in order as Grafana does. */
async function resolveVariables(
  list: readonly Variable[],
  range: RangeName,
  scenario: Scenario,
): Promise<VariableState[]> {
  const states: VariableState[] = [];
  const ctx: QueryContext = {
    ...RANGES[range],
    intervalMs: calculateIntervalMs(RANGES[range].toMs - RANGES[range].fromMs, MAX_DATA_POINTS),
  };
  for (const v of list) {
    if (v.type === "constant") {
      states.push({ name: v.name, value: v.query });
      continue;
    }
    if (v.type === "custom") {
      const current = v.current as { value: string };
      states.push({ name: v.name, value: current.value, options: v.options.map((o) => o.value) });
      continue;
    }
    const sql = interpolateClickHouseQuery(v.query, states, ctx);
    expect(leftoverVariables(sql), `variable ${v.name}`).toEqual([]);
    const result = await query(sql);
    // metricFindQuery: one column (text = value) or two (value, text).
    expect(result.columns.length, `variable ${v.name}`).toBeGreaterThanOrEqual(1);
    expect(result.columns.length, `variable ${v.name}`).toBeLessThanOrEqual(2);
    const options = result.rows.map((r) => String(r[result.columns[0]!.name]));
    expect(options.length, `variable ${v.name} has options`).toBeGreaterThan(0);
    expect(options, `variable ${v.name} lists no empty value`).not.toContain("");
    const wanted = ONE_VALUE[v.name];
    let value: string | string[];
    if (v.multi && scenario === "all") value = "$__all";
    else {
      expect(wanted, `a value for ${v.name}`).toBeDefined();
      expect(options, `variable ${v.name}`).toContain(wanted);
      value = v.multi ? [wanted!] : wanted!;
    }
    states.push({ name: v.name, multi: v.multi, includeAll: v.includeAll, value, options });
  }
  return states;
}

/** Panels whose queries may return no rows in a scenario, and why. */
const MAY_BE_EMPTY: Record<string, string> = {};

interface PanelRun {
  dashboard: string;
  panel: Panel;
  range: RangeName;
  scenario: Scenario;
  sql: string;
  result: Result;
}
const runs: PanelRun[] = [];

describe.each(clickhouseModels.map((m) => ({ file: m.file, model: m.model })))(
  "ClickHouse queries of $file",
  ({ file, model }) => {
    describe.each(Object.keys(RANGES) as RangeName[])("over %s", (range) => {
      it.each(["all", "one value"] as Scenario[])(
        "run with variables at %s and return the columns their panels expect",
        async (scenario) => {
          const states = await resolveVariables(model.templating.list, range, scenario);
          const { fromMs, toMs } = RANGES[range];
          for (const panel of model.panels) {
            const ctx: QueryContext = {
              fromMs,
              toMs,
              intervalMs: calculateIntervalMs(
                toMs - fromMs,
                MAX_DATA_POINTS,
                "interval" in panel ? panel.interval : undefined,
              ),
            };
            for (const target of panel.targets) {
              if (!("rawSql" in target)) continue;
              const where = `${file} / ${panel.title} / ${range} / ${scenario}`;
              const sql = interpolateClickHouseQuery(target.rawSql, states, ctx);
              expect(leftoverVariables(sql), where).toEqual([]);
              let result: Result;
              try {
                result = await query(sql);
              } catch (err) {
                throw new Error(`${where}: ${String(err)}\n${sql}`);
              }
              checkColumns(panel, target.format, result, where);
              if (!MAY_BE_EMPTY[panel.title])
                expect(result.rows.length, `${where}: no rows`).toBeGreaterThan(0);
              runs.push({ dashboard: file, panel, range, scenario, sql, result });
            }
          }
        },
      );
    });
  },
);

function checkColumns(panel: Panel, format: 0 | 1, result: Result, where: string): void {
  const names = result.columns.map((c) => c.name);
  const typeOf = (name: string) => result.columns.find((c) => c.name === name)?.type ?? "";
  expect(new Set(names).size, `${where}: duplicate columns ${names.join(", ")}`).toBe(names.length);
  for (const n of names)
    expect(n, `${where}: column names are readable identifiers`).toMatch(/^[a-z][a-z0-9_]*$/);
  for (const o of panel.fieldConfig.overrides)
    expect(names, `${where}: override of ${o.matcher.options}`).toContain(o.matcher.options);
  for (const link of dataLinks(panel))
    for (const m of `${link.title} ${link.url}`.matchAll(/\$\{__data\.fields\.(\w+)\}/g))
      expect(names, `${where}: data link field ${m[1]}`).toContain(m[1]);
  const numeric = names.filter((n) => NUMERIC.test(typeOf(n)));
  for (const m of (panel.fieldConfig.defaults.displayName ?? "").matchAll(/\$\{__field\.labels\.(\w+)\}/g))
    expect(TEXT.test(typeOf(m[1]!)), `${where}: series label ${m[1]}`).toBe(true);
  switch (panel.type) {
    case "timeseries": {
      expect(format, `${where}: time series format`).toBe(0);
      expect(TIME.test(typeOf("time")), `${where}: a time column, got ${names.join(", ")}`).toBe(true);
      expect(numeric.length, `${where}: numeric columns`).toBeGreaterThan(0);
      for (const n of names)
        if (n !== "time")
          expect(NUMERIC.test(typeOf(n)) || TEXT.test(typeOf(n)), `${where}: ${n} ${typeOf(n)}`).toBe(true);
      // The plugin turns long frames (a text column per series) into wide ones only when sorted by time.
      const times = result.rows.map((r) => Date.parse(`${String(r.time).replace(" ", "T")}Z`));
      for (let i = 1; i < times.length; i++)
        expect(times[i]! >= times[i - 1]!, `${where}: sorted by time`).toBe(true);
      break;
    }
    case "stat": {
      expect(format, where).toBe(1);
      const fields = panel.options.reduceOptions.fields;
      if (fields === "") expect(numeric.length, `${where}: a numeric value`).toBeGreaterThan(0);
      else
        expect(
          names.some((n) => new RegExp(fields.slice(1, -1)).test(n)),
          `${where}: ${fields}`,
        ).toBe(true);
      expect(result.rows.length, `${where}: one value`).toBe(1);
      break;
    }
    case "table": {
      expect(format, where).toBe(1);
      const displayNames = new Set(names);
      for (const o of panel.fieldConfig.overrides)
        for (const p of o.properties) if (p.id === "displayName") displayNames.add(p.value as string);
      for (const s of panel.options.sortBy)
        expect(displayNames.has(s.displayName), `${where}: sort by ${s.displayName}`).toBe(true);
      break;
    }
    case "barchart":
      expect(format, where).toBe(1);
      expect(names, `${where}: x field`).toContain(panel.options.xField);
      expect(numeric.length, `${where}: numeric columns`).toBeGreaterThan(0);
      break;
  }
}

describe("ClickHouse queries: rollups and raw data", () => {
  const switching = () =>
    runs.filter((r) => r.scenario === "all" && /requests_1m/.test(r.sql) && /requests_1h/.test(r.sql));

  it("read the per-minute rollup for an hour and the per-hour rollup for 30 days, never both", async () => {
    expect(switching().length).toBeGreaterThan(10);
    for (const r of switching()) {
      const read = await tablesRead(r.sql);
      const other = r.range === "1 h" ? "requests_1h" : "requests_1m";
      expect(read[RANGES[r.range].rollup] ?? 0, `${r.panel.title} / ${r.range}`).toBeGreaterThan(0);
      expect(read[other] ?? 0, `${r.panel.title} / ${r.range} reads ${other}`).toBe(0);
      expect(read.requests ?? 0, `${r.panel.title} / ${r.range} reads raw requests`).toBe(0);
    }
  });

  it("bucket time series by the rollup's step: minutes for an hour, hours for 30 days", () => {
    const series = switching().filter((r) => r.panel.type === "timeseries");
    expect(series.length).toBeGreaterThan(5);
    for (const range of Object.keys(RANGES) as RangeName[]) {
      const { stepMs } = RANGES[range];
      const gaps: number[] = [];
      for (const r of series.filter((x) => x.range === range)) {
        const times = [
          ...new Set(r.result.rows.map((row) => Date.parse(`${String(row.time).replace(" ", "T")}Z`))),
        ];
        expect(times.length, `${r.panel.title} / ${range}`).toBeGreaterThan(1);
        for (const [i, t] of times.slice(1).entries()) {
          const gap = t - times[i]!;
          expect(gap % stepMs, `${r.panel.title} / ${range}: ${gap} ms between points`).toBe(0);
          gaps.push(gap);
        }
      }
      // Busy series have a point in every bucket: the buckets are the rollup's, not coarser.
      expect(Math.min(...gaps), range).toBe(stepMs);
    }
  });

  it("read raw requests only in panels that LIMIT their rows", async () => {
    const raw: string[] = [];
    for (const r of runs.filter((x) => x.scenario === "all" && x.range === "30 days")) {
      const read = await tablesRead(r.sql);
      if ((read.requests ?? 0) === 0) continue;
      raw.push(r.panel.title);
      expect(r.sql, `${r.dashboard} / ${r.panel.title}`).toMatch(/\bLIMIT \d+\s*$/);
    }
    expect(raw.length).toBeGreaterThan(0);
  });

  it("read only the range's parts of firewall_events, on both sides of the waf_blocks join", async () => {
    const { rows } = await query("SELECT count() AS n FROM gatewatch.firewall_events");
    const total = Number(rows[0]!.n);
    const waf = runs.filter(
      (r) => r.scenario === "all" && r.range === "1 h" && /firewall_events|waf_blocks/.test(r.sql),
    );
    expect(waf.length).toBeGreaterThan(5);
    for (const r of waf) {
      const read = await tablesRead(r.sql);
      expect(read.firewall_events ?? 0, r.panel.title).toBeLessThan(total);
    }
  });

  it("count every request once: the overview's total matches the raw table", async () => {
    for (const range of Object.keys(RANGES) as RangeName[]) {
      const total = runs.find(
        (r) =>
          r.dashboard === "gatewatch-overview.json" &&
          r.panel.title === "Requests" &&
          r.range === range &&
          r.scenario === "all",
      );
      expect(total, range).toBeDefined();
      const { fromMs, toMs } = RANGES[range];
      const raw = await query(
        `SELECT count() AS n FROM gatewatch.requests WHERE cause != 'internal_traffic' AND time >= fromUnixTimestamp64Milli(${fromMs}) AND time < fromUnixTimestamp64Milli(${toMs})`,
      );
      expect(Number(raw.rows[0]!.n)).toBeGreaterThan(0);
      expect(Number(total!.result.rows[0]!.requests), range).toBe(Number(raw.rows[0]!.n));
    }
  });

  it("list the alerts still firing at the end of the range", () => {
    for (const r of runs.filter((x) => x.panel.title === "Active alerts" && x.scenario === "all")) {
      expect(r.result.rows.map((row) => row.alert_id).sort(), r.range).toEqual([...ACTIVE_ALERT_IDS].sort());
    }
    const one = runs.filter((x) => x.panel.title === "Active alerts" && x.scenario === "one value");
    expect(one.length).toBe(2);
    for (const r of one) expect(r.result.rows.map((row) => row.cause)).toEqual(["backend_timeout"]);
  });
});

// ---------------------------------------------------------------------------------------------
// Prometheus dashboard.

const RULES_FILE = join(ROOT, "deploy/prometheus/gatewatch.rules.yml");

/** Metric names gatewatch exports, with their label names (histograms expanded to their series). */
function exportedMetrics(): Map<string, Set<string>> {
  const metrics = new GatewatchMetrics({ durationBuckets: [0.1, 1] });
  const out = new Map<string, Set<string>>();
  for (const m of metrics.registry.getMetricsAsArray() as unknown as {
    name: string;
    type: string;
    labelNames?: string[];
  }[]) {
    const labels = new Set(m.labelNames ?? []);
    if (m.type === "histogram") {
      out.set(`${m.name}_bucket`, new Set([...labels, "le"]));
      out.set(`${m.name}_sum`, labels);
      out.set(`${m.name}_count`, labels);
    } else if (m.type === "summary") {
      out.set(m.name, new Set([...labels, "quantile"]));
      out.set(`${m.name}_sum`, labels);
      out.set(`${m.name}_count`, labels);
    } else out.set(m.name, labels);
  }
  return out;
}

/** Recording rules of deploy/prometheus, with the labels their `sum by (...)` keeps. */
function recordingRules(): Map<string, Set<string> | undefined> {
  const file = parseYaml(readFileSync(RULES_FILE, "utf8")) as {
    groups: { rules: { record?: string; expr: string }[] }[];
  };
  const out = new Map<string, Set<string> | undefined>();
  for (const rule of file.groups.flatMap((g) => g.rules))
    if (rule.record) {
      const by = /^sum by \(([^)]*)\)/.exec(rule.expr);
      out.set(rule.record, by ? new Set(by[1]!.split(",").map((s) => s.trim())) : undefined);
    }
  return out;
}

/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = ["instance", "job"];
/** Prometheus's own series of its alerting rules. */
const ALERTS_LABELS = new Set(["alertname", "alertstate", "severity", "cause", "origin", "gateway"]);

/**
 * The metric selectors of a PromQL expression: each metric with the label names of its matchers,
 * and the label names of `by`/`without`/`on`/`ignoring` clauses.
 */
function promqlNames(expr: string): { metrics: { name: string; labels: string[] }[]; grouping: string[] } {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const grouping: string[] = [];
  let rest = noStrings.replace(
    /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g,
    (_m, _k, list: string) => {
      grouping.push(
        ...list
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
      );
      return " ";
    },
  );
  rest = rest.replace(/\[[^\]]*\]/g, " ");
  const metrics: { name: string; labels: string[] }[] = [];
  const keywords = new Set([
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "and",
    "or",
    "unless",
  ]);
  for (const m of rest.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?/g)) {
    const [, name, matchers, call] = m;
    if (call || keywords.has(name!) || /^\d/.test(name!)) continue;
    const labels = [...(matchers ?? "").matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)].map((x) => x[1]!);
    metrics.push({ name: name!, labels });
  }
  return { metrics, grouping };
}

describe("Prometheus queries of gatewatch-pipeline.json", () => {
  const model = models.find((m) => m.file === "gatewatch-pipeline.json")!.model;
  const exported = exportedMetrics();
  const rules = recordingRules();
  const labelsOf = (name: string): Set<string> | undefined =>
    name === "ALERTS" ? ALERTS_LABELS : (exported.get(name) ?? rules.get(name));
  const instance = model.templating.list.find((v) => v.name === "instance")!;
  const scenarios: Record<Scenario, VariableState[]> = {
    all: [
      {
        name: "instance",
        multi: true,
        includeAll: true,
        allValue: (instance as { allValue?: string }).allValue,
        value: "$__all",
        options: [],
      },
    ],
    "one value": [
      { name: "instance", multi: true, includeAll: true, value: ["gatewatch-0.gatewatch:9464"], options: [] },
    ],
  };
  const ctx: QueryContext = { fromMs: END - 3 * HOUR, toMs: END, intervalMs: 15_000 };
  const targets = model.panels.flatMap((p) =>
    p.targets.flatMap((t) =>
      "expr" in t ? [{ panel: p, refId: t.refId, expr: t.expr, legend: t.legendFormat }] : [],
    ),
  );

  it("parse with promtool once Grafana has replaced the variables", async () => {
    expect(targets.length).toBeGreaterThan(20);
    const file = join(dir, "panels.rules.yml");
    const rulesYaml = {
      groups: (Object.keys(scenarios) as Scenario[]).map((scenario) => ({
        name: `grafana-panels-${scenario.replace(" ", "-")}`,
        rules: targets.map((t) => {
          const expr = interpolateVariables(t.expr, scenarios[scenario], ctx, "prometheus");
          expect(leftoverVariables(expr), `${t.panel.title}: ${expr}`).toEqual([]);
          return { record: `grafana:panel_${t.panel.id}_${t.refId}`, expr };
        }),
      })),
    };
    writeFileSync(file, JSON.stringify(rulesYaml, null, 2));
    const promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].find((p) => existsSync(p));
    expect(promtool, "promtool not found: install the Debian package `prometheus`").toBeDefined();
    const r = await run(promtool!, ["check", "rules", file]).catch(
      (err: { stdout?: string; stderr?: string; code?: number }) => err,
    );
    expect("code" in r ? r.code : 0, `${r.stdout ?? ""}${r.stderr ?? ""}`).toBe(0);
  });

  it("name only metrics and labels gatewatch exports (or its recording rules, or ALERTS)", () => {
    const variableQuery = /^label_values\((\w+), *(\w+)\)$/.exec(
      instance.type === "query" ? instance.query : "",
    );
    expect(variableQuery, "instance variable query").not.toBeNull();
    expect(exported.has(variableQuery![1]!), variableQuery![1]).toBe(true);
    expect(TARGET_LABELS).toContain(variableQuery![2]);
    for (const t of targets) {
      const where = `${t.panel.title} ${t.refId}: ${t.expr}`;
      const { metrics, grouping } = promqlNames(t.expr);
      expect(metrics.length, where).toBeGreaterThan(0);
      const available = new Set<string>(TARGET_LABELS);
      for (const m of metrics) {
        const labels = labelsOf(m.name);
        expect(labels !== undefined || rules.has(m.name), `${where}: unknown metric ${m.name}`).toBe(true);
        for (const l of labels ?? []) available.add(l);
        for (const l of m.labels)
          expect(
            l === "__name__" || TARGET_LABELS.includes(l) || (labels?.has(l) ?? false),
            `${where}: ${m.name} has no label ${l}`,
          ).toBe(true);
      }
      for (const l of grouping) expect(available.has(l), `${where}: no label ${l} to group by`).toBe(true);
      // A legend shows only labels the query's result keeps.
      const kept = grouping.length > 0 ? new Set(grouping) : available;
      for (const m of t.legend.matchAll(/\{\{\s*(\w+)\s*\}\}/g))
        expect(kept.has(m[1]!), `${where}: legend {{${m[1]}}}`).toBe(true);
    }
  });
});
