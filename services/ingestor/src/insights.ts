/**
 * The insight queries behind `/api/v1/*` and the `trends`, `top`, `explain` and `alerts` commands:
 * one parser for their parameters (strings, from a URL query or from command-line flags) and one
 * runner, so the API and the CLI answer the same question the same way. Bad parameters fail with
 * `query_invalid`, naming every problem at once.
 */
import { z } from "zod";
import { CATALOG, ORIGINS, RULES, isCauseId, type CauseInfo, type RuleId } from "@gatewatch/classify";
import { GatewatchError } from "@gatewatch/pipeline";
import {
  MAX_TREND_POINTS,
  RAW_MAX_RANGE,
  TOP_DIMENSIONS,
  queryAlertHistory,
  queryTop,
  queryTransaction,
  queryTrends,
  type ClickHouseStore,
  type TopResult,
  type TrendsResult,
} from "@gatewatch/store-clickhouse";

/** The insights, by their API path segment. */
export const INSIGHTS = ["causes", "trends", "top", "explain", "alerts"] as const;
export type Insight = (typeof INSIGHTS)[number];

/** A stored request explained (`explain`). */
export interface ExplainResult {
  readonly transaction_id: string;
  /** Usually one; a retried request can have several. */
  readonly entries: {
    /** The catalog entry of the stored cause (just the id if this build does not know it). */
    readonly cause: CauseInfo | { readonly id: string };
    readonly rule: { readonly id: string; readonly description: string };
    readonly evidence: unknown;
    /** Every stored column. */
    readonly entry: Record<string, unknown>;
  }[];
  /** Its firewall records; `matched_by` says whether by transaction id or client IP + URI. */
  readonly firewall: Record<string, unknown>[];
}

/** What each insight answers. */
export interface InsightResults {
  causes: { causes: CauseInfo[]; rules: Readonly<Record<RuleId, string>> };
  trends: TrendsResult;
  top: TopResult;
  /** Null when nothing is stored for the transaction id. */
  explain: ExplainResult | null;
  alerts: { alerts: Record<string, unknown>[] };
}

/** Longest range a trend or top list may cover, seconds. */
const MAX_RANGE = 400 * 86_400;
/** Largest trend step, seconds. */
const MAX_STEP = 7 * 86_400;
/** Steps a trend picks by itself, smallest first: the first giving at most 300 buckets. */
const AUTO_STEPS = [60, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400];

const UNITS = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 } as const;

/** `90s`, `15m`, `6h`, `7d`, `2w` → seconds; undefined when not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,9})([smhdw])$/.exec(text.trim());
  return m ? Number(m[1]) * UNITS[m[2] as keyof typeof UNITS] : undefined;
}

/**
 * An instant, epoch seconds: `now`, `now-6h` or `6h` (that long ago), an ISO 8601 time with a zone,
 * or epoch seconds / milliseconds. Undefined when none of these.
 */
export function parseInstant(text: string, nowSeconds: number): number | undefined {
  const t = text.trim();
  if (t === "now") return nowSeconds;
  const ago = parseDuration(t.replace(/^now-/, ""));
  if (ago !== undefined) return nowSeconds - ago;
  if (/^\d{9,13}$/.test(t)) return t.length > 11 ? Math.floor(Number(t) / 1000) : Number(t);
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(t)) {
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
  }
  return undefined;
}

function instant(nowSeconds: number) {
  return z.string().transform((text, ctx) => {
    const v = parseInstant(text, nowSeconds);
    if (v === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `must be now, now-6h, 6h, an ISO 8601 time with zone or epoch seconds, got "${text}"`,
      });
      return z.NEVER;
    }
    return v;
  });
}

