/**
 * `gatewatch run --source eventhubs` end to end over the real protocol: the real SDK producer
 * publishes demo bodies into a 4-partition hub of the in-repo AMQP emulator; gatewatch processes
 * read it with Azurite as the checkpoint store and write to a ClickHouse HTTP server (shared by
 * several gatewatch processes). After every scenario the stored rows equal, exactly, what the
 * published bodies hold.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { EventHubConsumerClient, EventHubProducerClient } from "@azure/event-hubs";
import { BlobCheckpointStore } from "@azure/eventhubs-checkpointstore-blob";
import { ContainerClient } from "@azure/storage-blob";
import { classifyLine } from "@gatewatch/classify";
import { createDemoGenerator } from "@gatewatch/source-demo";
import { startClickHouseHttp, type ClickHouseHttpFixture } from "../fixtures/clickhouse-http/index.js";
import {
  startAzurite,
  startEventHubsEmulator,
  type EventHubsEmulatorFixture,
} from "../fixtures/eventhubs-emulator/index.js";
import { startCli } from "../helpers/cli.js";
import { waitFor } from "../helpers/wait.js";

const HUB = "appgw-logs";
const CONTAINER = "gw-checkpoints";
let hub: EventHubsEmulatorFixture;
let azurite: { connectionString: string; stop(): Promise<void> };
let clickhouse: ClickHouseHttpFixture;
let store = "";
let producer: EventHubProducerClient;
let reader: ClickHouseClient;
/** The namespace as the SDK names it in checkpoint blobs. */
let namespace = "";
const expected = { requests: 0, firewall: 0, deadLetters: 0 };

const gen = createDemoGenerator({
  seed: 21,
  ratePerSecond: 400,
  incidentPeriodSeconds: 2,
  incidentDurationSeconds: 1,
  startTimeMs: Date.UTC(2026, 10, 2),
});
let tick = 0;

/** Publishes the next `ticks` ticks of demo bodies round-robin over the 4 partitions. */
async function publish(ticks: number, extra: Uint8Array[] = []): Promise<void> {
  const bodies: Uint8Array[] = [...extra];
  for (let i = 0; i < ticks; i++) bodies.push(...gen.bodiesAt(tick++));
  for (const b of bodies) {
    for (const o of classifyLine(Buffer.from(b).toString("utf8"))) {
      if (o.kind === "access" || o.kind === "l4") expected.requests++;
      else if (o.kind === "firewall") expected.firewall++;
      else if (o.kind === "invalid") expected.deadLetters++;
    }
  }
  for (let p = 0; p < 4; p++) {
    let batch = await producer.createBatch({ partitionId: String(p) });
    for (let i = p; i < bodies.length; i += 4) {
      if (!batch.tryAdd({ body: bodies[i] })) {
        await producer.sendBatch(batch);
        batch = await producer.createBatch({ partitionId: String(p) });
        batch.tryAdd({ body: bodies[i] });
      }
    }
    if (batch.count > 0) await producer.sendBatch(batch);
  }
}

async function counts(): Promise<{ requests: number; firewall: number; deadLetters: number }> {
  // Straight to the server (not through the CLI): polls are frequent and must stay cheap.
  const rs = await reader.query({
    query:
      "SELECT (SELECT count() FROM ehtest.requests) AS requests, (SELECT count() FROM ehtest.firewall_events) AS firewall, (SELECT count() FROM ehtest.dead_letters) AS deadLetters",
    format: "JSONEachRow",
  });
  const [row] = await rs.json<Record<string, unknown>>();
  return {
    requests: Number(row!.requests),
    firewall: Number(row!.firewall),
    deadLetters: Number(row!.deadLetters),
  };
}

/**
 * Polls the store until it holds what was published. Bounded by time, not polls, so that on a loaded
 * machine a mismatch ends in an assertion showing the counts rather than in the test's timeout.
 */
async function waitForExpected(timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = await counts();
  while (Date.now() < deadline && JSON.stringify(last) !== JSON.stringify(expected)) {
    await new Promise((r) => setTimeout(r, 250));
    last = await counts();
  }
  expect(last).toEqual(expected);
}

