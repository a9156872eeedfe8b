/**
 * Keeps docs/openapi.yaml in step with the code: the document is well formed; it documents exactly
 * the insights, and for each exactly the parameters its parser accepts, with examples, defaults and
 * limits the parser agrees with; and every documented response is what the real HTTP server answers
 * over an embedded store with a few rows, checked against the documented schema.
 *
 * No JSON Schema validator is a dependency of the project (ajv in node_modules is eslint's own,
 * draft-07), so a small checker of the keywords the document uses is written here. It refuses a
 * keyword it does not know, so the document cannot state a constraint nobody checks.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CAUSE_IDS, ORIGINS } from "@gatewatch/classify";
import { GatewatchMetrics } from "@gatewatch/metrics";
import { GatewatchError } from "@gatewatch/pipeline";
import {
  ClickHouseStore,
  MAX_TREND_POINTS,
  RAW_MAX_RANGE,
  TOP_DIMENSIONS,
  parseStoreUrl,
  type AlertEventRow,
} from "@gatewatch/store-clickhouse";
import { INSIGHTS, parseInsightParams, runInsight, startHttpServer, type Insight } from "../src/index.js";

type Node = Record<string, unknown>;

const doc = parse(readFileSync(new URL("../../../docs/openapi.yaml", import.meta.url), "utf8")) as unknown;

function isNode(v: unknown): v is Node {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function node(v: unknown, what: string): Node {
  if (!isNode(v)) throw new Error(`${what} is not an object`);
  return v;
}

/** What a local `$ref` ("#/components/…") points at; throws when it points nowhere. */
function pointer(ref: string): unknown {
  if (!ref.startsWith("#/")) throw new Error(`${ref} is not a reference within the document`);
  let at: unknown = doc;
  for (const raw of ref.slice(2).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(at) && /^\d+$/.test(key) && Number(key) < at.length) at = at[Number(key)];
    else if (isNode(at) && Object.hasOwn(at, key)) at = at[key];
    else throw new Error(`${ref} does not resolve: nothing at "${key}"`);
  }
  return at;
}

/** Follows `$ref`s to the object they name. */
function deref(v: unknown): Node {
  let n = node(v, "reference target");
  while (typeof n.$ref === "string") n = node(pointer(n.$ref), n.$ref);
  return n;
}

function refsIn(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) refsIn(x, out);
  else if (isNode(v))
    for (const [k, x] of Object.entries(v)) {
      if (k === "$ref" && typeof x === "string") out.push(x);
      else refsIn(x, out);
    }
  return out;
}

// ---- a small JSON Schema checker (the 2020-12 keywords the document uses) ----

const ANNOTATIONS = new Set(["description", "example", "examples", "format", "title", "default"]);
const KEYWORDS = new Set([
  "$ref",
  "type",
  "enum",
  "const",
  "required",
  "properties",
  "additionalProperties",
  "items",
  "minItems",
  "maxItems",
  "anyOf",
  "oneOf",
  "minimum",
  "maximum",
  "pattern",
  "minLength",
  "maxLength",
]);

function hasType(type: unknown, v: unknown): boolean {
  switch (type) {
    case "string":
      return typeof v === "string";
    case "number":
      return typeof v === "number" && Number.isFinite(v);
    case "integer":
      return Number.isInteger(v);
    case "boolean":
      return typeof v === "boolean";
    case "null":
      return v === null;
    case "array":
      return Array.isArray(v);
    case "object":
      return isNode(v);
    default:
      throw new Error(`unknown type ${String(type)}`);
  }
}

