/**
 * Dependency faults (issue 10): one `gatewatch run --source eventhubs` process reads a 4-partition hub
 * of the AMQP emulator while its dependencies misbehave in turn. The ClickHouse HTTP fixture refuses
 * connections, stalls past the client's request timeout, answers server errors and is killed and
 * restarted on its port; then Azurite (checkpoints and ownership) is stopped and started again on
 * its port and data dir. Demo bodies are published before the run and while the faults happen.
 * Throughout, the service must stay up with bounded memory, and no checkpoint may claim what
 * ClickHouse does not hold; at the end every record is stored exactly once.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { EventHubConsumerClient } from "@azure/event-hubs";
import { BlobCheckpointStore } from "@azure/eventhubs-checkpointstore-blob";
import { ContainerClient } from "@azure/storage-blob";
import { classifyLine } from "@gatewatch/classify";
import { createDemoGenerator } from "@gatewatch/source-demo";
import { startClickHouseHttp, type ClickHouseHttpFixture } from "../fixtures/clickhouse-http/index.js";
import {
  freePort,
  startEventHubsEmulator,
  type EventHubsEmulatorFixture,
} from "../fixtures/eventhubs-emulator/index.js";
import { exited, launchNode, live } from "../fixtures/processes.js";
import { startCli } from "../helpers/cli.js";
import { waitFor } from "../helpers/wait.js";

const HUB = "appgw-logs";
const CONTAINER = "gw-checkpoints";
const DB = "depfaults";
const PARTITIONS = ["0", "1", "2", "3"];
/** Ticks of demo bodies published before the service starts, and during the faults. */
const TICKS_BEFORE = 30;
const TICKS_DURING = 70;
/** Each ClickHouse fault lasts this long. */
const FAULT_MS = 4000;
/**
 * Azurite stays away longer than the storage client's own retries of one request (4 tries over
 * about 16 s: the @azure/storage-blob defaults) so that checkpoint and ownership writes do fail,
 * and longer than the ownership expiry (3 s).
 */
const AZURITE_DOWN_MS = 22_000;
const STORE_REQUEST_TIMEOUT_MS = 2000;
const STALL_MS = 3000;
const RSS_BOUND_BYTES = 300 * 1024 * 1024;

const WATCHDOG = fileURLToPath(
  new URL("../fixtures/eventhubs-emulator/exit-with-parent.mjs", import.meta.url),
);
const AZURITE_BLOB = fileURLToPath(
  new URL("../../node_modules/azurite/dist/src/blob/main.js", import.meta.url),
);
const DEVSTORE_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/**
 * Azurite's blob service persisting to `dir` on a fixed port, so that it can be stopped and started
 * again with its blobs (the shared launcher runs it in memory and cannot restart it).
 */
class RestartableAzurite {
  #child: ChildProcess | undefined;
  constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get connectionString(): string {
    return (
      `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${DEVSTORE_KEY};` +
      `BlobEndpoint=http://127.0.0.1:${this.port}/devstoreaccount1;`
    );
  }

  async start(): Promise<void> {
    const { child } = await launchNode(
      "azurite",
      [
        "--import",
        WATCHDOG,
        AZURITE_BLOB,
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        String(this.port),
        "--location",
        this.dir,
        "--disableTelemetry",
        "--skipApiVersionCheck",
        "--silent",
      ],
      (l) => l.includes("successfully listens on"),
      this.dir,
    );
    this.#child = child;
  }

