/**
 * The insight API and commands against a known replayed fixture: `gatewatch trends/top/explain`
 * opening the store, then the running service's `/api/v1/*` and the same commands through it. Expected
 * numbers come from `gatewatch classify` of the same file (no store involved) or from the raw table,
 * never from the code under test. Hostile parameters are refused or match nothing; the token is enforced.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CAUSE_IDS } from "@gatewatch/classify";
import type { TopResult, TrendsResult } from "@gatewatch/ingestor";
import { ROOT, runCli, startCli } from "../helpers/cli.js";

const SAMPLE = join(ROOT, "test/fixtures/replay/sample.ndjson");
const dir = mkdtempSync(join(tmpdir(), "gw-insights-api-"));
const store = `embedded:${dir}`;
const TOKEN = "insights-test-token-0123456789";
// The sample's clock: 2025-03-14T12:00:00Z for 70 s (test/fixtures/replay/README.md).
const FROM = "2025-03-14T11:59:00Z";
const TO = "2025-03-14T12:02:00Z";
const T_FROM = Date.parse(FROM) / 1000;
const WAF_TX = "868a18f9561d48108821578c2c4017a8";

/** Requests per (minute, cause) of the sample, by `gatewatch classify`: access and l4, no internal traffic. */
const expected = new Map<string, Map<number, number>>();
let svc: ReturnType<typeof startCli> | undefined;
let api = "";

