/**
 * `gatewatch run` on the embedded default with the demo source, as a user starts it: every demo
 * incident's cause reaches ClickHouse and /metrics, the health endpoints answer, other commands reach
 * the held store through the service, and SIGTERM mid-run exits cleanly with every admitted batch
 * stored whole.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEMO_INCIDENTS } from "@gatewatch/source-demo";
import { runCli, startCli } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "gw-run-"));
const store = `embedded:${dir}`;
afterAll(() => rmSync(dir, { recursive: true, force: true, maxRetries: 5 }));

const incidentCauses = [...new Set(DEMO_INCIDENTS.map((i) => i.cause))];

function requestsByCause(metrics: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of metrics.split("\n")) {
    const m = /^gatewatch_requests_total\{[^}]*cause="([a-z0-9_]+)"[^}]*\} (\d+)/.exec(line);
    if (m) out.set(m[1]!, (out.get(m[1]!) ?? 0) + Number(m[2]));
  }
  return out;
}

describe("gatewatch run (demo source, embedded store)", () => {
  it("classifies demo incidents into ClickHouse and /metrics, and drains on SIGTERM", async () => {
    const svc = startCli([
      "run",
      "--store",
      store,
      "--listen-port",
      "0",
      "--demo-rate",
      "1500",
      "--demo-incident-period-seconds",
      "1",
      "--demo-incident-duration-seconds",
      "1",
      "--summary-interval-seconds",
      "1",
    ]);
    const running = await svc.waitForLog("gatewatch running");
    const url = String(running.url);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    // Poll until every incident cause has been counted (bounded: the loop gives up after 120 polls).
    let seen = new Map<string, number>();
    for (let i = 0; i < 120 && !incidentCauses.every((c) => (seen.get(c) ?? 0) > 0); i++) {
      await new Promise((r) => setTimeout(r, 500));
      seen = requestsByCause(await (await fetch(`${url}/metrics`)).text());
    }
    expect(incidentCauses.filter((c) => !seen.has(c))).toEqual([]);

    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status, await ready.clone().text()).toBe(200);
    expect(svc.logs.some((l) => l.msg === "throughput")).toBe(true);

    // The store is held by the service; `gatewatch query` finds it and asks the service instead.
    const q = await runCli(["query", "SELECT count() AS n FROM gatewatch.requests", "--store", store]);
    expect(q.code, q.stderr).toBe(0);
    expect(Number((JSON.parse(q.stdout) as { n: number }).n)).toBeGreaterThan(0);
    const refused = await runCli(["query", "DROP TABLE gatewatch.requests", "--store", store]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("refused");

    svc.child.kill("SIGTERM");
    expect(await svc.exited).toBe(0);
    const stopped = svc.logs.find((l) => l.msg === "gatewatch stopped") as {
      rows: Record<string, number>;
      exitCode: number;
    };
    expect(stopped.exitCode).toBe(0);

    // After the service is gone the CLI opens the store itself: what it reported stored is all there.
    const counts = await runCli([
      "query",
      "SELECT (SELECT count() FROM gatewatch.requests) AS requests, (SELECT count() FROM gatewatch.firewall_events) AS firewall",
      "--store",
      store,
    ]);
    expect(counts.code, counts.stderr).toBe(0);
    const c = JSON.parse(counts.stdout) as { requests: number; firewall: number };
    expect(Number(c.requests)).toBe(stopped.rows.requests);
    expect(Number(c.firewall)).toBe(stopped.rows.firewall_events ?? 0);

    const causes = await runCli(["query", "SELECT DISTINCT cause FROM gatewatch.requests", "--store", store]);
    const stored = causes.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { cause: string }).cause);
    expect(incidentCauses.filter((cause) => !stored.includes(cause))).toEqual([]);
  });

  it("refuses to start a second service on the same embedded store, saying who holds it", async () => {
    const first = startCli(["run", "--store", store, "--listen-port", "0", "--demo-rate", "50"]);
    await first.waitForLog("gatewatch running");
    const second = await runCli(["run", "--store", store, "--listen-port", "0"]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/held by gatewatch \(pid \d+/);
    first.child.kill("SIGINT");
    expect(await first.exited).toBe(0);
  });
});

describe("the service API with a token", () => {
  it("refuses /api without the bearer token, keeps probes and metrics open, and commands send the token", async () => {
    const tokenDir = mkdtempSync(join(tmpdir(), "gw-token-"));
    const TOKEN = "t0ken-of-sufficient-length";
    const svc = startCli(
      ["run", "--store", `embedded:${tokenDir}`, "--listen-port", "0", "--summary-interval-seconds", "0"],
      { GATEWATCH_API_TOKEN: TOKEN },
    );
    try {
      const url = String((await svc.waitForLog("gatewatch running")).url);
      const query = (headers: Record<string, string>) =>
        fetch(`${url}/api/query`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({ sql: "SELECT 1 AS x" }),
        });
      expect((await query({})).status).toBe(401);
      const wrong = await query({ authorization: "Bearer not-the-token-at-all" });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(await (await query({ authorization: `Bearer ${TOKEN}` })).json()).toEqual({ rows: [{ x: 1 }] });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/metrics`)).status).toBe(200);
      // `gatewatch query` goes through the service holding the store, with the token from its settings.
      const withToken = await runCli(["query", "--store", `embedded:${tokenDir}`, "SELECT 2 AS y"], {
        env: { GATEWATCH_API_TOKEN: TOKEN },
      });
      expect(withToken.code, withToken.stderr).toBe(0);
      expect(JSON.parse(withToken.stdout)).toEqual({ y: 2 });
      const without = await runCli(["query", "--store", `embedded:${tokenDir}`, "SELECT 2 AS y"]);
      expect(without.code).toBe(1);
      expect(without.stderr).toContain("bearer token");
    } finally {
      svc.child.kill("SIGTERM");
      await svc.exited;
      rmSync(tokenDir, { recursive: true, force: true, maxRetries: 5 });
    }
  });
});
