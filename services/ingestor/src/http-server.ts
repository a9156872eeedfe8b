/**
 * The service's HTTP endpoints: `/metrics` (Prometheus), `/healthz` (the process is alive),
 * `/readyz` (the store answers and the pipeline runs), `GET /api/v1/*` (the insights: causes,
 * trends, top, explain, alerts; docs/openapi.yaml), `POST /api/query` (read-only SQL, so other
 * commands can reach an embedded store this process holds) and the overview page at `/`.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { isGatewatchError } from "@gatewatch/pipeline";
import { INSIGHTS, type Insight } from "./insights.js";

/** What the endpoints need from the service. */
export interface HttpHandlers {
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Reasons the service is not ready; empty when ready. */
  notReady(): string[];
  query(sql: string): Promise<Record<string, unknown>[]>;
  /** Answers one insight (`/api/v1/<insight>`); null means nothing found (404). */
  insight(insight: Insight, params: Record<string, string>): Promise<unknown>;
  /** When set, `/api/*` requires `Authorization: Bearer <token>` (probes and metrics stay open). */
  apiToken?: string;
}

const MAX_QUERY_BYTES = 256 * 1024;

/** The overview page's files, by URL path: a fixed list, so no request names a file of its own. */
const PAGE_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  "/": { file: "overview.html", type: "text/html; charset=utf-8" },
  "/overview.js": { file: "overview.js", type: "text/javascript; charset=utf-8" },
  "/overview.css": { file: "overview.css", type: "text/css; charset=utf-8" },
};
const PAGE_DIR = new URL("../public/", import.meta.url);
const pageCache = new Map<string, Buffer>();

const ENDPOINTS = [
  "/",
  "/metrics",
  "/healthz",
  "/readyz",
  ...INSIGHTS.map((i) => (i === "explain" ? "GET /api/v1/explain/{transactionId}" : `GET /api/v1/${i}`)),
  "POST /api/query",
];

/** Starts the server on host:port and resolves with the bound address. */
export async function startHttpServer(
  host: string,
  port: number,
  handlers: HttpHandlers,
  log: Logger,
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    handle(req, res, handlers).catch((err: unknown) => {
      log.error({ url: req.url, err: String(err) }, "http handler failed");
      if (!res.headersSent) send(res, 500, { error: "internal error", code: "internal" });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}`;
  return {
    server,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, h: HttpHandlers): Promise<void> {
  const path = (req.url ?? "/").split("?", 1)[0];
  if (req.method === "GET" && path === "/metrics") {
    const { contentType, body } = await h.metrics();
    res.writeHead(200, { "content-type": contentType });
    res.end(body);
  } else if (req.method === "GET" && path === "/healthz") {
    send(res, 200, { status: "ok" });
  } else if (req.method === "GET" && path === "/readyz") {
    const reasons = h.notReady();
    send(res, reasons.length === 0 ? 200 : 503, {
      status: reasons.length === 0 ? "ready" : "not ready",
      reasons,
    });
  } else if (path?.startsWith("/api/") && h.apiToken !== undefined && !authorised(req, h.apiToken)) {
    res.setHeader("www-authenticate", 'Bearer realm="gatewatch"');
    send(res, 401, { error: "missing or wrong bearer token (GATEWATCH_API_TOKEN)", code: "unauthorized" });
  } else if (path?.startsWith("/api/v1/")) {
    await handleInsight(req, res, path.slice("/api/v1/".length), h);
  } else if (req.method === "POST" && path === "/api/query") {
    const body = await readBody(req, MAX_QUERY_BYTES);
    if (body === null)
      return send(res, 413, { error: `query body over ${MAX_QUERY_BYTES} bytes`, code: "too_large" });
    let sql: unknown;
    try {
      sql = (JSON.parse(body) as { sql?: unknown }).sql;
    } catch {
      return send(res, 400, { error: 'body must be JSON {"sql": "..."}', code: "query_invalid" });
    }
    if (typeof sql !== "string")
      return send(res, 400, { error: 'body must be JSON {"sql": "..."}', code: "query_invalid" });
    await answer(res, () => h.query(sql).then((rows) => ({ rows })));
  } else if (req.method === "GET" && path !== undefined && PAGE_FILES[path]) {
    const { file, type } = PAGE_FILES[path];
    let content = pageCache.get(file);
    if (!content) pageCache.set(file, (content = readFileSync(new URL(file, PAGE_DIR))));
    res.writeHead(200, {
      "content-type": type,
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      "content-security-policy":
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    });
    res.end(content);
  } else {
    send(res, 404, { error: "not found", code: "not_found", endpoints: ENDPOINTS });
  }
}

/** `GET /api/v1/<insight>?…` and `GET /api/v1/explain/<transactionId>`. */
async function handleInsight(req: IncomingMessage, res: ServerResponse, rest: string, h: HttpHandlers) {
  const [name, id, ...extra] = rest.split("/");
  const insight = INSIGHTS.find((i) => i === name);
  if (!insight || extra.length > 0 || (id !== undefined) !== (insight === "explain"))
    return send(res, 404, { error: "not found", code: "not_found", endpoints: ENDPOINTS });
  if (req.method !== "GET") {
    res.setHeader("allow", "GET");
    return send(res, 405, { error: "method not allowed; use GET", code: "method_not_allowed" });
  }
  // A repeated parameter is a list, like a comma-separated one.
  const params: Record<string, string> = {};
  for (const [key, value] of new URL(req.url ?? "/", "http://localhost").searchParams)
    params[key] = key in params ? `${params[key]},${value}` : value;
  if (id !== undefined) {
    if ("transaction_id" in params)
      return send(res, 400, { error: "the transaction id goes in the path only", code: "query_invalid" });
    let transactionId: string;
    try {
      transactionId = decodeURIComponent(id);
    } catch {
      return send(res, 400, { error: "transaction id is not valid URL encoding", code: "query_invalid" });
    }
    params.transaction_id = transactionId;
  }
  await answer(res, async () => {
    const result = await h.insight(insight, params);
    if (result === null) throw new NotFound(`nothing stored for transaction id ${params.transaction_id}`);
    return result;
  });
}

class NotFound extends Error {}

/** Sends what `fn` resolves to; 400 for invalid questions, 404, 502/503 for store failures. */
async function answer(res: ServerResponse, fn: () => Promise<unknown>): Promise<void> {
  try {
    send(res, 200, await fn());
  } catch (err) {
    if (err instanceof NotFound) send(res, 404, { error: err.message, code: "not_found" });
    else if (isGatewatchError(err)) {
      const invalid = err.code === "query_invalid" || err.code === "query_not_read_only";
      send(res, invalid ? 400 : err.retriable ? 503 : 502, { error: err.message, code: err.code });
    } else throw err;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Constant-time comparison of the request's bearer token with the configured one. */
function authorised(req: IncomingMessage, token: string): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
  if (!m) return false;
  const digest = (t: string) => createHash("sha256").update(t).digest();
  return timingSafeEqual(digest(m[1]!), digest(token));
}
