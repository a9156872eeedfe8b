/**
 * Failure modes of the data path against a real ClickHouse HTTP interface: the server erroring,
 * dropping connections or being away, bad credentials, a replay killed mid-way and run again, and
 * rows the server refuses for their content. In every case what ends up stored is exactly what the
 * input holds, once.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyLine } from "@gatewatch/classify";
import { createDemoGenerator } from "@gatewatch/source-demo";
import { startClickHouseHttp, type ClickHouseHttpFixture } from "../fixtures/clickhouse-http/index.js";
import { BIN, ROOT, cleanEnv, runCli, startCli } from "../helpers/cli.js";

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
    // Migrate first: the kill must land among the data inserts, not inside a migration (whose lock
    // would then hold up every later start for the stale-lock time).
    const migrated = await runCli(["migrate", "--store", store]);
    expect(migrated.code, migrated.stderr).toBe(0);
    // Slow every insert a little so the kill lands mid-replay.
    await server.fault("stall", 1_000_000, 150);
    const insertsBefore = (await server.stats()).inserts;
    const child = spawn(
      process.execPath,
      [BIN, "replay", big, "--store", store, "--batch-max-bodies", "20", "--no-progress"],
      { env: cleanEnv() },
    );
    let inserted = 0;
    for (let i = 0; i < 200 && inserted < 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
      inserted = (await server.stats()).inserts - insertsBefore;
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

  it("rides through request timeouts (the insert ran anyway) and a server restart mid-replay, storing every row once", async () => {
    // Three inserts answered 1.5 s late while the client gives up after 0.5 s: the server still
    // runs them, so the retries must deduplicate against rows the client never saw acknowledged.
    await server.fault("stall", 3, 1500);
    const before = (await server.stats()).inserts;
    const replay = spawn(
      process.execPath,
      [
        BIN,
        "replay",
        big,
        "--store",
        store,
        "--batch-max-bodies",
        "30",
        "--store-request-timeout-ms",
        "500",
        "--insert-max-delay-ms",
        "200",
        "--no-progress",
      ],
      { env: cleanEnv() },
    );
    let stderr = "";
    replay.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exitCode = new Promise<number | null>((resolve) => replay.on("close", resolve));
    // Then the server restarts in the middle of the replay.
    for (let i = 0; i < 300 && (await server.stats()).inserts < before + 20; i++)
      await new Promise((r) => setTimeout(r, 50));
    await server.restart();
    expect(await exitCode, stderr).toBe(0);
    // A third batch size: a third copy, once.
    expect(await counts()).toEqual({
      requests: 3 * expectedRequests,
      firewall: 3 * expectedFirewall,
      rollup: 3 * expectedRequests,
    });
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

describe("replay with rows ClickHouse refuses for their content", () => {
  // Two transaction ids of the sample get a recognisable prefix: a plain success request, and a
  // waf_block request whose two firewall records carry the same id. The fixture refuses any insert
  // holding a row with the marker below: the value as the row encoder writes it (a JSON string after
  // a comma), so the dead letters, which quote the refused row as an escaped string (,\"poison-...),
  // are not refused in turn.
  const marker = ',"poison-';
  const sample = join(dir, "sample-poison.ndjson");
  // Checked with a client of its own (quicker than a CLI process per query).
  let client: ClickHouseClient;
  const queryRows = async (db: string, query: string): Promise<Record<string, unknown>[]> => {
    const rs = await client.query({ query: query.replaceAll("{db}", db), format: "JSONEachRow" });
    return rs.json<Record<string, unknown>>();
  };
  const tableCounts = async (db: string) => {
    const [row] = await queryRows(
      db,
      `SELECT (SELECT count() FROM {db}.requests) AS requests,
              (SELECT count() FROM {db}.firewall_events) AS firewall,
              (SELECT sum(requests) FROM {db}.requests_1m) AS rollup,
              (SELECT count() FROM {db}.dead_letters WHERE reason != 'store_rejected') AS decode_dead_letters,
              (SELECT count() FROM {db}.dead_letters WHERE reason = 'store_rejected') AS rejected`,
    );
    return Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, Number(v)]));
  };
  const replayInto = (db: string) =>
    runCli([
      "replay",
      sample,
      "--store",
      `${server.host.replace("//", "//gw:pw@")}/${db}`,
      "--batch-max-bodies",
      "16",
      "--no-progress",
    ]);

  beforeAll(() => {
    client = createClient({ url: `${server.host.replace("//", "//gw:pw@")}/default` });
    const text = readFileSync(join(ROOT, "test/fixtures/replay/sample.ndjson"), "utf8")
      .replaceAll("d8d441bab2760c952f0fc87f252dcc50", "poison-d8d441bab2760c952f0fc87f")
      .replaceAll("36b86c07372430d80ddf348747c5e88c", "poison-36b86c07372430d80ddf3487");
    writeFileSync(sample, text);
  });

  it("stores every other row, dead-letters exactly the refused ones with the server's error, and replays to no change", async () => {
    // What the file stores when nothing is refused.
    const base = await replayInto("poison_base");
    expect(base.code, base.stderr).toBe(0);
    const expected = await tableCounts("poison_base");
    expect(expected).toMatchObject({ rejected: 0 });
    const marked = await queryRows(
      "poison_base",
      `SELECT * FROM (
         SELECT 'requests' AS table, transaction_id, source, partition, batch_seq, body_index, record_index
           FROM {db}.requests WHERE startsWith(transaction_id, 'poison-')
         UNION ALL
         SELECT 'firewall_events' AS table, transaction_id, source, partition, batch_seq, body_index, record_index
           FROM {db}.firewall_events WHERE startsWith(transaction_id, 'poison-')
       ) ORDER BY table, batch_seq, body_index, record_index`,
    );
    expect(marked.map((m) => m.table)).toEqual([
      "firewall_events",
      "firewall_events",
      "requests",
      "requests",
    ]);

    await server.rejectRowsMatching(marker);
    try {
      const before = (await server.stats()).rejected;
      const first = await replayInto("poison");
      expect(first.code, first.stderr).toBe(0);
      expect(first.stderr).toContain("ClickHouse refused rows for their content");
      // The summary line moves the refused rows from their tables to the dead letters.
      // Log lines (pino, asynchronous) may land after it, so find it by its shape.
      const summary = first.stderr
        .trim()
        .split("\n")
        .find((l) => l.startsWith('{"replay":"done"'));
      expect(JSON.parse(summary ?? "null")).toMatchObject({
        rows: {
          requests: expected.requests! - 2,
          firewall_events: expected.firewall! - 2,
          dead_letters: expected.decode_dead_letters! + 4,
        },
        deadLetters: expected.decode_dead_letters! + 4,
      });
      expect((await server.stats()).rejected).toBeGreaterThan(before);
      const after = await tableCounts("poison");
      expect(after).toEqual({
        requests: expected.requests! - 2,
        firewall: expected.firewall! - 2,
        rollup: expected.rollup! - 2,
        decode_dead_letters: expected.decode_dead_letters,
        rejected: 4,
      });
      const letters = await queryRows(
        "poison",
        `SELECT detail, raw, raw_bytes, source, partition, batch_seq, body_index, record_index
           FROM {db}.dead_letters WHERE reason = 'store_rejected'
         ORDER BY detail LIKE 'firewall_events:%' DESC, batch_seq, body_index, record_index`,
      );
      expect(letters.map((l) => ({ ...l, batch_seq: Number(l.batch_seq) }))).toEqual(
        marked.map((m) => ({
          detail: expect.stringMatching(
            new RegExp(
              `^${String(m.table)}: Code: 27\\. DB::Exception: Cannot parse input: expected ',' before: ',"poison-.*\\(at row \\d+\\) : While executing ParallelParsingBlockInputFormat: data for INSERT was parsed from query\\. \\(CANNOT_PARSE_INPUT_ASSERTION_FAILED\\)$`,
            ),
          ),
          raw: expect.stringContaining(`,"${String(m.transaction_id)}",`),
          raw_bytes: expect.any(Number),
          source: m.source,
          partition: m.partition,
          batch_seq: Number(m.batch_seq),
          body_index: m.body_index,
          record_index: m.record_index,
        })),
      );
      for (const l of letters) expect(l.raw_bytes).toBe(Buffer.byteLength(String(l.raw)));

      // The same file again: the same splits, every insert deduplicated.
      const second = await replayInto("poison");
      expect(second.code, second.stderr).toBe(0);
      expect(await tableCounts("poison")).toEqual(after);
    } finally {
      await server.rejectRowsMatching(null);
    }
  });

  afterAll(async () => {
    await client?.close();
  });
});