/** Problems of `value` against `schema`, each naming where; empty when it fits. */
function validate(schemaIn: unknown, value: unknown, at = "$"): string[] {
  const s = node(schemaIn, `schema at ${at}`);
  for (const k of Object.keys(s))
    if (!KEYWORDS.has(k) && !ANNOTATIONS.has(k)) throw new Error(`${at}: the checker does not know "${k}"`);
  const problems: string[] = [];
  const shown = JSON.stringify(value)?.slice(0, 80);
  if (typeof s.$ref === "string") problems.push(...validate(pointer(s.$ref), value, at));
  const types = s.type === undefined ? [] : [s.type].flat().map(String);
  if (types.length > 0 && !types.some((t) => hasType(t, value)))
    return [...problems, `${at}: expected ${types.join(" or ")}, got ${shown}`];
  if (Array.isArray(s.enum) && !s.enum.includes(value)) problems.push(`${at}: ${shown} is not in the enum`);
  if ("const" in s && s.const !== value) problems.push(`${at}: expected ${JSON.stringify(s.const)}`);
  if (typeof value === "string") {
    const length = [...value].length;
    if (typeof s.minLength === "number" && length < s.minLength)
      problems.push(`${at}: shorter than minLength`);
    if (typeof s.maxLength === "number" && length > s.maxLength)
      problems.push(`${at}: longer than maxLength`);
    if (typeof s.pattern === "string" && !new RegExp(s.pattern, "u").test(value))
      problems.push(`${at}: ${shown} does not match ${s.pattern}`);
  }
  if (typeof value === "number") {
    if (typeof s.minimum === "number" && value < s.minimum) problems.push(`${at}: below ${s.minimum}`);
    if (typeof s.maximum === "number" && value > s.maximum) problems.push(`${at}: above ${s.maximum}`);
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === "number" && value.length < s.minItems) problems.push(`${at}: too few items`);
    if (typeof s.maxItems === "number" && value.length > s.maxItems) problems.push(`${at}: too many items`);
    if (s.items !== undefined) value.forEach((x, i) => problems.push(...validate(s.items, x, `${at}[${i}]`)));
  }
  if (isNode(value)) {
    for (const k of (s.required as string[] | undefined) ?? [])
      if (!Object.hasOwn(value, k)) problems.push(`${at}: missing "${k}"`);
    const properties = (s.properties as Node | undefined) ?? {};
    // The document says whether an object may carry more than it lists, never leaves it implied.
    if (s.properties !== undefined && s.additionalProperties === undefined)
      throw new Error(`${at}: the schema must state additionalProperties`);
    for (const [k, x] of Object.entries(value)) {
      if (Object.hasOwn(properties, k)) problems.push(...validate(properties[k], x, `${at}.${k}`));
      else if (s.additionalProperties === false) problems.push(`${at}: undocumented property "${k}"`);
      else if (isNode(s.additionalProperties))
        problems.push(...validate(s.additionalProperties, x, `${at}.${k}`));
    }
  }
  for (const [keyword, fits] of [
    ["anyOf", (n: number) => n >= 1],
    ["oneOf", (n: number) => n === 1],
  ] as const) {
    const branches = s[keyword];
    if (!Array.isArray(branches)) continue;
    const results = branches.map((b) => validate(b, value, at));
    if (!fits(results.filter((r) => r.length === 0).length))
      problems.push(
        `${at}: fits ${keyword} wrongly: ${results.map((r) => r.join(", ") || "fits").join(" | ")}`,
      );
  }
  return problems;
}

/** Calls `visit(schema, where)` on a schema and every schema inside it (not through `$ref`). */
function walkSchemas(s: unknown, where: string, visit: (s: Node, where: string) => void): void {
  if (!isNode(s)) return;
  visit(s, where);
  for (const [k, x] of Object.entries(node(s.properties ?? {}, where)))
    walkSchemas(x, `${where}.${k}`, visit);
  walkSchemas(s.items, `${where}[]`, visit);
  if (isNode(s.additionalProperties)) walkSchemas(s.additionalProperties, `${where}{}`, visit);
  for (const b of [s.anyOf, s.oneOf].flat()) walkSchemas(b, `${where}|`, visit);
}

// ---- the document's operations and parameters ----

const paths = node(node(doc, "document").paths, "paths");
const components = node(node(doc, "document").components, "components");

function operation(path: string, method: string): Node {
  return node(node(paths[path], path)[method], `${method.toUpperCase()} ${path}`);
}

function operations(): { path: string; method: string; op: Node }[] {
  return Object.entries(paths).flatMap(([path, item]) =>
    Object.entries(node(item, path))
      .filter(([method]) => ["get", "post", "put", "patch", "delete", "head", "options"].includes(method))
      .map(([method, op]) => ({ path, method, op: node(op, `${method} ${path}`) })),
  );
}

const insightPath = (i: Insight) => (i === "explain" ? "/api/v1/explain/{transactionId}" : `/api/v1/${i}`);

function parameters(op: Node): Node[] {
  return ((op.parameters as unknown[] | undefined) ?? []).map(deref);
}

/** Where a path parameter arrives in the parser's input (http-server.ts sets it). */
const PATH_KEYS: Readonly<Record<string, string>> = { transactionId: "transaction_id" };

function keyOf(p: Node): string {
  const name = String(p.name);
  if (p.in !== "path") return name;
  const key = PATH_KEYS[name];
  if (key === undefined) throw new Error(`path parameter ${name} reaches no parser key`);
  return key;
}

/** A parameter value as it travels in a URL: a list comma-separated. */
function serialise(v: unknown): string {
  return Array.isArray(v) ? v.map(String).join(",") : String(v);
}

