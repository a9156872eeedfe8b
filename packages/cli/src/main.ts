/**
 * The `gatewatch` command. Parsing is commander's; every setting flag is generated from the
 * configuration table so flags, environment variables and the README cannot drift apart.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import { buildPrometheusRules } from "@gatewatch/alerting";
import { CAUSE_IDS, renderCauseDoc, renderCauseIndex } from "@gatewatch/classify";
import {
  SETTINGS,
  createLogger,
  findStoreHolder,
  loadConfig,
  parseDuration as parseDurationText,
  parseInsightParams,
  runInsight,
  openMigratedStore,
  openStore,
  replay,
  replayDeadLetters,
  runService,
  type Config,
  type Flags,
  type Insight,
  type InsightResults,
} from "@gatewatch/ingestor";
import { GatewatchError, isGatewatchError } from "@gatewatch/pipeline";
import { classifyCommand } from "./classify-command.js";
import { ReplayProgressView, formatReplaySummary } from "./progress.js";
import { renderExplain, renderTop, renderTrends } from "./render.js";

type SettingKey = keyof typeof SETTINGS;

const STORE_KEYS: SettingKey[] = [
  "store",
  "apiToken",
  "storeCluster",
  "storePasswordFile",
  "storeCaFile",
  "storeRequestTimeoutMs",
  "logLevel",
  "retentionRequestsDays",
  "retentionFirewallDays",
  "retentionRollupDays",
  "retentionRollupHourDays",
  "retentionDeadLetterDays",
];
const PIPELINE_KEYS: SettingKey[] = [
  ...STORE_KEYS,
  "threads",
  "maxInFlight",
  "batchMaxBodies",
  "batchMaxBytes",
  "maxBodyBytes",
  "deadLetterRawChars",
  "backendTimeoutSeconds",
  "shutdownTimeoutSeconds",
  "insertMaxDelayMs",
];

/** `--api`: read through a running service (it holds the embedded store) instead of opening the store. */
const API_OPTION = [
  "--api <url>",
  "ask a running gatewatch service (e.g. http://127.0.0.1:9464) instead of opening the store",
] as const;

function addSettings(cmd: Command, keys: SettingKey[]): Command {
  for (const key of keys) {
    const s = SETTINGS[key];
    cmd.addOption(new Option(`${s.flag} <value>`, `${s.doc} [env ${s.env}]`));
  }
  return cmd;
}

function config(opts: Record<string, unknown>): Config {
  const flags: Flags = {};
  for (const key of Object.keys(SETTINGS) as SettingKey[])
    if (opts[key] !== undefined) flags[key] = opts[key];
  return loadConfig(process.env, flags);
}