async function cliJson<T>(args: string[]): Promise<T> {
  const r = await runCli([...args, "--store", store, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

async function get<T = { code?: string; endpoints?: string[] }>(
  path: string,
  token: string | null = TOKEN,
): Promise<{ status: number; body: T }> {
  const res = await fetch(new URL(path, api), {
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: (await res.json()) as T };
}

beforeAll(async () => {
  const replay = await runCli(["replay", "--no-progress", "--store", store, SAMPLE]);
  expect(replay.code, replay.stderr).toBe(0);
  const classified = await runCli(["classify", SAMPLE]);
  expect(classified.code).toBe(0);
  for (const line of classified.stdout.trim().split("\n")) {
    const r = JSON.parse(line) as { kind: string; cause?: string; time?: string };
    if ((r.kind !== "access" && r.kind !== "l4") || r.cause === "internal_traffic") continue;
    const minute = Math.floor(Date.parse(r.time!) / 60_000) * 60;
    const byMinute = expected.get(r.cause!) ?? new Map<number, number>();
    byMinute.set(minute, (byMinute.get(minute) ?? 0) + 1);
    expected.set(r.cause!, byMinute);
  }
}, 120_000);

afterAll(async () => {
  if (svc && svc.child.exitCode === null) {
    svc.child.kill("SIGTERM");
    await svc.exited;
  }
  rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
});

describe("trends, top and explain on the replayed sample (store opened by the command)", () => {
  it("trends: requests per minute and cause equal the classifier's count of the file", async () => {
    const t = await cliJson<TrendsResult>(["trends", "--from", FROM, "--to", TO, "--step", "1m"]);
    expect(t.times).toEqual([T_FROM, T_FROM + 60, T_FROM + 120]);
    const got = Object.fromEntries(t.series.map((s) => [s.cause, s.values]));
    const want = Object.fromEntries(
      [...expected].map(([cause, byMinute]) => [cause, t.times.map((m) => byMinute.get(m) ?? 0)]),
    );
    expect(got).toEqual(want);
    expect(t.totals.reduce((a, b) => a + b, 0)).toBe(209);
  });

  it("top by cause: totals per cause, ranked, with shares summing to one", async () => {
    const t = await cliJson<TopResult>([
      "top",
      "--from",
      FROM,
      "--to",
      TO,
      "--by",
      "cause",
      "--limit",
      "100",
    ]);
    const want = [...expected].map(
      ([cause, m]) => [cause, [...m.values()].reduce((a, b) => a + b, 0)] as const,
    );
    expect(Object.fromEntries(t.rows.map((r) => [r.value, r.requests]))).toEqual(Object.fromEntries(want));
    expect(t.rows.map((r) => r.requests)).toEqual([...t.rows.map((r) => r.requests)].sort((a, b) => b - a));
    expect(t.rows.reduce((a, r) => a + r.share, 0)).toBeCloseTo(1, 9);
    expect(t.previousTotal).toBe(0);
  });

  it("top by host reads raw entries and agrees with a count over the raw table", async () => {
    const t = await cliJson<TopResult>(["top", "--from", FROM, "--to", TO, "--by", "host", "--limit", "3"]);
    const q = await runCli([
      "query",
      `SELECT toString(host) AS host, count() AS n FROM gatewatch.requests
       WHERE cause != 'internal_traffic' GROUP BY host ORDER BY n DESC, host LIMIT 3`,
      "--store",
      store,
    ]);
    const raw = q.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { host: string; n: number });
    expect(t.rows.map((r) => [r.value, r.requests])).toEqual(raw.map((r) => [r.host, Number(r.n)]));
  });

  it("explain: a WAF block with its cause, rule, evidence and the firewall records of the file", async () => {
    const fileRules: string[] = [];
    for (const line of readFileSync(SAMPLE, "utf8").split("\n")) {
      if (!line.includes(WAF_TX)) continue;
      const body = JSON.parse(line) as { records?: unknown[] };
      for (const r of (body.records ?? [body]) as {
        category?: string;
        properties?: Record<string, string>;
      }[])
        if (r.category === "ApplicationGatewayFirewallLog" && r.properties?.transactionId === WAF_TX)
          fileRules.push(r.properties.ruleId!);
    }
    const e = await cliJson<{
      entries: { cause: { id: string; title: string }; rule: { id: string }; evidence: string[] }[];
      firewall: { rule_id: string; matched_by: string }[];
    }>(["explain", WAF_TX]);
    expect(e.entries).toHaveLength(1);
    expect(e.entries[0]).toMatchObject({
      cause: { id: "waf_block" },
      rule: { id: "R5" },
      evidence: ["httpStatus=403"],
    });
    expect(e.firewall.map((f) => f.rule_id).sort()).toEqual(fileRules.sort());
    expect(new Set(e.firewall.map((f) => f.matched_by))).toEqual(new Set(["transaction_id"]));

    const table = await runCli(["explain", WAF_TX, "--store", store]);
    expect(table.stdout).toContain("waf_block: Blocked by the web application firewall");
    expect(table.stdout).toContain("949110");
  });

  it("refuses bad parameters with exit 2 naming them, and says when nothing is stored", async () => {
    const bad = await runCli(["trends", "--store", store, "--from", "yesterday", "--step", "90s"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("from must be now");
    expect(bad.stderr).toContain("step must be");
    const none = await runCli(["explain", "no-such-transaction", "--store", store]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("nothing stored");
  });
});

describe("the service's /api/v1 (same store, held by the running service)", () => {
  beforeAll(async () => {
    svc = startCli(
      [
        "run",
        "--store",
        store,
        "--listen-port",
        "0",
        "--demo-rate",
        "200",
        "--summary-interval-seconds",
        "0",
      ],
      { GATEWATCH_API_TOKEN: TOKEN },
    );
    api = String((await svc.waitForLog("gatewatch running")).url);
  }, 90_000);

  it("answers trends and top exactly as the command did, and the command goes through it", async () => {
    const q = `from=${FROM}&to=${TO}`;
    const direct = await get<TrendsResult>(`/api/v1/trends?${q}&step=1m`);
    expect(direct.status).toBe(200);
    const viaCli = await runCli(
      ["trends", "--from", FROM, "--to", TO, "--step", "1m", "--json", "--store", store],
      {
        env: { GATEWATCH_API_TOKEN: TOKEN },
      },
    );
    expect(viaCli.code, viaCli.stderr).toBe(0);
    expect(JSON.parse(viaCli.stdout)).toEqual(direct.body);
    const series = direct.body.series;
    expect(Object.fromEntries(series.map((s) => [s.cause, s.total]))).toEqual(
      Object.fromEntries([...expected].map(([c, m]) => [c, [...m.values()].reduce((a, b) => a + b, 0)])),
    );

    const top = await get<TopResult>(`/api/v1/top?${q}&by=backend_pool&limit=3`);
    expect(top.status, JSON.stringify(top.body)).toBe(200);
    expect(top.body.rows).toHaveLength(3);
    const filtered = await get<TopResult>(
      `/api/v1/top?${q}&by=cause&cause=waf_block&cause=no_healthy_backend`,
    );
    expect(filtered.body.rows.map((r) => r.value).sort()).toEqual(["no_healthy_backend", "waf_block"]);
  });

  it("explains a transaction, 404s an unknown one and serves the catalog", async () => {
    const e = await get<{ entries: { cause: { id: string } }[] }>(`/api/v1/explain/${WAF_TX}`);
    expect(e.status).toBe(200);
    expect(e.body.entries[0]?.cause.id).toBe("waf_block");
    expect((await get("/api/v1/explain/unknown-tx")).status).toBe(404);
    const causes = await get<{ causes: { id: string }[] }>("/api/v1/causes");
    expect(causes.body.causes.map((c) => c.id)).toEqual(CAUSE_IDS);
  });

  it("requires the bearer token on /api/* only", async () => {
    for (const token of [null, "wrong-token"]) {
      const r = await get("/api/v1/causes", token);
      expect(r.status).toBe(401);
    }
    expect((await fetch(new URL("/healthz", api))).status).toBe(200);
    expect((await fetch(new URL("/metrics", api))).status).toBe(200);
  });

  it("refuses or neutralises injection attempts in every parameter, and the data is unchanged", async () => {
    const count = async () =>
      (
        await runCli(
          [
            "query",
            "SELECT count() AS n FROM gatewatch.requests WHERE time < '2025-03-15'",
            "--store",
            store,
          ],
          {
            env: { GATEWATCH_API_TOKEN: TOKEN },
          },
        )
      ).stdout;
    const before = await count();
    const attacks = ["' OR 1=1 --", "1); DROP TABLE gatewatch.requests; --", "{from:UInt32}", "\\'", "%00"];
    const q = `from=${FROM}&to=${TO}`;
    for (const attack of attacks) {
      const a = encodeURIComponent(attack);
      // Typed parameters: refused with a clear 400.
      for (const path of [
        `/api/v1/trends?from=${a}`,
        `/api/v1/trends?${q}&to=${a}`.replace(`to=${TO}&`, ""),
        `/api/v1/trends?${q}&step=${a}`,
        `/api/v1/trends?${q}&cause=${a}`,
        `/api/v1/trends?${q}&origin=${a}`,
        `/api/v1/top?${q}&by=${a}`,
        `/api/v1/top?${q}&limit=${a}`,
        `/api/v1/alerts?since=${a}`,
        `/api/v1/alerts?active=${a}`,
        `/api/v1/explain/${a}`,
        `/api/v1/trends?${q}&${a}=1`,
      ]) {
        const r = await get(path);
        expect([400, 404], `${path} → ${r.status} ${JSON.stringify(r.body)}`).toContain(r.status);
        if (r.status === 400) expect(r.body.code).toBe("query_invalid");
      }
      // Free-text filters: a value like any other, matching nothing.
      for (const param of ["gateway", "listener", "backend_pool"]) {
        const r = await get<TrendsResult>(`/api/v1/trends?${q}&step=1m&${param}=${a}`);
        expect(r.status).toBe(200);
        expect(r.body.totals).toEqual([0, 0, 0]);
      }
    }
    expect(await count()).toBe(before);
  });

  it("says which methods and paths exist", async () => {
    const post = await fetch(new URL("/api/v1/trends", api), {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(post.status).toBe(405);
    const nope = await get("/api/v1/nope");
    expect(nope.status).toBe(404);
    expect(nope.body.endpoints).toContain("GET /api/v1/trends");
  });
});
