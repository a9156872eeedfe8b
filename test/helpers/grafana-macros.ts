/**
 * What Grafana and the grafana-clickhouse-datasource plugin do to a panel's SQL before ClickHouse
 * sees it, so that tests can run dashboard queries without a Grafana:
 *
 * 1. the plugin's frontend expands `$__conditionalAll(condition, $var)` (CHDatasource.applyConditionalAll);
 * 2. Grafana's template service replaces variables (`$var`, `${var}`, `${var:format}`, `[[var]]`,
 *    built-ins such as `$__from`), formatting multi-value variables with the datasource's formatter;
 * 3. the plugin's backend expands its macros (pkg/macros/macros.go on the macropro engine):
 *    comments stripped, names matched longest first, arguments split on top-level commas.
 *
 * Each step follows the plugin (v4.20) and Grafana sources it names; keep them in step when the
 * plugin changes its macro definitions.
 */

/** A dashboard variable's state, as the template service sees it. */
export interface VariableState {
  readonly name: string;
  readonly multi?: boolean;
  readonly includeAll?: boolean;
  /** Custom All value; without it All means every option. */
  readonly allValue?: string;
  /** Selected value(s); `"$__all"` (or `["$__all"]`) when All is selected. */
  readonly value: string | readonly string[];
  /** Option values (what All expands to when there is no `allValue`). */
  readonly options?: readonly string[];
}

/** The time range and interval of one panel query. */
export interface QueryContext {
  readonly fromMs: number;
  readonly toMs: number;
  /** The panel interval (Grafana's `intervalMs`). */
  readonly intervalMs: number;
}

/** Grafana's `roundInterval` (packages/grafana-data/src/datetime/rangeutil.ts), milliseconds. */
export function roundInterval(ms: number): number {
  const steps: [below: number, interval: number][] = [
    [10, 1],
    [15, 10],
    [35, 20],
    [75, 50],
    [150, 100],
    [350, 200],
    [750, 500],
    [1_500, 1_000],
    [3_500, 2_000],
    [7_500, 5_000],
    [12_500, 10_000],
    [17_500, 15_000],
    [25_000, 20_000],
    [45_000, 30_000],
    [90_000, 60_000],
    [210_000, 120_000],
    [450_000, 300_000],
    [750_000, 600_000],
    [1_050_000, 900_000],
    [1_500_000, 1_200_000],
    [2_700_000, 1_800_000],
    [5_400_000, 3_600_000],
    [9_000_000, 7_200_000],
    [16_200_000, 10_800_000],
    [32_400_000, 21_600_000],
    [86_400_000, 43_200_000],
    [604_800_000, 86_400_000],
    [1_814_400_000, 604_800_000],
    [3_628_800_000, 2_592_000_000],
  ];
  for (const [below, interval] of steps) if (ms < below) return interval;
  return 31_536_000_000;
}

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  M: 2_592_000_000,
  y: 31_536_000_000,
};

