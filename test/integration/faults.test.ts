/**
 * Failure modes of the data path against a real ClickHouse HTTP interface: the server erroring,
 * dropping connections or being away, bad credentials, and a replay killed mid-way and run again.
 * In every case what ends up stored is exactly what the input holds, once.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyLine } from "@gatewatch/classify";
import { createDemoGenerator } from "@gatewatch/source-demo";
import { startClickHouseHttp, type ClickHouseHttpFixture } from "../fixtures/clickhouse-http/index.js";
import { BIN, cleanEnv, runCli, startCli } from "../helpers/cli.js";

let server: ClickHouseHttpFixture;
let store = "";
const dir = mkdtempSync(join(tmpdir(), "gw-faults-"));
const big = join(dir, "demo.ndjson");
let expectedRequests = 0;
let expectedFirewall = 0;

beforeAll(async () => {
  server = await startClickHouseHttp({ user: "gw", password: "pw" });
  store = `${server.host.replace("//", "//gw:pw@")}/faults`;
  // A few thousand realistic bodies from the demo generator, and what they should store.
  const gen = createDemoGenerator({
    seed: 3,
    ratePerSecond: 4000,
    incidentPeriodSeconds: 2,
    incidentDurationSeconds: 1,
    startTimeMs: Date.UTC(2026, 10, 1),
  });
  const lines: string[] = [];
  for (let tick = 0; tick < 120; tick++)
    for (const b of gen.bodiesAt(tick)) lines.push(Buffer.from(b).toString("utf8"));
  writeFileSync(big, lines.join("\n") + "\n");
  for (const line of lines) {
    for (const o of classifyLine(line)) {
      if (o.kind === "access" || o.kind === "l4") expectedRequests++;
      else if (o.kind === "firewall") expectedFirewall++;
    }
  }
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function counts(): Promise<{ requests: number; firewall: number; rollup: number }> {
  const r = await runCli([
    "query",
    "SELECT (SELECT count() FROM faults.requests) AS requests, (SELECT count() FROM faults.firewall_events) AS firewall, (SELECT sum(requests) FROM faults.requests_1m) AS rollup",
    "--store",
    store,
  ]);
  expect(r.code, r.stderr).toBe(0);
  const row = JSON.parse(r.stdout) as Record<string, unknown>;
  return { requests: Number(row.requests), firewall: Number(row.firewall), rollup: Number(row.rollup) };
}

describe("replay under ClickHouse faults", () => {
  it("a replay killed mid-way and run again stores every row exactly once", async () => {
    expect(expectedRequests).toBeGreaterThan(5000);
    // Slow every insert a little so the kill lands mid-replay.
    await server.fault("stall", 1_000_000, 150);
    const child = spawn(
      process.execPath,
      [BIN, "replay", big, "--store", store, "--batch-max-bodies", "20", "--no-progress"],
      { env: cleanEnv() },
    );
    let inserted = 0;
    for (let i = 0; i < 200 && inserted < 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
      inserted = (await server.stats()).inserts;
    }
    child.kill("SIGKILL");
    await new Promise((r) => child.on("close", r));
    await server.fault("none");
    const partial = await counts();
    expect(partial.requests).toBeGreaterThan(0);
    expect(partial.requests).toBeLessThan(expectedRequests);

    const r = await runCli(["replay", big, "--store", store, "--batch-max-bodies", "20", "--no-progress"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await counts()).toEqual({
      requests: expectedRequests,
      firewall: expectedFirewall,
      rollup: expectedRequests,
    });
  });

  it("retries through server errors and dropped connections, then stores every row once", async () => {
    await server.fault("error", 4);
    const a = await runCli([
      "replay",
      big,
      "--store",
      store,
      "--batch-max-bodies",
      "50",
      "--insert-max-delay-ms",
      "200",
      "--no-progress",
    ]);
    expect(a.code, a.stderr).toBe(0);
    await server.fault("refuse", 3);
    const b = await runCli([
      "replay",
      big,
      "--store",
      store,
      "--batch-max-bodies",
      "50",
      "--insert-max-delay-ms",
      "200",
      "--no-progress",
    ]);
    expect(b.code, b.stderr).toBe(0);
    // Different batch sizes make different batches: the second size adds its own copy, once.
    expect(await counts()).toEqual({
      requests: 2 * expectedRequests,
      firewall: 2 * expectedFirewall,
      rollup: 2 * expectedRequests,
    });
    expect((await server.stats()).faults).toBeGreaterThanOrEqual(7);
  });

  it("exits 1 with a clear message when ClickHouse is unreachable", async () => {
    const r = await runCli(["replay", big, "--store", "http://gw:pw@127.0.0.1:1/faults"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ClickHouse unreachable/);
    expect(r.stderr).not.toContain("pw@");
  });

  it("exits 1 without retrying when the credentials are wrong", async () => {
    const r = await runCli(["migrate", "--store", store.replace("gw:pw@", "gw:wrong@")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/516|Authentication failed/);
  });

  it("shuts down within the bound while ClickHouse keeps failing, and says what it abandoned", async () => {
    const svc = startCli([
      "run",
      "--store",
      store,
      "--listen-port",
      "0",
      "--demo-rate",
      "400",
      "--shutdown-timeout-seconds",
      "2",
      "--insert-max-delay-ms",
      "300",
    ]);
    await svc.waitForLog("gatewatch running");
    await server.fault("error", 1_000_000);
    await svc.waitForLog("insert failed, retrying");
    svc.child.kill("SIGTERM");
    const code = await svc.exited;
    await server.fault("none");
    expect(code).toBe(1);
    expect(
      svc.logs.some((l) => l.msg === "drain timed out: in-flight batches abandoned unacknowledged"),
    ).toBe(true);
    expect(svc.logs.find((l) => l.msg === "gatewatch stopped")).toMatchObject({ exitCode: 1 });
  });

  it("exits at once on a second signal while a drain is still waiting for ClickHouse", async () => {
    const svc = startCli([
      "run",
      "--store",
      store,
      "--listen-port",
      "0",
      "--demo-rate",
      "400",
      "--shutdown-timeout-seconds",
      "60",
      "--insert-max-delay-ms",
      "300",
    ]);
    await svc.waitForLog("gatewatch running");
    await server.fault("error", 1_000_000);
    await svc.waitForLog("insert failed, retrying");
    svc.child.kill("SIGTERM");
    await svc.waitForLog("shutting down: stop reading, drain, flush");
    svc.child.kill("SIGINT");
    const code = await svc.exited;
    await server.fault("none");
    expect(code).toBe(130);
    expect(
      svc.logs.some((l) => l.msg === "second signal: exiting now; unstored batches were not acknowledged"),
    ).toBe(true);
    expect(svc.logs.some((l) => l.msg === "gatewatch stopped")).toBe(false);
  });
});