/** A duration up to `max` seconds: `5m`, `1h`, `1d` or bare seconds; a step must also be whole minutes. */
function duration(max: number, wholeMinutes = false) {
  return z.string().transform((text, ctx) => {
    const v = parseDuration(text) ?? (/^\d{1,9}$/.test(text) ? Number(text) : undefined);
    if (v === undefined || v <= 0) {
      ctx.addIssue({ code: "custom", message: `must be a duration like 5m, 1h or 1d, got "${text}"` });
      return z.NEVER;
    }
    if (v > max) {
      ctx.addIssue({ code: "custom", message: `must be at most ${max / 86_400} days, got "${text}"` });
      return z.NEVER;
    }
    if (wholeMinutes && v % 60 !== 0) {
      ctx.addIssue({ code: "custom", message: `must be whole minutes, got "${text}"` });
      return z.NEVER;
    }
    return v;
  });
}

/** A count from 1 to `max`, in plain decimal digits. */
function count(max: number) {
  return z
    .string()
    .regex(/^\d{1,6}$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().min(1).max(max));
}

/** A comma-separated list of up to 50 values of up to 256 characters. */
function list(check?: { test: (v: string) => boolean; expect: string }) {
  return z
    .string()
    .max(16_384)
    .transform((s) => [
      ...new Set(
        s
          .split(",")
          .map((v) => v.trim())
          .filter((v) => v !== ""),
      ),
    ])
    .pipe(
      z
        .array(
          check
            ? z.string().superRefine((v, ctx) => {
                if (!check.test(v)) ctx.addIssue({ code: "custom", message: `${check.expect}, got "${v}"` });
              })
            : z.string().max(256),
        )
        .max(50),
    );
}

const filters = {
  gateway: list().optional(),
  cause: list({
    test: isCauseId,
    expect: "must be cause ids of the catalog (GET /api/v1/causes)",
  }).optional(),
  origin: list({
    test: (v) => (ORIGINS as readonly string[]).includes(v),
    expect: `must be origins (${ORIGINS.join(", ")})`,
  }).optional(),
  listener: list().optional(),
  backend_pool: list().optional(),
};

function range(nowSeconds: number) {
  return {
    from: instant(nowSeconds).default(nowSeconds - 3600),
    to: instant(nowSeconds).default(nowSeconds),
  };
}

function checkRange(v: { from: number; to: number }, ctx: z.RefinementCtx): void {
  if (v.from >= v.to) ctx.addIssue({ code: "custom", path: ["from"], message: "must be before to" });
  else if (v.to - v.from > MAX_RANGE)
    ctx.addIssue({ code: "custom", path: ["from"], message: "must be at most 400 days before to" });
}

function schemas(nowSeconds: number) {
  return {
    causes: z.strictObject({}),
    trends: z
      .strictObject({ ...range(nowSeconds), step: duration(MAX_STEP, true).optional(), ...filters })
      .superRefine((v, ctx) => {
        checkRange(v, ctx);
        // Counted on the range widened to whole steps, as the trend is answered.
        if (v.step !== undefined && Math.ceil(v.to / v.step) - Math.floor(v.from / v.step) > MAX_TREND_POINTS)
          ctx.addIssue({
            code: "custom",
            path: ["step"],
            message: `gives more than ${MAX_TREND_POINTS} points over the range; use a larger step`,
          });
      }),
    top: z
      .strictObject({
        ...range(nowSeconds),
        by: z.enum(TOP_DIMENSIONS).default("cause"),
        limit: count(100).default(10),
        ...filters,
      })
      .superRefine((v, ctx) => {
        checkRange(v, ctx);
        if ((v.by === "host" || v.by === "backend_address") && v.to - v.from > RAW_MAX_RANGE)
          ctx.addIssue({
            code: "custom",
            path: ["from"],
            message: `by ${v.by} reads raw entries: range must be at most ${RAW_MAX_RANGE / 86_400} days`,
          });
      }),
    explain: z.strictObject({
      transaction_id: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, "must be a transaction id (letters, digits, - . _ :)"),
    }),
    alerts: z.strictObject({
      active: z.enum(["true", "false"]).default("false"),
      /** History: default 24 h. Active: default none (every alert still firing). */
      since: duration(MAX_RANGE).optional(),
      limit: count(10_000).default(1000),
    }),
  } satisfies Record<Insight, z.ZodType>;
}

