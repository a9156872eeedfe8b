/**
 * Human tables (cli-table3) for `trends`, `top` and `explain`; `--json` prints the API's JSON instead.
 * Values from the logs (hosts, URIs, pool names) are printed with control characters escaped so a
 * hostile log line cannot move the cursor or recolour the terminal.
 */
import Table from "cli-table3";
import type { ExplainResult, TopResult, TrendsResult } from "@gatewatch/ingestor";

/** Causes shown as their own column in a trend table; the rest are summed into `other`. */
const TREND_COLUMNS = 6;

const TABLE_STYLE = { head: [], border: [] };
/** No rule between rows. */
const CHARS = { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" };

/** Escapes C0/C1 control characters (and DEL) as \\xNN. */
export function safeText(value: unknown): string {
  const text = typeof value === "string" ? value : (JSON.stringify(value) ?? "");
  return text.replace(
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** `2026-11-30 04:05` (UTC) from epoch seconds. */
function minuteUtc(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ");
}

function percent(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** One row per bucket: total and the largest causes, UTC times. */
export function renderTrends(t: TrendsResult): string {
  const shown = t.series.slice(0, TREND_COLUMNS);
  const rest = t.series.slice(TREND_COLUMNS);
  const head = ["time (UTC)", "total", ...shown.map((s) => s.cause), ...(rest.length > 0 ? ["other"] : [])];
  const table = new Table({
    head,
    style: TABLE_STYLE,
    chars: CHARS,
    colAligns: ["left", ...head.slice(1).map(() => "right" as const)],
  });
  t.times.forEach((time, i) => {
    const other = rest.reduce((sum, s) => sum + (s.values[i] ?? 0), 0);
    table.push([
      minuteUtc(time),
      t.totals[i] ?? 0,
      ...shown.map((s) => s.values[i] ?? 0),
      ...(rest.length > 0 ? [other] : []),
    ]);
  });
  const total = t.totals.reduce((a, b) => a + b, 0);
  return `${table.toString()}\n${total} requests, ${minuteUtc(t.from)} – ${minuteUtc(t.to)} UTC, step ${t.step / 60} min, from ${t.table}\n`;
}

/** The ranked values with their share and change against the previous period. */
export function renderTop(t: TopResult): string {
  const table = new Table({
    head: [t.by, "requests", "share", "errors", "previous", "change"],
    style: TABLE_STYLE,
    chars: CHARS,
    colAligns: ["left", "right", "right", "right", "right", "right"],
  });
  for (const r of t.rows)
    table.push([
      safeText(r.value) || "(empty)",
      r.requests,
      percent(r.share),
      r.errors,
      r.previous,
      r.change === null ? "new" : `${r.change >= 0 ? "+" : ""}${percent(r.change)}`,
    ]);
  return `${table.toString()}\n${t.total} requests ${minuteUtc(t.from)} – ${minuteUtc(t.to)} UTC (previous period ${t.previousTotal}), from ${t.table}\n`;
}

/** Entry fields worth reading first, in this order; the rest follow under `--json`. */
const ENTRY_FIELDS = [
  "time",
  "gateway",
  "kind",
  "status",
  "backend_status",
  "error_info",
  "http_method",
  "host",
  "request_uri",
  "client_ip",
  "listener",
  "rule_name",
  "backend_pool",
  "backend_setting",
  "backend_address",
  "time_taken",
  "backend_latency",
  "ssl_client_verify",
  "waf_mode",
  "source",
  "partition",
  "batch_seq",
];

/** The entry, its cause from the catalog, the rule and evidence, then its firewall records. */
export function renderExplain(e: ExplainResult): string {
  const parts: string[] = [];
  for (const { cause, rule, evidence, entry } of e.entries) {
    const table = new Table({ style: TABLE_STYLE, chars: CHARS, wordWrap: true, colWidths: [20, 90] });
    const row = (k: string, v: unknown) => table.push({ [k]: safeText(v) });
    row("transaction id", e.transaction_id);
    row(
      "cause",
      "title" in cause ? `${cause.id}: ${cause.title}` : `${cause.id} (not in this build's catalog)`,
    );
    if ("title" in cause) {
      row("origin / severity", `${cause.origin} / ${cause.severity}`);
      row("produced by", cause.producedBy);
      row("check first", cause.checkFirst);
    }
    row("rule", `${rule.id}: ${rule.description}`);
    row("evidence", Array.isArray(evidence) ? evidence.join(", ") : evidence);
    for (const k of ENTRY_FIELDS) {
      const v = entry[k];
      if (v !== null && v !== undefined && v !== "") row(k, v);
    }
    parts.push(table.toString());
  }
  if (e.firewall.length > 0) {
    const table = new Table({
      head: ["firewall time", "action", "rule", "group", "message", "matched by"],
      style: TABLE_STYLE,
      chars: CHARS,
      wordWrap: true,
      colWidths: [25, 10, 10, 24, 50, 16],
    });
    for (const f of e.firewall)
      table.push(
        ["time", "action", "rule_id", "rule_group", "message", "matched_by"].map((k) => safeText(f[k])),
      );
    parts.push(table.toString());
  } else parts.push("no firewall records for this request");
  return parts.join("\n") + "\n";
}