  /** SIGTERM (Azurite saves its metadata), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited(child);
      clearTimeout(timer);
    }
    live.delete(child);
  }
}

let hub: EventHubsEmulatorFixture;
let azurite: RestartableAzurite;
let clickhouse: ClickHouseHttpFixture;
let reader: ClickHouseClient;
let namespace = "";
let service: ReturnType<typeof startCli> | undefined;
let sampler: NodeJS.Timeout | undefined;
const azuriteDir = mkdtempSync(join(tmpdir(), "gw-depfaults-azurite-"));

/** What the published bodies hold, by `gatewatch classify`'s own function. */
const expected = {
  requests: 0,
  firewall: 0,
  deadLetters: 0,
  causes: {} as Record<string, number>,
  /** Rows (all three tables) each event produces, by partition and sequence number. */
  rowsBySeq: Object.fromEntries(PARTITIONS.map((p) => [p, [] as number[]])) as Record<string, number[]>,
  bodies: 0,
};

const gen = createDemoGenerator({
  seed: 1010,
  ratePerSecond: 800,
  incidentPeriodSeconds: 2,
  incidentDurationSeconds: 1,
  startTimeMs: Date.UTC(2026, 10, 5),
});
let tick = 0;
let nextPartition = 0;

/** Publishes the next `ticks` ticks of demo bodies round-robin over the partitions, recording what they hold. */
async function publish(ticks: number, extra: Uint8Array[] = []): Promise<void> {
  const bodies: Uint8Array[] = [...extra];
  for (let i = 0; i < ticks; i++) bodies.push(...gen.bodiesAt(tick++));
  const byPartition = new Map<string, { body: Uint8Array; rows: number }[]>();
  for (const body of bodies) {
    let rows = 0;
    for (const o of classifyLine(Buffer.from(body).toString("utf8"))) {
      if (o.kind === "access" || o.kind === "l4") {
        expected.requests++;
        expected.causes[o.cause] = (expected.causes[o.cause] ?? 0) + 1;
        rows++;
      } else if (o.kind === "firewall") {
        expected.firewall++;
        rows++;
      } else if (o.kind === "invalid") {
        expected.deadLetters++;
        rows++;
      }
    }
    const p = PARTITIONS[nextPartition++ % PARTITIONS.length]!;
    const list = byPartition.get(p) ?? [];
    list.push({ body, rows });
    byPartition.set(p, list);
  }
  for (const [p, list] of byPartition) {
    const { sequenceNumbers } = await hub.publish(
      p,
      list.map((e) => e.body),
    );
    sequenceNumbers.forEach((seq, i) => (expected.rowsBySeq[p]![seq] = list[i]!.rows));
    expected.bodies += list.length;
  }
}

async function query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const rs = await reader.query({ query: sql, format: "JSONEachRow" });
  return rs.json<T>();
}

async function storedTotal(): Promise<number> {
  const [row] = await query(
    `SELECT (SELECT count() FROM ${DB}.requests) + (SELECT count() FROM ${DB}.firewall_events) + (SELECT count() FROM ${DB}.dead_letters) AS n`,
  );
  return Number(row!.n);
}

/** Positions of every stored row, as event sequence numbers (batch_seq + body_index) per partition. */
const POSITIONS = ["requests", "firewall_events", "dead_letters"]
  .map((t) => `SELECT partition, batch_seq + body_index AS seq FROM ${DB}.${t}`)
  .join(" UNION ALL ");

async function checkpoints(): Promise<Map<string, number>> {
  const store = new BlobCheckpointStore(new ContainerClient(azurite.connectionString, CONTAINER));
  const list = await store.listCheckpoints(namespace, HUB, "$Default");
  return new Map(list.map((c) => [c.partitionId, c.sequenceNumber]));
}

/**
 * The checkpoints claim no more than ClickHouse holds: for each partition, every row of the events
 * up to its checkpoint is stored. Checkpoints are read first (stored rows only grow).
 */
async function expectCheckpointsCovered(): Promise<Map<string, number>> {
  const cps = await checkpoints();
  const stored = await query<{ partition: string; seq: string; n: string }>(
    `SELECT partition, seq, count() AS n FROM (${POSITIONS}) GROUP BY partition, seq`,
  );
  for (const [p, cp] of cps) {
    const want = expected.rowsBySeq[p]!.slice(0, cp + 1).reduce((a, b) => a + b, 0);
    const have = stored
      .filter((r) => r.partition === p && Number(r.seq) <= cp)
      .reduce((a, r) => a + Number(r.n), 0);
    expect({ partition: p, checkpoint: cp, rows: have }).toEqual({
      partition: p,
      checkpoint: cp,
      rows: want,
    });
  }
  return cps;
}

/** Sum of a metric's samples, optionally grouped by one label. */
function metricSum(text: string, name: string): number {
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "gm"))].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );
}
function metricByLabel(text: string, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, "gm"))) {
    const value = new RegExp(`${label}="([^"]*)"`).exec(m[1]!)?.[1] ?? "";
    out[value] = (out[value] ?? 0) + Number(m[2]);
  }
  return out;
}