type Parsed = { [K in Insight]: z.output<ReturnType<typeof schemas>[K]> };

/** Parses the parameters of one insight; throws `query_invalid` naming every problem. */
export function parseInsightParams<K extends Insight>(
  insight: K,
  params: Record<string, string>,
  nowSeconds = Math.floor(Date.now() / 1000),
): Parsed[K] {
  const result = schemas(nowSeconds)[insight].safeParse(params);
  if (result.success) return result.data as Parsed[K];
  const problems = result.error.issues.map((i) => {
    if (i.code === "unrecognized_keys") return `unknown parameter ${i.keys.map((k) => `"${k}"`).join(", ")}`;
    const path = i.path.filter((p) => typeof p === "string").join(".");
    return `${path || "parameters"} ${i.message.replace(/^Invalid (input|option): /, "")}`;
  });
  throw new GatewatchError("query_invalid", problems.join("; "));
}

function filterArgs(p: Parsed["trends"] | Parsed["top"]) {
  return {
    ...(p.gateway ? { gateway: p.gateway } : {}),
    ...(p.cause ? { cause: p.cause } : {}),
    ...(p.origin ? { origin: p.origin } : {}),
    ...(p.listener ? { listener: p.listener } : {}),
    ...(p.backend_pool ? { backendPool: p.backend_pool } : {}),
  };
}

/**
 * Answers one insight. `explain` resolves to null when the store has nothing for the transaction id.
 * Parameters are parsed first ({@link parseInsightParams}); the store is only asked valid questions.
 */
export async function runInsight<K extends Insight>(
  store: ClickHouseStore,
  insight: K,
  params: Record<string, string>,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<InsightResults[K]> {
  return (await answerInsight(store, insight, params, nowSeconds)) as InsightResults[K];
}

async function answerInsight(
  store: ClickHouseStore,
  insight: Insight,
  params: Record<string, string>,
  nowSeconds: number,
): Promise<InsightResults[Insight]> {
  switch (insight) {
    case "causes":
      parseInsightParams("causes", params, nowSeconds);
      return { causes: [...CATALOG.values()], rules: RULES };
    case "trends": {
      const p = parseInsightParams("trends", params, nowSeconds);
      const step = p.step ?? AUTO_STEPS.find((s) => (p.to - p.from) / s <= 300) ?? 86_400;
      return queryTrends(store, { from: p.from, to: p.to, step, ...filterArgs(p) });
    }
    case "top": {
      const p = parseInsightParams("top", params, nowSeconds);
      return queryTop(store, { from: p.from, to: p.to, by: p.by, limit: p.limit, ...filterArgs(p) });
    }
    case "explain": {
      const p = parseInsightParams("explain", params, nowSeconds);
      return explain(store, p.transaction_id);
    }
    case "alerts": {
      const p = parseInsightParams("alerts", params, nowSeconds);
      const rows = await queryAlertHistory(store, {
        active: p.active === "true",
        ...(p.since !== undefined
          ? { sinceSeconds: p.since }
          : p.active === "true"
            ? {}
            : { sinceSeconds: 86_400 }),
        limit: p.limit,
      });
      return { alerts: rows };
    }
  }
}

/** A stored request explained: the entry, its cause from the catalog, the rule, the evidence, WAF records. */
async function explain(store: ClickHouseStore, transactionId: string): Promise<ExplainResult | null> {
  const { entries, firewall } = await queryTransaction(store, transactionId);
  if (entries.length === 0 && firewall.length === 0) return null;
  return {
    transaction_id: transactionId,
    entries: entries.map((entry) => {
      const cause = String(entry.cause);
      const rule = String(entry.rule);
      return {
        cause: (isCauseId(cause) && CATALOG.get(cause)) || { id: cause },
        rule: { id: rule, description: RULES[rule as RuleId] ?? "" },
        evidence: entry.evidence,
        entry,
      };
    }),
    firewall,
  };
}