export function buildProgram(): Command {
  const program = new Command("gatewatch")
    .description(
      "Classify Azure Application Gateway status codes by cause; store in ClickHouse; export Prometheus metrics.",
    )
    .version("0.1.0")
    .showHelpAfterError()
    .configureOutput({ outputError: (str, write) => write(str) });

  addSettings(
    program
      .command("run")
      .description(
        "Run the service: source → classifier pool → ClickHouse, with /metrics, /healthz and /readyz.",
      ),
    Object.keys(SETTINGS) as SettingKey[],
  ).action(async (opts: Record<string, unknown>) => {
    const cfg = config(opts);
    process.exitCode = await runService(cfg, createLogger(cfg.logLevel));
  });

  program
    .command("classify")
    .description(
      "Classify records line by line (spec §6): one JSON line per record on stdout, a summary on stderr.",
    )
    .argument("[file]", "NDJSON file of Event Hubs bodies or bare records; - or absent for stdin")
    .addOption(
      new Option(`${SETTINGS.backendTimeoutSeconds.flag} <value>`, SETTINGS.backendTimeoutSeconds.doc),
    )
    .action(async (file: string | undefined, opts: Record<string, unknown>) => {
      const cfg = config(opts);
      process.exitCode = await classifyCommand(file, { backendTimeoutSeconds: cfg.backendTimeoutSeconds });
    });

  addSettings(
    program
      .command("replay")
      .description(
        "Ingest NDJSON or JSON files (.gz too; - for stdin) into the store; replaying a file again stores nothing twice.",
      )
      .argument("<files...>", "files to replay, in order; - for stdin")
      .addOption(
        new Option("--format <format>", "input format")
          .choices(["auto", "ndjson", "json", "avro"])
          .default("auto"),
      )
      .option("--no-progress", "no progress bar"),
    PIPELINE_KEYS,
  ).action(async (files: string[], opts: Record<string, unknown>) => {
    const cfg = config(opts);
    const view = opts.progress === false ? undefined : new ReplayProgressView(process.stderr);
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
      const summary = await replay(cfg, createLogger(cfg.logLevel === "info" ? "warn" : cfg.logLevel, 2), {
        paths: files,
        format: opts.format as "auto" | "ndjson" | "json" | "avro",
        signal: stop.signal,
        ...(view ? { onProgress: (p) => view.update(p) } : {}),
      });
      view?.stop();
      process.stderr.write(formatReplaySummary(summary));
      process.exitCode = summary.interrupted ? 130 : 0;
    } finally {
      view?.stop();
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  });

  addSettings(
    program
      .command("query")
      .description("Run one read-only SQL statement against the store and print the rows as JSON lines.")
      .argument("<sql>", "SELECT, WITH, SHOW, DESCRIBE, EXPLAIN or EXISTS statement")
      .option(...API_OPTION),
    STORE_KEYS,
  ).action(async (sql: string, opts: Record<string, unknown>) => {
    for (const row of await readOnly(opts, sql)) process.stdout.write(JSON.stringify(row) + "\n");
  });

  addSettings(
    program
      .command("alerts")
      .description(
        "List cause-spike alerts from the alert history: every firing and resolved transition, or with --active the alerts firing now.",
      )
      .option("--active", "only alerts whose last transition is firing")
      .option(
        "--since <duration>",
        "how far back, e.g. 30m, 24h, 7d (default: 24h; with --active, however long they have fired)",
      )
      .option(...API_OPTION),
    STORE_KEYS,
  ).action(async (opts: Record<string, unknown>) => {
    const { alerts } = await insight(opts, "alerts", {
      active: opts.active ? "true" : "false",
      ...(typeof opts.since === "string" ? { since: opts.since } : {}),
    });
    for (const row of alerts) process.stdout.write(JSON.stringify(row) + "\n");
  });

  const filterOptions = (cmd: Command) =>
    cmd
      .option("--gateway <names>", "only these gateways (comma-separated)")
      .option("--cause <ids>", "only these causes (comma-separated cause ids)")
      .option("--origin <origins>", "only these origins (gateway, client, mtls, waf, backend, ...)")
      .option("--listener <names>", "only these listeners")
      .option("--backend-pool <names>", "only these backend pools")
      .option("--from <time>", "start: 6h (ago), now-6h, an ISO 8601 time or epoch seconds", "1h")
      .option("--to <time>", "end (exclusive), same forms", "now")
      .option("--json", "print the API's JSON instead of a table")
      .option(...API_OPTION);
  const filterParams = (opts: Record<string, unknown>): Record<string, string> => {
    const params: Record<string, string> = {};
    for (const [flag, param] of [
      ["gateway", "gateway"],
      ["cause", "cause"],
      ["origin", "origin"],
      ["listener", "listener"],
      ["backendPool", "backend_pool"],
      ["from", "from"],
      ["to", "to"],
    ] as const)
      if (typeof opts[flag] === "string") params[param] = opts[flag];
    return params;
  };

  addSettings(
    filterOptions(
      program
        .command("trends")
        .description(
          "Requests per time bucket and cause from the rollups (per minute, or per hour for whole-hour steps).",
        )
        .option("--step <duration>", "bucket size, whole minutes (default: at most 300 buckets)"),
    ),
    STORE_KEYS,
  ).action(async (opts: Record<string, unknown>) => {
    const params = filterParams(opts);
    if (typeof opts.step === "string") params.step = opts.step;
    const result = await insight(opts, "trends", params);
    process.stdout.write(opts.json ? JSON.stringify(result) + "\n" : renderTrends(result));
  });

  addSettings(
    filterOptions(
      program
        .command("top")
        .description(
          "The largest causes, backend pools, listeners, hosts, ... over a range, with the change against the period before.",
        )
        .option(
          "--by <dimension>",
          "cause, origin, gateway, listener, backend_pool, status, host or backend_address",
          "cause",
        )
        .option("--limit <n>", "at most this many rows (1-100)", "10"),
    ),
    STORE_KEYS,
  ).action(async (opts: Record<string, unknown>) => {
    const result = await insight(opts, "top", {
      ...filterParams(opts),
      by: String(opts.by),
      limit: String(opts.limit),
    });
    process.stdout.write(opts.json ? JSON.stringify(result) + "\n" : renderTop(result));
  });

  addSettings(
    program
      .command("explain")
      .description(
        "A stored request by its transaction id: its cause, what produces it and what to check first, the rule and evidence, and its firewall records.",
      )
      .argument("<transactionId>", "the access log's transactionId")
      .option("--json", "print the API's JSON instead of a table")
      .option(...API_OPTION),
    STORE_KEYS,
  ).action(async (transactionId: string, opts: Record<string, unknown>) => {
    const result = await insight(opts, "explain", { transaction_id: transactionId });
    if (result === null)
      throw new GatewatchError(
        "not_found",
        `nothing stored for transaction id ${JSON.stringify(transactionId)}`,
      );
    process.stdout.write(opts.json ? JSON.stringify(result) + "\n" : renderExplain(result));
  });

  // Positional options: what follows `replay` belongs to replay (both commands take --store, --since, ...).
  program.enablePositionalOptions();
  const deadLetters = addSettings(
    program
      .command("dead-letters")
      .description(
        "List dead letters (bodies or records that could not be used) as JSON lines, newest first; `dead-letters replay` feeds them back after a fix.",
      )
      .option("--since <duration>", "how far back, e.g. 30m, 24h, 7d", "24h")
      .option("--reason <reason>", "only this reason (not_json, no_status, store_rejected, ...)")
      .option("--limit <n>", "at most this many", "100")
      .option("--all", "also those already replayed")
      .option(...API_OPTION),
    STORE_KEYS,
  ).action(async (opts: Record<string, unknown>) => {
    const cfg = config(opts);
    const seconds = parseDuration(String(opts.since));
    const reason = deadLetterReason(opts.reason);
    const limit = Number(opts.limit);
    if (!Number.isInteger(limit) || limit <= 0)
      throw new GatewatchError(
        "config_invalid",
        `--limit must be a positive integer, got "${String(opts.limit)}"`,
      );
    const db = cfg.storeTarget.database;
    const sql = `SELECT received_at, reason, detail, source, partition, batch_seq, body_index, record_index, raw_bytes, raw
      FROM ${db}.dead_letters
      WHERE received_at >= now64(3) - toIntervalSecond(${seconds})
        ${reason ? `AND reason = '${reason}'` : ""}
        ${
          opts.all
            ? ""
            : `AND (source, partition, batch_seq, body_index, record_index, reason) NOT IN
                 (SELECT source, partition, batch_seq, body_index, record_index, reason FROM ${db}.dead_letter_replays)`
        }
      ORDER BY received_at DESC LIMIT ${limit}`;
    for (const row of await readOnly(opts, sql)) process.stdout.write(JSON.stringify(row) + "\n");
  });

  addSettings(
    deadLetters
      .command("replay")
      .description(
        "Feed dead letters back through the pipeline (e.g. after upgrading gatewatch) and mark them replayed; still-unusable ones become new dead letters. Needs the store: stop the service first when it is embedded.",
      )
      .option("--since <duration>", "how far back, e.g. 30m, 24h, 7d", "7d")
      .option("--reason <reason>", "only this reason"),
    PIPELINE_KEYS,
  ).action(async (opts: Record<string, unknown>) => {
    const cfg = config(opts);
    const summary = await replayDeadLetters(
      cfg,
      createLogger(cfg.logLevel === "info" ? "warn" : cfg.logLevel, 2),
      {
        sinceSeconds: parseDuration(String(opts.since)),
        ...(deadLetterReason(opts.reason) ? { reason: deadLetterReason(opts.reason) } : {}),
      },
    );
    process.stdout.write(JSON.stringify(summary) + "\n");
  });

  addSettings(
    program
      .command("migrate")
      .description(
        "Create or upgrade the schema (run and replay also do this at start). Replicas starting together take turns.",
      )
      .option("--dry-run", "print the pending migrations and their SQL; change nothing"),
    STORE_KEYS,
  ).action(async (opts: Record<string, unknown>) => {
    const cfg = config(opts);
    if (opts.dryRun) {
      const store = await openStore(cfg);
      try {
        const report = await store.migrate({ dryRun: true });
        for (const m of report.pending ?? []) process.stdout.write(JSON.stringify(m) + "\n");
        process.stdout.write(
          JSON.stringify({
            store: store.describe(),
            version: report.version,
            pending: report.pending?.length ?? 0,
          }) + "\n",
        );
      } finally {
        await store.close();
      }
      return;
    }
    const log = createLogger(cfg.logLevel, 2);
    const store = await openMigratedStore(cfg, log);
    const version = await store.schemaVersion();
    await store.close();
    process.stdout.write(JSON.stringify({ store: store.describe(), version }) + "\n");
  });

  program
    .command("docs")
    .description(
      "Write one Markdown page per cause (what it means, what produces it, what to check first) and an index.",
    )
    .option("--out <dir>", "output directory", "docs/causes")
    .action((opts: { out: string }) => {
      mkdirSync(opts.out, { recursive: true });
      for (const id of CAUSE_IDS) writeFileSync(join(opts.out, `${id}.md`), renderCauseDoc(id));
      writeFileSync(join(opts.out, "README.md"), renderCauseIndex());
      process.stdout.write(JSON.stringify({ out: opts.out, pages: CAUSE_IDS.length + 1 }) + "\n");
    });

  program
    .command("rules")
    .description("Print (or write) the Prometheus rule file generated from the cause catalog.")
    .option("--out <file>", "write to this file instead of standard output")
    .action((opts: { out?: string }) => {
      const rules = buildPrometheusRules();
      if (opts.out) writeFileSync(opts.out, rules);
      else process.stdout.write(rules);
    });

  return program;
}