/** `"1m"` → 60000 (Grafana's intervalToMs). */
export function intervalToMs(interval: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|[smhdwMy])$/.exec(interval);
  if (!m) throw new Error(`invalid interval ${JSON.stringify(interval)}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/**
 * Grafana's `calculateInterval`: the range over the panel's max data points (its width in pixels),
 * rounded, and never below the panel's min interval (`interval` in the panel JSON).
 */
export function calculateIntervalMs(rangeMs: number, maxDataPoints: number, minInterval?: string): number {
  const interval = roundInterval(rangeMs / maxDataPoints);
  return Math.max(interval, minInterval ? intervalToMs(minInterval) : 1);
}

const isAll = (v: VariableState): boolean =>
  v.value === "$__all" || (Array.isArray(v.value) && v.value.length === 1 && v.value[0] === "$__all");

/**
 * `CHDatasource.getMacroArgs`: the arguments of the macro whose `(` is at `argsIndex`, split on
 * commas at the first bracket level (no string awareness), whitespace kept. [] when unbalanced.
 */
function frontendMacroArgs(query: string, argsIndex: number): string[] {
  const args: string[] = [];
  const re = /\(|\)|,/g;
  let depth = 0;
  let lastArgEnd = 1;
  const sub = query.substring(argsIndex);
  let m: RegExpExecArray | null;
  while ((m = re.exec(sub)) !== null) {
    if (m[0] === "(") depth++;
    else if (m[0] === ")") depth--;
    if (m[0] === "," && depth === 1) {
      args.push(sub.substring(lastArgEnd, re.lastIndex - 1));
      lastArgEnd = re.lastIndex;
    }
    if (depth === 0) {
      args.push(sub.substring(lastArgEnd, re.lastIndex - 1));
      return args;
    }
  }
  return [];
}

/**
 * `CHDatasource.applyConditionalAll`: each `$__conditionalAll(condition, $var)`, last first, becomes
 * `1=1` when `$var` is All (or empty) and `condition` otherwise. A malformed call stops the expansion
 * and leaves the query as it is, as the plugin does.
 */
export function applyConditionalAll(sql: string, variables: readonly VariableState[]): string {
  const macro = "$__conditionalAll(";
  let query = sql;
  let index = query.lastIndexOf(macro);
  while (index !== -1) {
    const params = frontendMacroArgs(query, index + macro.length - 1);
    if (params.length !== 2) return query;
    const [condition, variableParam] = params as [string, string];
    const name = /(?<=\$\{)[\w\d]+(?=\})|(?<=\$)[\w\d]+/.exec(variableParam.trim());
    let phrase = condition;
    if (name) {
      const variable = variables.find((v) => v.name === name[0]);
      // The plugin reads `current.value.toString()`: an array joins with commas.
      const value = variable ? String(variable.value) : undefined;
      if (value === "" || value === "$__all") phrase = "1=1";
    }
    // A string replacement, as in the plugin (its `$` patterns included): the first identical call.
    query = query.replace(`${macro}${condition},${variableParam})`, phrase);
    index = query.lastIndexOf(macro);
  }
  return query;
}

/** How a datasource formats a variable used without an explicit format. */
export type DatasourceFormat = "clickhouse" | "prometheus";

const escapeSingleQuotes = (v: string) => v.replace(/'/g, "\\'");

/** Grafana's formatter registry, the formats the dashboards may use. */
function formatWith(format: string, value: string | readonly string[]): string {
  const values = typeof value === "string" ? [value] : value;
  switch (format) {
    case "singlequote":
      return values.map((v) => `'${escapeSingleQuotes(v)}'`).join(",");
    case "doublequote":
      return values.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(",");
    case "csv":
    case "text":
      return values.join(",");
    case "raw":
      return typeof value === "string" ? value : values.join(",");
    case "pipe":
      return values.join("|");
    default:
      throw new Error(`variable format ${format} is not modelled by test/helpers/grafana-macros.ts`);
  }
}

/** The Prometheus datasource's regex escaping of variable values (prometheusSpecialRegexEscape). */
function prometheusRegexEscape(value: string): string {
  return value.replace(/\\/g, "\\\\\\\\").replace(/[$^*{}[\]'+?.()|]/g, "\\\\$&");
}

/** The datasource's default formatting of a variable without an explicit format. */
function formatDefault(
  ds: DatasourceFormat,
  variable: VariableState,
  value: string | readonly string[],
): string {
  if (ds === "clickhouse") {
    // CHDatasource.format: arrays become a quoted list (no escaping), single values stay raw.
    return typeof value === "string" ? value : `'${value.join("','")}'`;
  }
  // PrometheusDatasource.interpolateQueryExpr.
  if (!variable.multi && !variable.includeAll) {
    const v = typeof value === "string" ? value : value.join(",");
    return v.replace(/\\/g, "\\\\").replace(/'/g, "\\\\'");
  }
  if (typeof value === "string") return prometheusRegexEscape(value);
  const escaped = value.map(prometheusRegexEscape);
  return escaped.length === 1 ? escaped[0]! : `(${escaped.join("|")})`;
}

/** Built-in variables Grafana resolves itself for a panel query. */
function builtIns(ctx: QueryContext, ds: DatasourceFormat): Record<string, string> {
  const rangeMs = ctx.toMs - ctx.fromMs;
  const b: Record<string, string> = {
    __from: String(ctx.fromMs),
    __to: String(ctx.toMs),
    __interval: formatDuration(ctx.intervalMs),
    __interval_ms: String(ctx.intervalMs),
    __range: `${Math.round(rangeMs / 1000)}s`,
    __range_s: String(Math.round(rangeMs / 1000)),
    __range_ms: String(rangeMs),
  };
  // Prometheus: max($__interval + scrape interval, 4 × scrape interval), scrape interval 15 s.
  if (ds === "prometheus") b.__rate_interval = formatDuration(Math.max(ctx.intervalMs + 15_000, 60_000));
  return b;
}

/**
 * Grafana's `TemplateSrv.replace`: variables and built-ins are replaced; an unknown name is left as
 * it is (so a `$__macro` reaches the backend untouched).
 */
export function interpolateVariables(
  text: string,
  variables: readonly VariableState[],
  ctx: QueryContext,
  ds: DatasourceFormat,
): string {
  const regex = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^}]+))?(?::([^}]+))?}/g;
  const globals = builtIns(ctx, ds);
  return text.replace(
    regex,
    (match, var1?: string, var2?: string, fmt2?: string, var3?: string, _path?: string, fmt3?: string) => {
      const name = var1 ?? var2 ?? var3 ?? "";
      const fmt = fmt2 ?? fmt3;
      const global = globals[name];
      if (global !== undefined) return fmt ? formatWith(fmt, global) : global;
      const variable = variables.find((v) => v.name === name);
      if (!variable) return match;
      let value: string | readonly string[] = variable.value;
      if (isAll(variable)) {
        if (variable.allValue !== undefined) return variable.allValue;
        value = [...(variable.options ?? [])];
      }
      return fmt ? formatWith(fmt, value) : formatDefault(ds, variable, value);
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Backend macros: pkg/macros/macros.go (ClickHouseMacros) on github.com/grafana/macropro.

type Macro = (ctx: QueryContext, args: string[]) => string;

const unix = (ms: number) => Math.floor(ms / 1000);
const toDateTime = (ms: number) => `toDateTime(${unix(ms)})`;
const toDateTime64 = (ms: number) => `fromUnixTimestamp64Milli(${Math.floor(ms)})`;
const toDate = (ms: number) => `toDate('${new Date(ms).toISOString().slice(0, 10)}')`;
const intervalSeconds = (ctx: QueryContext) => Math.trunc(Math.max(ctx.intervalMs / 1000, 1));

function arity(macro: string, args: string[], want: number): void {
  if (args.length !== want) throw new Error(`${macro} expected ${want} argument(s), received ${args.length}`);
}

/** macropro's FormatDuration: the largest whole unit. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  const d = Math.abs(ms);
  if (d % 3_600_000 === 0) return `${d / 3_600_000}h`;
  if (d % 60_000 === 0) return `${d / 60_000}m`;
  if (d % 1_000 === 0) return `${d / 1_000}s`;
  return `${Math.trunc(d)}ms`;
}

/** Go's time.ParseDuration for the units $__timeGroup accepts, in seconds. */
function goDurationSeconds(text: string): number {
  const units: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let consumed = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * units[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (text === "" || consumed !== text.length) throw new Error(`$__timeGroup: invalid interval "${text}"`);
  return total;
}

/** The plugin's macros (SDK defaults with ClickHouse overrides), by name without `$__`. */
export const CLICKHOUSE_MACROS: Readonly<Record<string, Macro>> = {
  // macropro.DefaultMacros kept as they are.
  interval: (ctx) => formatDuration(ctx.intervalMs),
  interval_ms: (ctx) => String(ctx.intervalMs),
  table: () => {
    throw new Error("$__table: no table name in query context");
  },
  column: () => {
    throw new Error("$__column: no column name in query context");
  },
  // ClickHouse overrides and extensions.
  timeFilter: (ctx, args) => {
    arity("$__timeFilter", args, 1);
    return `${args[0]} >= ${toDateTime(ctx.fromMs)} AND ${args[0]} <= ${toDateTime(ctx.toMs)}`;
  },
  timeFrom: (ctx, args) => {
    arity("$__timeFrom", args, 1);
    return `${args[0]} >= ${toDateTime(ctx.fromMs)}`;
  },
  timeTo: (ctx, args) => {
    arity("$__timeTo", args, 1);
    return `${args[0]} <= ${toDateTime(ctx.toMs)}`;
  },
  timeGroup: (_ctx, args) => {
    arity("$__timeGroup", args, 2);
    const seconds = Math.round(goDurationSeconds(args[1]!.trim().replace(/^['"]+|['"]+$/g, "")));
    if (seconds <= 0) throw new Error(`$__timeGroup: interval must be positive, got "${args[1]}"`);
    return `toStartOfInterval(toDateTime(${args[0]!.trim()}), INTERVAL ${seconds} second)`;
  },
  fromTime: (ctx) => toDateTime(ctx.fromMs),
  toTime: (ctx) => toDateTime(ctx.toMs),
  fromTime_ms: (ctx) => toDateTime64(ctx.fromMs),
  toTime_ms: (ctx) => toDateTime64(ctx.toMs),
  timeFilter_ms: (ctx, args) => {
    arity("$__timeFilter_ms", args, 1);
    return `${args[0]} >= ${toDateTime64(ctx.fromMs)} AND ${args[0]} <= ${toDateTime64(ctx.toMs)}`;
  },
  dateFilter: (ctx, args) => {
    arity("$__dateFilter", args, 1);
    return `${args[0]} >= ${toDate(ctx.fromMs)} AND ${args[0]} <= ${toDate(ctx.toMs)}`;
  },
  dateTimeFilter: (ctx, args) => dateTimeFilter("$__dateTimeFilter", ctx, args),
  dt: (ctx, args) => dateTimeFilter("$__dateTimeFilter", ctx, args),
  timeInterval: (ctx, args) => {
    arity("$__timeInterval", args, 1);
    return `toStartOfInterval(toDateTime(${args[0]}), INTERVAL ${intervalSeconds(ctx)} second)`;
  },
  timeInterval_ms: (ctx, args) => {
    arity("$__timeInterval_ms", args, 1);
    return `toStartOfInterval(toDateTime64(${args[0]}, 3), INTERVAL ${Math.trunc(Math.max(ctx.intervalMs, 1))} millisecond)`;
  },
  interval_s: (ctx) => String(intervalSeconds(ctx)),
};

function dateTimeFilter(macro: string, ctx: QueryContext, args: string[]): string {
  arity(macro, args, 2);
  const [d, t] = args as [string, string];
  return (
    `(${d} >= ${toDate(ctx.fromMs)} AND ${d} <= ${toDate(ctx.toMs)}) AND ` +
    `(${t} >= ${toDateTime(ctx.fromMs)} AND ${t} <= ${toDateTime(ctx.toMs)})`
  );
}

/** End (exclusive) of the quoted literal or identifier opening at `pos`; doubled quotes and backslashes escape. */
function scanQuoted(s: string, pos: number): number {
  const quote = s[pos];
  let j = pos + 1;
  while (j < s.length) {
    if (s[j] === "\\" && quote !== "`") {
      j += 2;
      continue;
    }
    if (s[j] === quote) {
      if (s[j + 1] === quote) {
        j += 2;
        continue;
      }
      return j + 1;
    }
    j++;
  }
  return s.length;
}