function service(extra: string[] = []) {
  return startCli(
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
      store,
      "--listen-port",
      "0",
      "--batch-max-bodies",
      "25",
      "--summary-interval-seconds",
      "0",
      ...extra,
    ],
    {
      GATEWATCH_EVENTHUB_CONNECTION_STRING: hub.connectionString,
      GATEWATCH_CHECKPOINT_CONNECTION_STRING: azurite.connectionString,
    },
  );
}

async function stop(svc: ReturnType<typeof service>): Promise<void> {
  svc.child.kill("SIGTERM");
  expect(await svc.exited, svc.stderr()).toBe(0);
}

beforeAll(async () => {
  [hub, azurite, clickhouse] = await Promise.all([
    startEventHubsEmulator({ hub: HUB, partitions: 4 }),
    startAzurite(),
    startClickHouseHttp(),
  ]);
  store = `${clickhouse.host}/ehtest`;
  reader = createClient({ url: clickhouse.url });
  producer = new EventHubProducerClient(hub.connectionString, HUB);
  const probe = new EventHubConsumerClient("$Default", hub.connectionString, HUB);
  namespace = probe.fullyQualifiedNamespace;
  await probe.close();
});
afterAll(async () => {
  await producer?.close();
  await reader?.close();
  await Promise.allSettled([hub?.stop(), azurite?.stop(), clickhouse?.stop()]);
});