function rssBytes(pid: number): number | undefined {
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  azurite = new RestartableAzurite(azuriteDir, await freePort());
  [hub, clickhouse] = await Promise.all([
    startEventHubsEmulator({ hub: HUB, partitions: 4 }),
    startClickHouseHttp(),
    azurite.start(),
  ]);
  reader = createClient({ url: clickhouse.url, request_timeout: 10_000 });
  const probe = new EventHubConsumerClient("$Default", hub.connectionString, HUB);
  namespace = probe.fullyQualifiedNamespace;
  await probe.close();
});
afterAll(async () => {
  clearInterval(sampler);
  if (service && service.child.exitCode === null && service.child.signalCode === null) {
    service.child.kill("SIGKILL");
    await service.exited;
  }
  await reader?.close();
  await Promise.allSettled([hub?.stop(), azurite?.stop(), clickhouse?.stop()]);
  rmSync(azuriteDir, { recursive: true, force: true });
});

describe("gatewatch run --source eventhubs under dependency faults", { timeout: 240_000 }, () => {
  it("rides through ClickHouse and Azurite outages with bounded memory, never checkpointing unstored rows, and stores every record once", async () => {
    const started = Date.now();
    await publish(TICKS_BEFORE, [
      Buffer.from('{"records":[{"this is": "not closed"'),
      Buffer.from("\u0000\u0001binary"),
    ]);
    const svc = (service = startCli(
      [
        "run",
        "--source",
        "eventhubs",
        "--eventhub-start",
        "earliest",
        "--eventhub-update-interval-ms",
        "500",
        "--eventhub-ownership-expiration-ms",
        "3000",
        "--checkpoint-container",
        CONTAINER,
        "--store",
        `${clickhouse.host}/${DB}`,
        "--listen-port",
        "0",
        "--batch-max-bodies",
        "25",
        "--insert-max-delay-ms",
        "500",
        "--summary-interval-seconds",
        "0",
      ],
      {
        GATEWATCH_EVENTHUB_CONNECTION_STRING: hub.connectionString,
        GATEWATCH_CHECKPOINT_CONNECTION_STRING: azurite.connectionString,
        GATEWATCH_STORE_REQUEST_TIMEOUT_MS: String(STORE_REQUEST_TIMEOUT_MS),
      },
    ));
    let exitedEarly: number | null | undefined;
    void svc.exited.then((code) => (exitedEarly ??= code));
    const url = String((await svc.waitForLog("gatewatch running")).url);
    const metrics = async () => (await fetch(`${url}/metrics`)).text();
    let watchOwnership = false;
    const pid = svc.child.pid!;

    // Every 500 ms: VmRSS of the service process (its classifier threads included), and the
    // partitions it owns (to report how ownership fared while Azurite was away).
    const rssStart = rssBytes(pid)!;
    let rssMax = rssStart;
    let ownedMin = Infinity;
    let sampling = false;
    sampler = setInterval(() => {
      const rss = rssBytes(pid);
      if (rss !== undefined) rssMax = Math.max(rssMax, rss);
      if (sampling) return;
      sampling = true;
      void metrics()
        .then((text) => {
          const owned = /^gatewatch_source_owned_partitions (\d+)$/m.exec(text)?.[1];
          if (owned !== undefined && watchOwnership) ownedMin = Math.min(ownedMin, Number(owned));
        })
        .catch(() => undefined)
        .finally(() => (sampling = false));
    }, 500);
    const retriesNow = async () => metricSum(await metrics(), "gatewatch_store_insert_retries_total");

    const stillRunning = () => expect(exitedEarly, svc.stderr()).toBeUndefined();
    /** Waits for stored rows to grow past `than` (ClickHouse answering again, batches flowing). */
    const progressed = async (what: string, than: number) =>
      waitFor(
        `stored rows to grow after ${what}`,
        async () => (await storedTotal().catch(() => 0)) > than,
        60_000,
        200,
      );

    // Publishing goes on through the faults: a tick every 400 ms, the rest after them.
    let publishing = true;
    let publishedDuring = 0;
    const publisher = (async () => {
      while (publishing && publishedDuring < TICKS_DURING) {
        await publish(1);
        publishedDuring++;
        await sleep(400);
      }
    })();
    // Awaited after the faults; until then a failure must not surface as an unhandled rejection.
    publisher.catch(() => undefined);

    await waitFor("the service to own all 4 partitions", async () =>
      /^gatewatch_source_owned_partitions 4$/m.test(await metrics()),
    );
    await progressed("start", 0);
    watchOwnership = true;

    const faults: { kind: string; ms: number; injected: number }[] = [];
    let azuriteReport: Record<string, unknown> = {};
    for (const [mode, count] of [
      ["refuse", 1_000_000],
      ["stall", 1_000_000],
      ["error", 1_000_000],
    ] as const) {
      const before = await storedTotal();
      const retriesBefore = await retriesNow();
      const { faults: f0 } = await clickhouse.stats();
      const t0 = Date.now();
      await clickhouse.fault(mode, count, mode === "stall" ? STALL_MS : 0);
      await sleep(FAULT_MS);
      await clickhouse.fault("none");
      const { faults: f1 } = await clickhouse.stats();
      faults.push({ kind: `clickhouse ${mode}`, ms: Date.now() - t0, injected: f1 - f0 });
      stillRunning();
      expect(f1 - f0).toBeGreaterThan(0);
      // The stalled inserts timed out on the client (2 s) and were retried, like the refused and failed ones.
      expect(await retriesNow()).toBeGreaterThan(retriesBefore);
      // A stalled insert still lands after its stall: let those finish before counting progress.
      if (mode === "stall") await sleep(STALL_MS);
      await progressed(mode, before);
    }

    // ClickHouse crashes and comes back on its port and data dir.
    {
      const before = await storedTotal();
      const retriesBefore = await retriesNow();
      const t0 = Date.now();
      await clickhouse.kill();
      await sleep(FAULT_MS);
      await clickhouse.restart();
      faults.push({ kind: "clickhouse kill + restart", ms: Date.now() - t0, injected: 1 });
      stillRunning();
      expect(await retriesNow()).toBeGreaterThan(retriesBefore);
      await progressed("the ClickHouse restart", before);
    }

    // Azurite goes away longer than the ownership expiry, then returns with its blobs.
    {
      const cpBefore = await expectCheckpointsCovered();
      const errorsBefore = metricByLabel(await metrics(), "gatewatch_source_receive_errors_total", "kind");
      const ackFailures = () =>
        svc.logs.filter(
          (l) => l.msg === "acknowledging a stored batch failed; the next acknowledgement covers it",
        ).length;
      const ackFailuresBefore = ackFailures();
      const storedBefore = await storedTotal();
      const logsBefore = svc.logs.length;
      const t0 = Date.now();
      await azurite.stop();
      await sleep(AZURITE_DOWN_MS);
      const readyDuring = (await fetch(`${url}/readyz`)).status;
      const storedDuring = await storedTotal();
      // Checkpoint writes failed (after the storage client's own retries), and the service said so.
      const ackFailuresDuring = ackFailures() - ackFailuresBefore;
      expect(ackFailuresDuring).toBeGreaterThan(0);
      await azurite.start();
      faults.push({ kind: "azurite stop + start", ms: Date.now() - t0, injected: 1 });
      stillRunning();
      // Right after its return: no checkpoint went backwards, none claims an unstored row.
      const cpAfter = await expectCheckpointsCovered();
      for (const [p, cp] of cpBefore) expect(cpAfter.get(p) ?? -1).toBeGreaterThanOrEqual(cp);
      // Ownership recovers: ready again, owning all 4 partitions.
      await waitFor(
        "readyz 200 and 4 owned partitions after Azurite returned",
        async () =>
          (await fetch(`${url}/readyz`)).status === 200 &&
          /^gatewatch_source_owned_partitions 4$/m.test(await metrics()),
        60_000,
        200,
      );
      watchOwnership = false;
      const errorsAfter = metricByLabel(await metrics(), "gatewatch_source_receive_errors_total", "kind");
      // The source's error metric saw it (the kind depends on which call failed: see the report).
      expect(metricSum(await metrics(), "gatewatch_source_receive_errors_total")).toBeGreaterThan(
        Object.values(errorsBefore).reduce((a, b) => a + b, 0),
      );
      azuriteReport = {
        readyzWhileDown: readyDuring,
        rowsStoredWhileDown: storedDuring - storedBefore,
        checkpointWriteFailures: ackFailuresDuring,
        receiveErrors: { before: errorsBefore, after: errorsAfter },
        receiveErrorLogs: svc.logs
          .slice(logsBefore)
          .filter((l) => l.msg === "event hubs receive error")
          .map((l) => `${String(l.kind)}: ${String(l.err).slice(0, 120)}`),
        checkpoints: { before: Object.fromEntries(cpBefore), after: Object.fromEntries(cpAfter) },
      };
    }

    // Faults over: the rest of the bodies, then everything stored.
    publishing = false;
    await publisher;
    await publish(TICKS_DURING - publishedDuring);
    await waitFor(
      "every published record to be stored",
      async () => (await storedTotal()) >= expected.requests + expected.firewall + expected.deadLetters,
      90_000,
      250,
    );
    // Checkpoints catch up to the last event of every partition.
    await waitFor(
      "the checkpoints to reach the last event of every partition",
      async () => {
        const cps = await checkpoints();
        return PARTITIONS.every((p) => cps.get(p) === expected.rowsBySeq[p]!.length - 1);
      },
      30_000,
      250,
    );
    await expectCheckpointsCovered();
    stillRunning();
    const finalMetrics = await metrics();
    clearInterval(sampler);
    svc.child.kill("SIGTERM");
    expect(await svc.exited, svc.stderr()).toBe(0);

    // Exactly once: per table, per cause, per dead-letter count; rollups equal the raw rows; no position twice.
    const [counts] = await query(
      `SELECT (SELECT count() FROM ${DB}.requests) AS requests,
              (SELECT count() FROM ${DB}.firewall_events) AS firewall,
              (SELECT count() FROM ${DB}.dead_letters) AS deadLetters,
              (SELECT sum(requests) FROM ${DB}.requests_1m) AS rollup1m,
              (SELECT sum(requests) FROM ${DB}.requests_1h) AS rollup1h`,
    );
    const c = Object.fromEntries(Object.entries(counts!).map(([k, v]) => [k, Number(v)]));
    const figures = {
      bodies: expected.bodies,
      expected: {
        requests: expected.requests,
        firewall: expected.firewall,
        deadLetters: expected.deadLetters,
      },
      stored: c,
      recordsLost:
        Math.max(0, expected.requests - c.requests!) +
        Math.max(0, expected.firewall - c.firewall!) +
        Math.max(0, expected.deadLetters - c.deadLetters!),
      faults,
      azurite: azuriteReport,
      ownedPartitionsMin: ownedMin,
      retries: metricByLabel(finalMetrics, "gatewatch_store_insert_retries_total", "reason"),
      receiveErrors: metricByLabel(finalMetrics, "gatewatch_source_receive_errors_total", "kind"),
      rssMB: { start: Math.round(rssStart / 2 ** 20), max: Math.round(rssMax / 2 ** 20) },
      seconds: Math.round((Date.now() - started) / 1000),
    };
    process.stdout.write(`dependency faults: ${JSON.stringify(figures)}\n`);
    expect(c).toEqual({
      requests: expected.requests,
      firewall: expected.firewall,
      deadLetters: expected.deadLetters,
      rollup1m: expected.requests,
      rollup1h: expected.requests,
    });
    const causes = await query<{ cause: string; n: string }>(
      `SELECT cause, count() AS n FROM ${DB}.requests GROUP BY cause`,
    );
    expect(Object.fromEntries(causes.map((r) => [r.cause, Number(r.n)]))).toEqual(expected.causes);
    const rollupCauses = await query<{ cause: string; n: string }>(
      `SELECT cause, sum(requests) AS n FROM ${DB}.requests_1m GROUP BY cause`,
    );
    expect(Object.fromEntries(rollupCauses.map((r) => [r.cause, Number(r.n)]))).toEqual(expected.causes);
    for (const table of ["requests", "firewall_events", "dead_letters"]) {
      const [dup] = await query(
        `SELECT count() - uniqExact(partition, batch_seq + body_index, record_index) AS d FROM ${DB}.${table}`,
      );
      expect({ table, duplicates: Number(dup!.d) }).toEqual({ table, duplicates: 0 });
    }

    // The faults were seen: insert retries by error code, source receive errors by kind.
    const retries = metricByLabel(finalMetrics, "gatewatch_store_insert_retries_total", "reason");
    const receiveErrors = metricByLabel(finalMetrics, "gatewatch_source_receive_errors_total", "kind");
    expect(retries.store_unavailable ?? 0).toBeGreaterThan(0);
    expect(retries.store_error ?? 0).toBeGreaterThan(0);
    expect(Object.values(receiveErrors).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(exitedEarly).toBe(0);
    expect(rssMax - rssStart).toBeLessThan(RSS_BOUND_BYTES);
  });
});