/** Runs read-only SQL through the service holding the store (--api, or found next to it), else directly. */
async function readOnly(opts: Record<string, unknown>, sql: string): Promise<Record<string, unknown>[]> {
  const cfg = config(opts);
  const holder = typeof opts.api === "string" ? { api: opts.api } : findStoreHolder(cfg.storeTarget);
  if (holder) return queryApi(holder.api, sql, cfg.apiToken);
  const store = await openStore(cfg);
  try {
    return await store.queryReadOnly(sql);
  } finally {
    await store.close();
  }
}

/**
 * Answers an insight through the service holding the store (--api, or found next to it), else from
 * the store directly; the parameters are checked before anything is opened.
 */
async function insight<K extends Insight>(
  opts: Record<string, unknown>,
  name: K,
  params: Record<string, string>,
): Promise<InsightResults[K]> {
  const cfg = config(opts);
  parseInsightParams(name, params);
  const holder = typeof opts.api === "string" ? { api: opts.api } : findStoreHolder(cfg.storeTarget);
  if (holder) return insightApi(holder.api, name, params, cfg.apiToken);
  const store = await openStore(cfg);
  try {
    return await runInsight(store, name, params);
  } finally {
    await store.close();
  }
}

/** GET /api/v1/<insight> on a running service; a 404 of `explain` is null, other failures keep their code. */
async function insightApi<K extends Insight>(
  api: string,
  name: K,
  params: Record<string, string>,
  token?: string,
): Promise<InsightResults[K]> {
  const { transaction_id: id, ...query } = params;
  const url = new URL(
    name === "explain" ? `/api/v1/explain/${encodeURIComponent(id ?? "")}` : `/api/v1/${name}`,
    api,
  );
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const body = (await res.json()) as InsightResults[K] & { error?: string; code?: string };
  if (res.status === 404 && name === "explain") return null as InsightResults[K];
  if (!res.ok)
    throw new GatewatchError(
      body.code ?? "api_failed",
      `${name} via ${api} failed: ${body.error ?? res.status}`,
    );
  return body;
}