/** End (exclusive) of a `$tag$…$tag$` literal at `pos`, or -1. */
function scanDollarQuote(s: string, pos: number): number {
  let j = pos + 1;
  while (j < s.length && s[j] !== "$") {
    if (!/[A-Za-z0-9_]/.test(s[j]!)) return -1;
    j++;
  }
  if (j >= s.length) return -1;
  const tag = s.slice(pos, j + 1);
  const close = s.indexOf(tag, j + 1);
  return close < 0 ? -1 : close + tag.length;
}

/**
 * macropro.StripComments with the plugin's styles (line, block, backslash escapes, backticks,
 * dollar quotes): comments become spaces of the same length, literals are kept.
 */
export function stripComments(query: string): string {
  let out = "";
  let i = 0;
  while (i < query.length) {
    const c = query[i]!;
    if (c === "'" || c === '"' || c === "`") {
      const j = scanQuoted(query, i);
      out += query.slice(i, j);
      i = j;
      continue;
    }
    if (c === "$") {
      const end = scanDollarQuote(query, i);
      if (end >= 0) {
        out += query.slice(i, end);
        i = end;
        continue;
      }
    }
    if (c === "-" && query[i + 1] === "-") {
      let j = i;
      while (j < query.length && query[j] !== "\n" && query[j] !== "\r") j++;
      out += " ".repeat(j - i);
      i = j;
      continue;
    }
    if (c === "/" && query[i + 1] === "*") {
      const close = query.indexOf("*/", i + 2);
      const j = close < 0 ? query.length : close + 2;
      out += " ".repeat(j - i);
      i = j;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

/** macropro.findClosingParen: the `)` closing the `(` at `open`, skipping quoted literals; -1 if none. */
function findClosingParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length;) {
    const c = s[i]!;
    if (c === "'" || c === '"') {
      i = scanQuoted(s, i);
      continue;
    }
    if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return i;
    i++;
  }
  return -1;
}

/** macropro.parseArgs: split on top-level commas outside literals, each trimmed. */
function parseArgs(raw: string): string[] {
  const text = raw.trim();
  if (text === "") return [];
  const args: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length;) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      i = scanQuoted(text, i);
      continue;
    }
    if (c === "(") depth++;
    else if (c === ")") {
      if (depth === 0) throw new Error(`unexpected ')' at position ${i}`);
      depth--;
    } else if (c === "," && depth === 0) {
      args.push(text.slice(start, i).trim());
      start = i + 1;
    }
    i++;
  }
  if (depth !== 0) throw new Error("unbalanced parentheses in arguments");
  args.push(text.slice(start).trim());
  return args;
}