/** A fixed "now" for the parser, so relative examples and defaults parse the same on every run. */
const NOW = Date.UTC(2026, 2, 1, 12, 30) / 1000;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof GatewatchError ? err.code : String(err);
  }
  return undefined;
}

function parsed(insight: Insight, params: Record<string, string>): Record<string, unknown> {
  return parseInsightParams(insight, params, NOW);
}

const refused = (insight: Insight, params: Record<string, string>) =>
  codeOf(() => parseInsightParams(insight, params, NOW));

/** The parameters an insight's parser needs to accept anything: the required ones, by example. */
function baseParams(insight: Insight): Record<string, string> {
  const required = parameters(operation(insightPath(insight), "get")).filter((p) => p.required === true);
  return Object.fromEntries(required.map((p) => [keyOf(p), serialise(p.example)]));
}

describe("docs/openapi.yaml", () => {
  it("is an OpenAPI 3.1 document whose every $ref resolves within it", () => {
    expect(node(doc, "document").openapi).toMatch(/^3\.1\.\d+$/);
    const refs = refsIn(doc);
    expect(refs.length).toBeGreaterThan(50);
    for (const ref of refs) expect(() => pointer(ref), ref).not.toThrow();
  });

  it("gives examples and defaults that fit their own schemas", () => {
    const problems: string[] = [];
    const check = (schema: Node, where: string) => {
      for (const [i, ex] of ((schema.examples as unknown[] | undefined) ?? []).entries())
        problems.push(...validate(schema, ex, `${where} examples[${i}]`));
      if (schema.default !== undefined)
        problems.push(...validate(schema, schema.default, `${where} default`));
    };
    for (const [name, s] of Object.entries(node(components.schemas, "schemas")))
      walkSchemas(s, `schemas.${name}`, check);
    for (const [name, p] of Object.entries(node(components.parameters, "parameters"))) {
      const param = node(p, name);
      walkSchemas(param.schema, `parameters.${name}`, check);
      expect(param.example, `parameters.${name} has an example`).toBeDefined();
      problems.push(...validate(param.schema, param.example, `parameters.${name} example`));
    }
    // Examples of request and response bodies.
    const media: [string, Node][] = [];
    for (const { path, method, op } of operations()) {
      for (const [type, m] of Object.entries(
        node(deref(op.requestBody ?? { content: {} }).content, "content"),
      ))
        media.push([`${method} ${path} body ${type}`, node(m, type)]);
      for (const [status, r] of Object.entries(node(op.responses, "responses")))
        for (const [type, m] of Object.entries(node(deref(r).content ?? {}, "content")))
          media.push([`${method} ${path} ${status} ${type}`, node(m, type)]);
    }
    for (const [name, r] of Object.entries(node(components.responses, "responses")))
      for (const [type, m] of Object.entries(node(node(r, name).content ?? {}, "content")))
        media.push([`responses.${name} ${type}`, node(m, type)]);
    for (const [where, m] of media) {
      if (m.example !== undefined) problems.push(...validate(m.schema, m.example, `${where} example`));
      for (const [k, ex] of Object.entries(node(m.examples ?? {}, where)))
        problems.push(...validate(m.schema, node(ex, k).value, `${where} examples.${k}`));
    }
    expect(problems).toEqual([]);
  });

  it("documents exactly the insights as GET /api/v1/* and nothing else under /api/v1", () => {
    const documented = Object.keys(paths).filter((p) => p.startsWith("/api/v1/"));
    expect(documented.sort()).toEqual(INSIGHTS.map(insightPath).sort());
    for (const i of INSIGHTS)
      expect(
        operations()
          .filter((o) => o.path === insightPath(i))
          .map((o) => o.method),
      ).toEqual(["get"]);
  });

  it("lists TOP_DIMENSIONS for by, ORIGINS for origin and the catalog's ids for cause", () => {
    const params = Object.fromEntries(
      parameters(operation("/api/v1/top", "get")).map((p) => [String(p.name), deref(p.schema)]),
    );
    expect(params.by?.enum).toEqual([...TOP_DIMENSIONS]);
    expect(deref(params.origin?.items).enum).toEqual([...ORIGINS]);
    expect(deref(params.cause?.items).enum).toEqual([...CAUSE_IDS]);
    expect(deref(pointer("#/components/schemas/TopResponse/properties/by")).enum).toEqual([
      ...TOP_DIMENSIONS,
    ]);
  });

  it("puts every /api path behind the bearer token and leaves metrics, probes and the page open", () => {
    expect(node(components.securitySchemes, "securitySchemes").bearerAuth).toMatchObject({
      type: "http",
      scheme: "bearer",
    });
    for (const { path, method, op } of operations()) {
      const security = op.security ?? node(doc, "document").security;
      expect(security, `${method} ${path}`).toEqual(path.startsWith("/api/") ? [{ bearerAuth: [] }] : []);
    }
  });

  it("states the bounds the parser enforces", () => {
    const text = (path: string) => String(operation(path, "get").description);
    for (const path of ["/api/v1/trends", "/api/v1/top"]) {
      expect(text(path)).toContain("400 days");
      expect(text(path)).toContain("15 s");
    }
    expect(text("/api/v1/trends")).toContain(`${MAX_TREND_POINTS} points`);
    expect(text("/api/v1/top")).toContain(`${RAW_MAX_RANGE / 86_400} days`);
    const day = 86_400;
    const range = (seconds: number) => ({ from: String(NOW - seconds), to: String(NOW) });
    expect(refused("trends", range(400 * day))).toBeUndefined();
    expect(refused("trends", range(400 * day + 60))).toBe("query_invalid");
    expect(refused("trends", { ...range(MAX_TREND_POINTS * 60), step: "1m" })).toBeUndefined();
    expect(refused("trends", { ...range((MAX_TREND_POINTS + 1) * 60), step: "1m" })).toBe("query_invalid");
    expect(refused("top", { ...range(RAW_MAX_RANGE), by: "host" })).toBeUndefined();
    expect(refused("top", { ...range(RAW_MAX_RANGE + 1), by: "backend_address" })).toBe("query_invalid");
    expect(refused("top", { ...range(RAW_MAX_RANGE + 1), by: "gateway" })).toBeUndefined();
  });
});