/** A dead-letter reason id from --reason (snake_case, so it is safe inside SQL), or undefined. */
function deadLetterReason(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === "string" ? value : "";
  if (!/^[a-z][a-z0-9_]{0,63}$/.test(text))
    throw new GatewatchError(
      "config_invalid",
      `--reason must be a reason id such as not_json, got "${text}"`,
    );
  return text;
}

/** `30s`, `15m`, `24h`, `7d` → seconds; a usage error otherwise. */
function parseDuration(text: string): number {
  const seconds = parseDurationText(text);
  if (seconds === undefined)
    throw new GatewatchError(
      "config_invalid",
      `--since must be a duration like 30m, 24h or 7d, got "${text}"`,
    );
  return seconds;
}

async function queryApi(api: string, sql: string, token?: string): Promise<Record<string, unknown>[]> {
  const res = await fetch(new URL("/api/query", api), {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ sql }),
  });
  const body = (await res.json()) as { rows?: Record<string, unknown>[]; error?: string };
  if (!res.ok || !body.rows) throw new Error(`query via ${api} failed: ${body.error ?? res.status}`);
  return body.rows;
}

/** Entry point: parses argv, runs the command, maps errors to exit codes (2 usage/config, 1 runtime). */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (isGatewatchError(err)) {
      process.stderr.write(`gatewatch: ${err.message}\n`);
      process.exitCode = err.code === "config_invalid" || err.code === "query_invalid" ? 2 : 1;
    } else {
      process.stderr.write(`gatewatch: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    }
  }
}