// Several gatewatch processes, a broker emulator and a storage emulator on 2 cores: allow for a loaded CI machine.
describe("gatewatch run --source eventhubs", { timeout: 240_000 }, () => {
  it("stores every published record exactly once and checkpoints every partition", async () => {
    await publish(20);
    const svc = service();
    const url = String((await svc.waitForLog("gatewatch running")).url);
    await waitForExpected();
    // Ready once it owns partitions; per-partition source metrics are exported.
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status, await ready.clone().text()).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^gatewatch_source_owned_partitions 4$/m);
    for (const p of ["0", "1", "2", "3"]) {
      expect(metrics).toMatch(new RegExp(`^gatewatch_source_events_total\\{partition="${p}"\\} [1-9]`, "m"));
      expect(metrics).toMatch(new RegExp(`^gatewatch_source_lag_events\\{partition="${p}"\\} \\d`, "m"));
      expect(metrics).toMatch(
        new RegExp(`^gatewatch_source_checkpoint_age_seconds\\{partition="${p}"\\} \\d`, "m"),
      );
    }
    await stop(svc);
    const checkpoints = await new BlobCheckpointStore(
      new ContainerClient(azurite.connectionString, CONTAINER),
    ).listCheckpoints(namespace, HUB, "$Default");
    expect(checkpoints.map((c) => c.partitionId).sort()).toEqual(["0", "1", "2", "3"]);
  });

  it("resumes from its checkpoints after a restart without writing anything twice", async () => {
    await publish(10);
    const svc = service();
    await waitForExpected();
    await stop(svc);
  });

  it("shares the partitions between two replicas and stores everything once", async () => {
    const a = service();
    const b = service();
    const claimed = (s: ReturnType<typeof service>) =>
      new Set(s.logs.filter((l) => l.msg === "partition claimed").map((l) => l.partition));
    /** Partitions a replica owns now, from its claim and release log lines. */
    const owned = (s: ReturnType<typeof service>) => {
      const now = new Set<unknown>();
      for (const l of s.logs)
        if (l.msg === "partition claimed") now.add(l.partition);
        else if (l.msg === "partition released") now.delete(l.partition);
      return now;
    };
    // Publish once the two have shared the hub out: while a partition moves from one replica to the
    // other, a batch the old owner is still writing can be written twice (the README's documented
    // window), which is not what this test is about.
    await waitFor(
      "the two replicas to share the partitions",
      () => owned(a).size > 0 && owned(b).size > 0 && owned(a).size + owned(b).size === 4,
      60_000,
      100,
    );
    await publish(20);
    await waitForExpected();
    expect(claimed(a).size + claimed(b).size).toBeGreaterThanOrEqual(4);
    expect(claimed(a).size).toBeGreaterThan(0);
    expect(claimed(b).size).toBeGreaterThan(0);
    // One replica dies: the other takes its partitions over and keeps up.
    a.child.kill("SIGKILL");
    await a.exited;
    await publish(10);
    await waitForExpected();
    await stop(b);
  });

  it("loses and duplicates nothing when killed with SIGKILL mid-stream", async () => {
    await clickhouse.fault("stall", 1_000_000, 100);
    await publish(30);
    const svc = service();
    let inserts = (await clickhouse.stats()).inserts;
    const target = inserts + 6;
    for (let i = 0; i < 200 && inserts < target; i++) {
      await new Promise((r) => setTimeout(r, 100));
      inserts = (await clickhouse.stats()).inserts;
    }
    svc.child.kill("SIGKILL");
    await svc.exited;
    await clickhouse.fault("none");
    expect((await counts()).requests).toBeLessThan(expected.requests);
    const again = service();
    await waitForExpected();
    await stop(again);
  });

  it("rides through dropped links and a poison body becomes one dead letter", async () => {
    const svc = service();
    await svc.waitForLog("gatewatch running");
    await publish(5, [
      Buffer.from('{"records":[{"this is": "not closed"'),
      Buffer.from("\u0000\u0001binary"),
    ]);
    await hub.dropLinks();
    await publish(5);
    await waitForExpected();
    await stop(svc);
  });

  it("keeps checkpoints still while ClickHouse is down and catches up when it returns", async () => {
    const svc = service(["--insert-max-delay-ms", "300"]);
    const url = String((await svc.waitForLog("gatewatch running")).url);
    const rss = async () =>
      Number(
        /^gatewatch_process_resident_memory_bytes (\d+)/m.exec(
          await (await fetch(`${url}/metrics`)).text(),
        )?.[1],
      );
    // Running and caught up before ClickHouse goes away.
    await publish(2);
    await waitForExpected();
    const checkpointStore = new BlobCheckpointStore(new ContainerClient(azurite.connectionString, CONTAINER));
    const before = await checkpointStore.listCheckpoints(namespace, HUB, "$Default");
    const rssBefore = await rss();
    await clickhouse.fault("error", 1_000_000);
    await publish(10);
    await svc.waitForLog("insert failed, retrying");
    // A large backlog arrives while ClickHouse is away: no further delivery reaches the pipeline
    // (each partition waits on its unstored batch), and memory stays bounded.
    const sourceEvents = async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return [...text.matchAll(/^gatewatch_source_events_total\{[^}]*\} (\d+)/gm)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
    };
    const publishedBefore = (await hub.stats()).published;
    await publish(250);
    await new Promise((r) => setTimeout(r, 1500));
    const eventsDuring = await sourceEvents();
    await new Promise((r) => setTimeout(r, 1500));
    expect((await hub.stats()).published - publishedBefore).toBeGreaterThan(1000);
    expect(await sourceEvents()).toBe(eventsDuring);
    const inFlight = /^gatewatch_pipeline_batches_in_flight (\d+)/m.exec(
      await (await fetch(`${url}/metrics`)).text(),
    );
    expect(Number(inFlight?.[1])).toBeLessThanOrEqual(4);
    expect((await rss()) - rssBefore).toBeLessThan(200 * 1024 * 1024);
    const during = await checkpointStore.listCheckpoints(namespace, HUB, "$Default");
    expect(during.map((c) => [c.partitionId, c.sequenceNumber]).sort()).toEqual(
      before.map((c) => [c.partitionId, c.sequenceNumber]).sort(),
    );
    await clickhouse.fault("none");
    await waitForExpected();
    await stop(svc);
  });

  it("fails fast with a clear message on an unknown consumer group", async () => {
    await clickhouse.fault("none");
    const svc = service(["--eventhub-consumer-group", "no-such-group"]);
    const code = await svc.exited;
    expect(code).not.toBe(0);
    expect(JSON.stringify(svc.logs) + svc.stderr()).toMatch(/no-such-group|not.?found/i);
  });
});