describe.each(INSIGHTS)("the documented parameters of %s", (insight) => {
  const params = parameters(operation(insightPath(insight), "get"));
  const base = baseParams(insight);

  it("are accepted with their examples, one at a time and all together", () => {
    for (const p of params) {
      const schema = deref(p.schema);
      const values = [p.example, ...((schema.examples as unknown[] | undefined) ?? [])];
      for (const v of values) {
        expect(validate(schema, v), `${String(p.name)}=${serialise(v)}`).toEqual([]);
        expect(
          refused(insight, { ...base, [keyOf(p)]: serialise(v) }),
          `${String(p.name)}=${serialise(v)}`,
        ).toBe(undefined);
      }
    }
    const all = Object.fromEntries(params.map((p) => [keyOf(p), serialise(p.example)]));
    expect(refused(insight, all)).toBeUndefined();
  });

  it("have the parser's defaults, and none where the parser has none", () => {
    const implicit = parsed(insight, base);
    for (const p of params) {
      const d = deref(p.schema).default;
      if (p.required === true) continue;
      if (d === undefined) expect(implicit[keyOf(p)], String(p.name)).toBeUndefined();
      else
        expect(parsed(insight, { ...base, [keyOf(p)]: serialise(d) })[keyOf(p)], String(p.name)).toEqual(
          implicit[keyOf(p)],
        );
    }
  });

  it("have the parser's enums and limits", () => {
    for (const p of params) {
      const key = keyOf(p);
      const schema = deref(p.schema);
      const ok = (v: string) =>
        expect(refused(insight, { ...base, [key]: v }), `${key}=${v}`).toBeUndefined();
      const bad = (v: string) =>
        expect(refused(insight, { ...base, [key]: v }), `${key}=${v}`).toBe("query_invalid");
      const items = schema.type === "array" ? deref(schema.items) : undefined;
      const enumeration = (items ?? schema).enum as unknown[] | undefined;
      if (enumeration) {
        for (const v of enumeration) ok(String(v));
        bad("not_a_documented_value");
      }
      if (typeof schema.maximum === "number") {
        ok(String(schema.maximum));
        bad(String(schema.maximum + 1));
      }
      if (typeof schema.minimum === "number") {
        ok(String(schema.minimum));
        bad(String(schema.minimum - 1));
      }
      if (typeof schema.maxLength === "number") {
        ok("a".repeat(schema.maxLength));
        bad("a".repeat(schema.maxLength + 1));
      }
      if (
        items &&
        !enumeration &&
        typeof schema.maxItems === "number" &&
        typeof items.maxLength === "number"
      ) {
        const values = (n: number) => Array.from({ length: n }, (_, i) => `v${i}`).join(",");
        ok(values(schema.maxItems));
        bad(values(schema.maxItems + 1));
        ok("a".repeat(items.maxLength));
        bad("a".repeat(items.maxLength + 1));
      }
    }
  });

  it("are exactly the keys the parser reads from its input", () => {
    // Any object parser looks up each key it knows; a proxy records the lookups.
    const read = new Set<string>();
    const spy = new Proxy<Record<string, string>>(
      {},
      {
        get: (_target, key) => {
          if (typeof key === "string") read.add(key);
          return undefined;
        },
      },
    );
    codeOf(() => parseInsightParams(insight, spy, NOW));
    expect([...read].sort()).toEqual(params.map(keyOf).sort());
  });

  it("are the only ones accepted: any other parameter is refused with query_invalid", () => {
    const documented = new Set(params.map(keyOf));
    const candidates = new Map<string, string>([["not_a_parameter", "1"]]);
    for (const i of INSIGHTS)
      for (const p of parameters(operation(insightPath(i), "get")))
        candidates.set(keyOf(p), serialise(p.example));
    for (const [name, value] of candidates)
      if (!documented.has(name))
        expect(refused(insight, { ...base, [name]: value }), name).toBe("query_invalid");
  });
});

