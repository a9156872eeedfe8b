/**
 * The service's HTTP endpoints: `/metrics` (Prometheus), `/healthz` (the process is alive),
 * `/readyz` (the store answers and the pipeline runs), and `POST /api/query` (read-only SQL, so other
 * commands can reach an embedded store this process holds).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { isGatewatchError } from "@gatewatch/pipeline";

/** What the endpoints need from the service. */
export interface HttpHandlers {
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Reasons the service is not ready; empty when ready. */
  notReady(): string[];
  query(sql: string): Promise<Record<string, unknown>[]>;
  /** When set, `/api/*` requires `Authorization: Bearer <token>` (probes and metrics stay open). */
  apiToken?: string;
}

const MAX_QUERY_BYTES = 256 * 1024;

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
      if (!res.headersSent) send(res, 500, { error: "internal error" });
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
    send(res, 401, { error: "missing or wrong bearer token (GATEWATCH_API_TOKEN)" });
  } else if (req.method === "POST" && path === "/api/query") {
    const body = await readBody(req, MAX_QUERY_BYTES);
    if (body === null) return send(res, 413, { error: `query body over ${MAX_QUERY_BYTES} bytes` });
    let sql: unknown;
    try {
      sql = (JSON.parse(body) as { sql?: unknown }).sql;
    } catch {
      return send(res, 400, { error: 'body must be JSON {"sql": "..."}' });
    }
    if (typeof sql !== "string") return send(res, 400, { error: 'body must be JSON {"sql": "..."}' });
    try {
      send(res, 200, { rows: await h.query(sql) });
    } catch (err) {
      if (isGatewatchError(err))
        send(res, err.code === "query_not_read_only" ? 400 : 502, { error: err.message, code: err.code });
      else throw err;
    }
  } else {
    send(res, 404, { error: "not found", endpoints: ["/metrics", "/healthz", "/readyz", "POST /api/query"] });
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