const isNameChar = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_]/.test(c);

/**
 * macropro.Interpolate with the plugin's macros: comments stripped, then each macro name, longest
 * first, replaced everywhere it occurs as a whole name (with its optional argument list). Unknown
 * `$__names` are left as they are. A macro error fails the query, as it fails the panel.
 */
export function expandMacros(sql: string, ctx: QueryContext): string {
  const names = Object.keys(CLICKHOUSE_MACROS).sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  let result = stripComments(sql);
  for (const name of names) {
    const token = `$__${name}`;
    let rest = result;
    let out = "";
    for (;;) {
      const idx = rest.indexOf(token);
      if (idx === -1) {
        out += rest;
        break;
      }
      const after = idx + token.length;
      if (isNameChar(rest[after])) {
        out += rest.slice(0, after);
        rest = rest.slice(after);
        continue;
      }
      out += rest.slice(0, idx);
      rest = rest.slice(after);
      let raw = "";
      if (rest[0] === "(") {
        const end = findClosingParen(rest, 0);
        if (end >= 0) {
          raw = rest.slice(1, end);
          rest = rest.slice(end + 1);
        }
      }
      out += CLICKHOUSE_MACROS[name]!(ctx, parseArgs(raw));
    }
    result = out;
  }
  return result;
}

/** Every `$name`, `${…}` or `[[…]]` left outside string literals: nothing should reach ClickHouse. */
export function leftoverVariables(sql: string): string[] {
  const found: string[] = [];
  for (let i = 0; i < sql.length;) {
    const c = sql[i]!;
    if (c === "'" || c === '"' || c === "`") {
      i = scanQuoted(sql, i);
      continue;
    }
    const m = /^(\$\w+|\$\{[^}]*\}|\[\[[^\]]*\]\])/.exec(sql.slice(i, i + 200));
    if (m) {
      found.push(m[0]);
      i += m[0].length;
      continue;
    }
    i++;
  }
  return found;
}

/** The whole path of a ClickHouse panel query: conditionalAll, template variables, backend macros. */
export function interpolateClickHouseQuery(
  rawSql: string,
  variables: readonly VariableState[],
  ctx: QueryContext,
): string {
  return expandMacros(
    interpolateVariables(applyConditionalAll(rawSql, variables), variables, ctx, "clickhouse"),
    ctx,
  );
}