describe("the HTTP server answers what the document says", () => {
  // chdb allows one data directory per process; vitest runs each test file in its own process.
  const dir = mkdtempSync(join(tmpdir(), "gw-openapi-"));
  const TOKEN = "openapi-test-token";
  const BASE = Date.UTC(2026, 2, 1, 8, 0, 0);
  /** The documented example transaction id, stored below so that the example request finds it. */
  const EXPLAINED = String(deref(pointer("#/components/parameters/transactionId")).example);
  let store: ClickHouseStore;
  let api: Awaited<ReturnType<typeof startHttpServer>>;
  /** A server whose store fails with `storeFailure`, for the documented 502 and 503. */
  let failing: Awaited<ReturnType<typeof startHttpServer>>;
  let storeFailure = new GatewatchError("store_error", "test: the store failed");
  let notReady: string[] = [];
  /** The ids of the alerts stored as firing now. */
  let alertIds: string[] = [];
  /** "GET /api/v1/trends 200": every documented response a test has seen. */
  const seen = new Set<string>();

  const CAUSES = [
    ["success", "none", 200],
    ["backend_timeout", "backend", 504],
    ["waf_block", "waf", 403],
  ] as const;

  /** A `requests` row a minute after BASE per `i` (negative: the hour before); other columns default. */
  function requestRow(i: number, over: Record<string, unknown> = {}): string {
    const [cause, origin, status] = CAUSES[(i + 60) % 3]!;
    return JSON.stringify({
      time: BASE + i * 60_000,
      gateway: i % 2 === 0 ? "agw-a" : "agw-b",
      kind: "access",
      cause,
      origin,
      rule: "R1",
      status,
      evidence: [`httpStatus=${status}`],
      listener: "lst-https",
      backend_pool: i % 4 < 2 ? "bp-web" : "bp-api",
      backend_address: `10.0.0.${4 + (i % 3)}`,
      host: "shop.example.com",
      client_ip: "203.0.113.7",
      request_uri: `/item/${i}`,
      transaction_id: `tx-${i + 60}`,
      time_taken: 0.05,
      source: "openapi-test",
      partition: "0",
      batch_seq: 0,
      body_index: i + 60,
      ...over,
    });
  }
  const ndjson = (lines: string[]) => Buffer.from(lines.join("\n") + "\n");

  beforeAll(async () => {
    store = await ClickHouseStore.open(parseStoreUrl(`embedded:${dir}`));
    await store.migrate();
    const explained = { client_ip: "198.51.100.9", request_uri: "/login", transaction_id: EXPLAINED };
    await store.insertEncoded(
      "requests",
      ndjson([
        ...Array.from({ length: 180 }, (_, k) => requestRow(k - 60)),
        requestRow(0, { ...explained, time: BASE + 30_000, cause: "waf_block", origin: "waf", status: 403 }),
        // Written by a build whose catalog had another cause: explain answers just its id.
        requestRow(0, {
          ...explained,
          time: BASE + 31_000,
          cause: "retired_cause",
          rule: "R9",
          body_index: 999,
        }),
      ]),
      "openapi-requests",
      "JSONEachRow",
    );
    const fw = (over: Record<string, unknown>) =>
      JSON.stringify({
        time: BASE + 29_000,
        gateway: "agw-a",
        action: "blocked",
        raw_action: "Blocked",
        rule_id: "949110",
        rule_group: "BLOCKING-EVALUATION",
        rule_set_type: "OWASP_CRS",
        rule_set_version: "3.2",
        message: "Inbound Anomaly Score Exceeded",
        hostname: "shop.example.com",
        source: "openapi-test",
        partition: "0",
        batch_seq: 0,
        body_index: 0,
        ...explained,
        ...over,
      });
    // One record by transaction id, one (without an id) linked by client IP + URI.
    await store.insertEncoded(
      "firewall_events",
      ndjson([fw({}), fw({ transaction_id: "", rule_id: "BlockLogin", time: BASE + 29_500 })]),
      "openapi-firewall",
      "JSONEachRow",
    );
    const now = Date.now();
    const alert = (over: Partial<AlertEventRow>): AlertEventRow => ({
      at: now - 120_000,
      alert_id: `agw-a/backend_timeout/${now - 120_000}`,
      state: "firing",
      alertname: "GatewatchCauseSpike",
      gateway: "agw-a",
      cause: "backend_timeout",
      origin: "backend",
      severity: "critical",
      started_at: now - 120_000,
      count: 42,
      baseline: 3,
      share: 0.4,
      baseline_share: 0.05,
      summary: "backend_timeout on agw-a: 42/min, 14× its baseline of 3/min",
      description: "Backend timed out.",
      runbook_url: "https://runbooks.example.com/backend_timeout.md",
      labels: { alertname: "GatewatchCauseSpike" },
      ...over,
    });
    const resolved = {
      alert_id: `agw-b/waf_block/${now - 600_000}`,
      gateway: "agw-b",
      cause: "waf_block",
      started_at: now - 600_000,
    };
    alertIds = [`agw-a/backend_timeout/${now - 120_000}`];
    await store.recordAlertEvents([
      alert({}),
      alert({ ...resolved, at: now - 600_000 }),
      alert({ ...resolved, state: "resolved" }),
    ]);

    const log = pino({ level: "silent" });
    const metrics = new GatewatchMetrics({ durationBuckets: [0.1, 1, 10], processMetrics: false });
    api = await startHttpServer(
      "127.0.0.1",
      0,
      {
        metrics: () => metrics.exposition(),
        notReady: () => notReady,
        query: (sql) => store.queryReadOnly(sql),
        insight: (insight, params) => runInsight(store, insight, params),
        apiToken: TOKEN,
      },
      log,
    );
    failing = await startHttpServer(
      "127.0.0.1",
      0,
      {
        metrics: () => metrics.exposition(),
        notReady: () => [],
        query: () => Promise.reject(storeFailure),
        insight: () => Promise.reject(storeFailure),
      },
      log,
    );
  });
  afterAll(async () => {
    await api?.close();
    await failing?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  interface Answer {
    status: number;
    headers: Headers;
    text: string;
  }

  async function call(
    path: string,
    o: { method?: string; token?: string | null; body?: string; server?: "api" | "failing" } = {},
  ): Promise<Answer> {
    const token = o.token === undefined ? TOKEN : o.token;
    const res = await fetch((o.server === "failing" ? failing : api).url + path, {
      method: o.method ?? "GET",
      headers: {
        ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
        ...(o.body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(o.body !== undefined ? { body: o.body } : {}),
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  /** Checks an answer against a documented response: its headers, content type and schema. */
  function conforms(response: unknown, answer: Answer, what: string): unknown {
    const r = deref(response);
    for (const header of Object.keys(node(r.headers ?? {}, "headers")))
      expect(answer.headers.get(header), `${what}: header ${header}`).not.toBeNull();
    const content = node(r.content, `${what} content`);
    const type = (answer.headers.get("content-type") ?? "").split(";")[0]!.trim();
    expect(Object.keys(content), `${what}: content type`).toContain(type);
    const value = type === "application/json" ? (JSON.parse(answer.text) as unknown) : answer.text;
    expect(validate(node(content[type], type).schema, value), what).toEqual([]);
    return value;
  }

  /** Checks an answer of `op` ("GET /api/v1/trends") against the response it documents for its status. */
  function documented(op: string, answer: Answer): Node {
    const [method, path] = op.split(" ") as [string, string];
    const response = node(operation(path, method.toLowerCase()).responses, op)[String(answer.status)];
    expect(response, `${op} documents ${answer.status}: ${answer.text.slice(0, 200)}`).toBeDefined();
    seen.add(`${op} ${answer.status}`);
    const value = conforms(response, answer, `${op} ${answer.status}`);
    return isNode(value) ? value : { text: value };
  }

  const q = (params: Record<string, string>) => `?${new URLSearchParams(params).toString()}`;
  const explainPath = (id: string) => `/api/v1/explain/${encodeURIComponent(id)}`;
  const HOURS_8_TO_10 = { from: "2026-03-01T08:00:00Z", to: "2026-03-01T10:00:00Z" };

  it("answers the catalog", async () => {
    const body = documented("GET /api/v1/causes", await call("/api/v1/causes"));
    expect((body.causes as unknown[]).length).toBe(CAUSE_IDS.length);
  });

  it("answers trends from the per-minute rollup, and from the per-hour one for whole hours", async () => {
    const minutes = documented(
      "GET /api/v1/trends",
      await call(`/api/v1/trends${q({ ...HOURS_8_TO_10, step: "10m" })}`),
    );
    expect(minutes).toMatchObject({ table: "requests_1m", step: 600 });
    expect((minutes.times as number[]).length).toBe(12);
    expect((minutes.totals as number[]).reduce((a, b) => a + b, 0)).toBe(122);
    const hours = documented(
      "GET /api/v1/trends",
      await call(`/api/v1/trends${q({ ...HOURS_8_TO_10, step: "1h" })}`),
    );
    expect(hours).toMatchObject({ table: "requests_1h", times: [BASE / 1000, BASE / 1000 + 3600] });
    expect((hours.series as unknown[]).length).toBe(4);
  });

  it("answers top lists from the rollups and, for hosts and backend addresses, from raw entries", async () => {
    const byCause = documented("GET /api/v1/top", await call(`/api/v1/top${q(HOURS_8_TO_10)}`));
    expect(byCause).toMatchObject({ table: "requests_1m", total: 122, previousTotal: 60 });
    expect((byCause.rows as { change: number | null }[]).some((r) => r.change !== null)).toBe(true);
    const byHost = documented(
      "GET /api/v1/top",
      await call(`/api/v1/top${q({ ...HOURS_8_TO_10, by: "host" })}`),
    );
    expect(byHost).toMatchObject({ table: "requests", by: "host" });
    const long = { from: "2026-02-20T00:00:00Z", to: "2026-03-02T00:00:00Z", by: "gateway", limit: "1" };
    const byGateway = documented("GET /api/v1/top", await call(`/api/v1/top${q(long)}`));
    expect(byGateway).toMatchObject({ table: "requests_1h", total: 182 });
    expect(byGateway.rows).toHaveLength(1);
  });

  it("explains a stored request: entries of known and unknown causes, every column, firewall records", async () => {
    const body = documented("GET /api/v1/explain/{transactionId}", await call(explainPath(EXPLAINED)));
    const entries = body.entries as { cause: Node; entry: Node }[];
    expect(entries.map((e) => e.cause.id)).toEqual(["waf_block", "retired_cause"]);
    expect(entries[1]!.cause).toEqual({ id: "retired_cause" });
    const columns = Object.keys(
      node(deref(pointer("#/components/schemas/RequestEntry")).properties, "properties"),
    );
    for (const e of entries) expect(Object.keys(e.entry).sort()).toEqual(columns.sort());
    expect((body.firewall as Node[]).map((f) => f.matched_by).sort()).toEqual(["fallback", "transaction_id"]);
  });

  it("answers 404 with not_found for a transaction id with nothing stored", async () => {
    const body = documented("GET /api/v1/explain/{transactionId}", await call(explainPath("tx-never-seen")));
    expect(body.code).toBe("not_found");
  });

  it("answers the alert history and the alerts firing now", async () => {
    const history = documented("GET /api/v1/alerts", await call("/api/v1/alerts"));
    expect((history.alerts as Node[]).map((a) => a.state)).toEqual(["firing", "firing", "resolved"]);
    const active = documented("GET /api/v1/alerts", await call("/api/v1/alerts?active=true"));
    expect((active.alerts as Node[]).map((a) => a.alert_id)).toEqual(alertIds);
  });

  it("answers each insight asked with every documented example, and lists given by repetition", async () => {
    for (const insight of INSIGHTS) {
      const path = insightPath(insight);
      const params = parameters(operation(path, "get"));
      const query = Object.fromEntries(
        params.filter((p) => p.in === "query").map((p) => [String(p.name), serialise(p.example)]),
      );
      const url =
        insight === "explain" ? explainPath(serialise(params[0]!.example)) : `/api/v1/${insight}${q(query)}`;
      documented(`GET ${path}`, await call(url));
    }
    const repeated = "&cause=backend_timeout&cause=waf_block&gateway=agw-a&gateway=agw-b";
    const body = documented("GET /api/v1/trends", await call(`/api/v1/trends${q(HOURS_8_TO_10)}${repeated}`));
    expect((body.series as Node[]).map((s) => s.cause).sort()).toEqual(["backend_timeout", "waf_block"]);
  });

  it("answers 400 with query_invalid for a parameter of each insight that does not parse", async () => {
    const bad: Record<Insight, string> = {
      causes: "/api/v1/causes?from=now",
      trends: "/api/v1/trends?step=7s",
      top: "/api/v1/top?limit=101",
      explain: explainPath("-not-an-id"),
      alerts: "/api/v1/alerts?active=yes",
    };
    for (const insight of INSIGHTS) {
      const body = documented(`GET ${insightPath(insight)}`, await call(bad[insight]));
      expect(body.code, insight).toBe("query_invalid");
    }
    const encoding = documented(
      "GET /api/v1/explain/{transactionId}",
      await call("/api/v1/explain/%E0%A4%A"),
    );
    expect(encoding.code).toBe("query_invalid");
  });

  it("runs read-only SQL and refuses anything else", async () => {
    const post = (sql: unknown) => call("/api/query", { method: "POST", body: JSON.stringify({ sql }) });
    const rows = documented("POST /api/query", await post("SELECT count() AS n FROM gatewatch.requests"));
    expect(rows).toEqual({ rows: [{ n: 182 }] });
    expect(documented("POST /api/query", await post("DROP TABLE gatewatch.requests")).code).toBe(
      "query_not_read_only",
    );
    const notJson = documented(
      "POST /api/query",
      await call("/api/query", { method: "POST", body: "{oops" }),
    );
    expect(notJson.code).toBe("query_invalid");
    expect(documented("POST /api/query", await post("SELECT no_such_column")).code).toBe("store_error");
    const big = `{"sql": "SELECT '${"x".repeat(256 * 1024)}'"}`;
    documented("POST /api/query", await call("/api/query", { method: "POST", body: big }));
  });

  it("answers 502 and 503 with the store's code when the store fails", async () => {
    for (const { path, method, op } of operations()) {
      const responses = node(op.responses, path);
      if (!path.startsWith("/api/") || (!("502" in responses) && !("503" in responses))) continue;
      const url = path.replace("{transactionId}", EXPLAINED);
      for (const [failure, status] of [
        [new GatewatchError("store_error", "test: refused"), 502],
        [new GatewatchError("store_unavailable", "test: unreachable", { retriable: true }), 503],
      ] as const) {
        storeFailure = failure;
        const answer = await call(url, {
          method: method.toUpperCase(),
          server: "failing",
          ...(method === "post" ? { body: '{"sql": "SELECT 1"}' } : {}),
        });
        expect(answer.status, `${method} ${path}`).toBe(status);
        expect(documented(`${method.toUpperCase()} ${path}`, answer).code).toBe(failure.code);
      }
    }
  });

  it("answers 401 on every /api path without the token or with another, and serves the rest without it", async () => {
    for (const { path, method } of operations()) {
      const url = path.replace("{transactionId}", EXPLAINED);
      const op = `${method.toUpperCase()} ${path}`;
      if (path.startsWith("/api/")) {
        for (const token of [null, "another-token"]) {
          const answer = await call(url, { method: method.toUpperCase(), token });
          expect(answer.status, op).toBe(401);
          expect(answer.headers.get("www-authenticate")).toBe('Bearer realm="gatewatch"');
          documented(op, answer);
        }
      } else {
        expect((await call(url, { token: null })).status, op).toBe(200);
      }
    }
  });

  it("answers 405 with Allow: GET to other methods on /api/v1/*", async () => {
    for (const insight of INSIGHTS) {
      const url = insightPath(insight).replace("{transactionId}", EXPLAINED);
      const answer = await call(url, { method: "POST", body: "{}" });
      expect(answer.status, url).toBe(405);
      expect(answer.headers.get("allow")).toBe("GET");
      conforms(pointer("#/components/responses/MethodNotAllowed"), answer, `POST ${url}`);
    }
  });

  it("serves metrics, the probes and the page as documented", async () => {
    const metrics = documented("GET /metrics", await call("/metrics", { token: null }));
    expect(String(metrics.text)).toContain("# TYPE gatewatch_requests_total counter");
    expect(documented("GET /healthz", await call("/healthz", { token: null }))).toEqual({ status: "ok" });
    expect(documented("GET /readyz", await call("/readyz", { token: null }))).toEqual({
      status: "ready",
      reasons: [],
    });
    notReady = ["store unreachable"];
    const notReadyBody = documented("GET /readyz", await call("/readyz", { token: null }));
    notReady = [];
    expect(notReadyBody).toEqual({ status: "not ready", reasons: ["store unreachable"] });
    const page = documented("GET /", await call("/", { token: null }));
    expect(String(page.text)).toMatch(/^<!doctype html>/i);
  });

  it("has given every documented response of every operation at least once", () => {
    const missing = operations().flatMap(({ path, method, op }) =>
      Object.keys(node(op.responses, path))
        .map((status) => `${method.toUpperCase()} ${path} ${status}`)
        .filter((key) => !seen.has(key)),
    );
    expect(missing).toEqual([]);
  });
});
