/**
 * Crash loop (issue 10): `gatewatch run` is SIGKILLed at least 10 times while it reads a 4-partition
 * Event Hub (the in-repo AMQP emulator, Azurite for checkpoints) and a 4-partition Kafka topic (the in-repo
 * broker), restarted each time, then left to finish and stopped with SIGTERM. Every record must be stored
 * exactly once: counts per table, per cause and per dead-letter reason equal what `classifyLine` (the
 * logic of `gatewatch classify`, no I/O, no faults) makes of the same bodies; the minute and hour rollups
 * sum to the raw counts; no record position is stored twice; every partition is checkpointed or committed
 * up to its end.
 *
 * Kills are placed by seeded cues (a kill cannot be aimed at one instruction; each cue makes one phase
 * likely): right after the partitions are claimed (fetch), as soon as the source has counted events
 * (classification), right after the store acknowledged an insert (between insert and checkpoint), while a
 * request to ClickHouse is stalled by the fixture (mid-insert: the stalled statement still runs after the
 * kill), right after a checkpoint or commit moved, and after a seeded random delay. The cue of each kill
 * is printed with the figures at the end. Not part of the default run: `npm run test:crash`.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from "@clickhouse/client";
import { EventHubConsumerClient } from "@azure/event-hubs";
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
import { startKafkaBroker, type KafkaBrokerFixture } from "../fixtures/kafka-broker/index.js";
import { startCli } from "../helpers/cli.js";
import { waitFor } from "../helpers/wait.js";

const SEED = 20261010;
const KILLS = 12;
const PARTITIONS = 4;
const HUB = "appgw-logs";
const TOPIC = "appgw-logs";
const GROUP = "gatewatch";
const CONTAINER = "crash-checkpoints";
/** Ticks of demo bodies published before the first start, and before each restart (bounded: 6 + 12 × 2). */
const TICKS_UP_FRONT = 6;
const TICKS_PER_RESTART = 2;
/** How long a cue is awaited before the kill happens anyway (recorded as such). */
const CUE_TIMEOUT_MS = 10_000;

let clickhouse: ClickHouseHttpFixture;
let reader: ClickHouseClient;
const services = new Set<Service>();

type Service = ReturnType<typeof startCli>;

/** mulberry32: small, seeded, good enough to place kills reproducibly. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CUES = [
  "claimed",
  "events-counted",
  "insert-acked",
  "insert-stalled",
  "checkpoint-moved",
  "random-delay",
] as const;
type Cue = (typeof CUES)[number];

/** `count` cues, each of the six at least twice when count ≥ 12, in a seeded order. */
function cuePlan(random: () => number, count: number): Cue[] {
  const plan = Array.from({ length: count }, (_, i) => CUES[i % CUES.length]!);
  for (let i = plan.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [plan[i], plan[j]] = [plan[j]!, plan[i]!];
  }
  return plan;
}

interface Expected {
  tables: { requests: number; firewall: number; deadLetters: number };
  causes: Record<string, number>;
  reasons: Record<string, number>;
}

/** Demo bodies from a seeded generator and what `classifyLine` makes of them: the fault-free reference. */
class Bodies {
  readonly expected: Expected = {
    tables: { requests: 0, firewall: 0, deadLetters: 0 },
    causes: {},
    reasons: {},
  };
  published = 0;
  records = 0;
  #tick = 0;
  readonly #gen;

  constructor(seed: number, startTimeMs: number) {
    this.#gen = createDemoGenerator({
      seed,
      ratePerSecond: 400,
      incidentPeriodSeconds: 2,
      incidentDurationSeconds: 1,
      startTimeMs,
    });
  }

  /** The next `ticks` ticks of bodies, split round-robin over the partitions, counted into the reference. */
  next(ticks: number): Uint8Array[][] {
    const bodies: Uint8Array[] = [];
    for (let i = 0; i < ticks; i++) bodies.push(...this.#gen.bodiesAt(this.#tick++));
    // Poison bodies too, so dead letters go through the crashes as well: truncated JSON and binary.
    bodies.push(
      Buffer.from(`{"records":[{"poison": ${this.#tick}`),
      Buffer.from(`\u0000\u0001binary ${this.#tick}`),
    );
    const e = this.expected;
    for (const b of bodies) {
      for (const o of classifyLine(Buffer.from(b).toString("utf8"))) {
        this.records++;
        if (o.kind === "access" || o.kind === "l4") {
          e.tables.requests++;
          e.causes[o.cause] = (e.causes[o.cause] ?? 0) + 1;
        } else if (o.kind === "firewall") e.tables.firewall++;
        else if (o.kind === "invalid") {
          e.tables.deadLetters++;
          e.reasons[o.reason] = (e.reasons[o.reason] ?? 0) + 1;
        }
      }
    }
    this.published += bodies.length;
    return [...Array(PARTITIONS).keys()].map((p) => bodies.filter((_, i) => i % PARTITIONS === p));
  }
}

async function rows<T>(query: string): Promise<T[]> {
  return (await reader.query({ query, format: "JSONEachRow" })).json<T>();
}

async function tableCounts(db: string): Promise<Expected["tables"]> {
  const [row] = await rows<Record<string, string>>(
    `SELECT (SELECT count() FROM ${db}.requests) AS requests, (SELECT count() FROM ${db}.firewall_events) AS firewall, (SELECT count() FROM ${db}.dead_letters) AS deadLetters`,
  );
  return {
    requests: Number(row!.requests),
    firewall: Number(row!.firewall),
    deadLetters: Number(row!.deadLetters),
  };
}

async function grouped(query: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const r of await rows<{ k: string; n: string }>(query)) out[r.k] = Number(r.n);
  return out;
}

/** Rows stored more than once at the same record position, per table. */
async function duplicates(db: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of ["requests", "firewall_events", "dead_letters"]) {
    const [r] = await rows<{ n: string }>(
      `SELECT count() AS n FROM (SELECT source, partition, batch_seq, body_index, record_index, count() AS c
         FROM ${db}.${t} GROUP BY source, partition, batch_seq, body_index, record_index HAVING c > 1)`,
    );
    out[t] = Number(r!.n);
  }
  return out;
}

/** What one scenario needs from its source. */
interface Scenario {
  readonly name: string;
  readonly database: string;
  /** Seeds the kill plan and the cue parameters. */
  readonly seed: number;
  readonly bodies: Bodies;
  /** The log line that says this process reads partitions. */
  readonly claimedLog: string;
  start(): Service;
  publish(ticks: number): Promise<void>;
  /** Changes whenever a checkpoint (Event Hubs) or a committed offset (Kafka) moves. */
  progress(): Promise<string>;
  /** Every partition checkpointed or committed up to its end, as a per-partition remainder (all 0 when done). */
  remaining(): Promise<Record<string, number>>;
}

const baseArgs = (db: string) => [
  "--store",
  `${clickhouse.host}/${db}`,
  "--listen-port",
  "0",
  // Small batches: many inserts and checkpoints per run, so the cues have something to land on.
  "--batch-max-bodies",
  "5",
  "--summary-interval-seconds",
  "0",
];

function track(svc: Service): Service {
  services.add(svc);
  void svc.exited.then(() => services.delete(svc));
  return svc;
}

/** Events the source has handed to the pipeline in this process, over all partitions. */
async function eventsCounted(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return [...text.matchAll(/^gatewatch_source_events_total\{[^}]*\} (\d+)/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );
}

interface KillRecord {
  kill: number;
  cue: Cue;
  detail: string;
  afterMs: number;
  storedRequests: number;
}

/** Waits for `cue` in `svc` (bounded) and SIGKILLs it; says what was seen. */
async function killAt(s: Scenario, svc: Service, cue: Cue, random: () => number): Promise<string> {
  const before = await clickhouse.stats();
  const progressBefore = await s.progress();
  let detail = "";
  const seen = async <T>(what: string, check: () => T | Promise<T>, everyMs = 10): Promise<boolean> => {
    try {
      await waitFor(what, check, CUE_TIMEOUT_MS, everyMs);
      return true;
    } catch {
      detail = `cue not seen within ${CUE_TIMEOUT_MS} ms, killed anyway`;
      return false;
    }
  };
  switch (cue) {
    case "claimed": {
      const delay = Math.floor(random() * 150);
      if (await seen("the claim log line", () => svc.logs.some((l) => l.msg === s.claimedLog))) {
        await sleep(delay);
        detail = `${delay} ms after "${s.claimedLog}"`;
      }
      break;
    }
    case "events-counted": {
      const n = 1 + Math.floor(random() * 20);
      const url = String((await svc.waitForLog("gatewatch running")).url);
      if (await seen("events counted", async () => (await eventsCounted(url).catch(() => 0)) >= n, 5))
        detail = `source counted >= ${n} events (gatewatch_source_events_total)`;
      break;
    }
    case "insert-acked": {
      const n = 1 + Math.floor(random() * 8);
      if (await seen("inserts", async () => (await clickhouse.stats()).inserts >= before.inserts + n, 5))
        detail = `${n} insert(s) acknowledged by the store`;
      break;
    }
    case "insert-stalled": {
      // Stall the next request once this process has inserted, so it is likely an insert (not a migration
      // statement or the batch-log lookup of a restart).
      if (!(await seen("a first insert", async () => (await clickhouse.stats()).inserts > before.inserts, 5)))
        break;
      // Stats first: the stalled request may arrive before a read that follows the arming returns.
      const armed = await clickhouse.stats();
      await clickhouse.fault("stall", 1, 2_000);
      if (await seen("a stalled request", async () => (await clickhouse.stats()).faults > armed.faults, 5)) {
        await sleep(100);
        detail = "while a request to ClickHouse was stalled";
      }
      break;
    }
    case "checkpoint-moved": {
      // The k-th move in this process: not always the first batch after a restart.
      const k = 1 + Math.floor(random() * 3);
      let last = progressBefore;
      let moves = 0;
      const moved = async () => {
        const now = await s.progress();
        if (now !== last) [last, moves] = [now, moves + 1];
        return moves >= k;
      };
      if (await seen("checkpoint moved", moved, 10)) detail = `right after checkpoint/commit move #${k}`;
      break;
    }
    case "random-delay": {
      const delay = 300 + Math.floor(random() * 5_700);
      await sleep(delay);
      detail = `${delay} ms seeded delay`;
      break;
    }
  }
  svc.child.kill("SIGKILL");
  await svc.exited;
  if (cue === "insert-stalled" && detail.startsWith("while")) {
    // The stalled statement still runs after its client died (the only other client here only queries):
    // say what it was.
    const atKill = await clickhouse.stats();
    await sleep(2_100);
    const after = await clickhouse.stats();
    detail += after.inserts > atKill.inserts ? " (an INSERT, landed after the kill)" : " (a query)";
  }
  await clickhouse.fault("none");
  return detail;
}

async function crashLoop(s: Scenario): Promise<void> {
  const random = rng(s.seed);
  const plan = cuePlan(random, KILLS);
  const kills: KillRecord[] = [];
  const started = Date.now();
  await s.publish(TICKS_UP_FRONT);
  for (let i = 0; i < plan.length; i++) {
    const cue = plan[i]!;
    const t0 = Date.now();
    const svc = track(s.start());
    // The first process creates the schema. Killed during that migration, it leaves the migration lock
    // behind and every restart waits until the lock is stale (60 s): by design, and not what this loop
    // is about, so the first kill is armed only once the service runs.
    if (i === 0) await svc.waitForLog("gatewatch running");
    const detail = await killAt(s, svc, cue, random);
    kills.push({
      kill: i + 1,
      cue,
      detail,
      afterMs: Date.now() - t0,
      storedRequests: (await tableCounts(s.database).catch(() => ({ requests: -1 }))).requests,
    });
    await s.publish(TICKS_PER_RESTART);
  }
  // Last start: let it finish, then stop it the ordinary way.
  const last = track(s.start());
  const done = async () => {
    const [counts, left] = await Promise.all([tableCounts(s.database).catch(() => null), s.remaining()]);
    return (
      JSON.stringify(counts) === JSON.stringify(s.bodies.expected.tables) &&
      Object.values(left).every((n) => n === 0)
    );
  };
  await waitFor("everything stored and checkpointed", done, 60_000, 250).catch(() => undefined);
  last.child.kill("SIGTERM");
  expect(await last.exited, last.stderr()).toBe(0);

  const db = s.database;
  const e = s.bodies.expected;
  const stored = await tableCounts(db);
  const causes = await grouped(`SELECT cause AS k, count() AS n FROM ${db}.requests GROUP BY cause`);
  const reasons = await grouped(`SELECT reason AS k, count() AS n FROM ${db}.dead_letters GROUP BY reason`);
  const minute = await grouped(`SELECT cause AS k, sum(requests) AS n FROM ${db}.requests_1m GROUP BY cause`);
  const hour = await grouped(`SELECT cause AS k, sum(requests) AS n FROM ${db}.requests_1h GROUP BY cause`);
  const dups = await duplicates(db);
  const left = await s.remaining();
  const killedRestarts = kills.length;
  const lost =
    e.tables.requests +
    e.tables.firewall +
    e.tables.deadLetters -
    (stored.requests + stored.firewall + stored.deadLetters);

  // The figures docs/reliability.md quotes.
  process.stdout.write(
    `\n[crash-loop ${s.name}] ${s.bodies.published} bodies, ${s.bodies.records} records ` +
      `(requests ${e.tables.requests}, firewall ${e.tables.firewall}, dead letters ${e.tables.deadLetters}); ` +
      `kills survived ${killedRestarts}; lost ${lost}; duplicates ${JSON.stringify(dups)}; ` +
      `${((Date.now() - started) / 1000).toFixed(1)} s\n` +
      kills
        .map(
          (k) =>
            `  kill ${k.kill}: ${k.cue} — ${k.detail} (${k.afterMs} ms after spawn, ${k.storedRequests} requests stored)`,
        )
        .join("\n") +
      `\n  causes ${JSON.stringify(causes)}\n`,
  );

  expect(kills.length).toBeGreaterThanOrEqual(10);
  expect(stored).toEqual(e.tables);
  expect(causes).toEqual(e.causes);
  expect(reasons).toEqual(e.reasons);
  expect(minute).toEqual(causes);
  expect(hour).toEqual(causes);
  expect(dups).toEqual({ requests: 0, firewall_events: 0, dead_letters: 0 });
  expect(left).toEqual(Object.fromEntries([...Array(PARTITIONS).keys()].map((p) => [String(p), 0])));
}

beforeAll(async () => {
  clickhouse = await startClickHouseHttp();
  // Polls run before gatewatch has created a scenario's database: those failures are expected.
  reader = createClient({ url: clickhouse.url, log: { level: ClickHouseLogLevel.OFF } });
});
afterAll(async () => {
  for (const svc of services) svc.child.kill("SIGKILL");
  await Promise.allSettled([...services].map((s) => s.exited));
  await reader?.close();
  await clickhouse?.stop();
});

describe("crash loop: gatewatch run --source eventhubs", { timeout: 240_000 }, () => {
  let hub: EventHubsEmulatorFixture;
  let azurite: { connectionString: string; stop(): Promise<void> };
  let checkpoints: BlobCheckpointStore;
  let namespace = "";

  beforeAll(async () => {
    [hub, azurite] = await Promise.all([
      startEventHubsEmulator({ hub: HUB, partitions: PARTITIONS }),
      startAzurite(),
    ]);
    const probe = new EventHubConsumerClient("$Default", hub.connectionString, HUB);
    namespace = probe.fullyQualifiedNamespace;
    await probe.close();
    const container = new ContainerClient(azurite.connectionString, CONTAINER);
    await container.createIfNotExists();
    checkpoints = new BlobCheckpointStore(container);
  });
  afterAll(async () => {
    await Promise.allSettled([hub?.stop(), azurite?.stop()]);
  });

  const sequenceNumbers = async (): Promise<Record<string, number>> =>
    Object.fromEntries(
      (await checkpoints.listCheckpoints(namespace, HUB, "$Default")).map((c) => [
        c.partitionId,
        c.sequenceNumber,
      ]),
    );

  it("stores every record exactly once across 12 SIGKILLs and checkpoints every partition to its end", async () => {
    const bodies = new Bodies(SEED, Date.UTC(2026, 10, 5));
    await crashLoop({
      name: "eventhubs",
      database: "crash_eh",
      seed: SEED,
      bodies,
      claimedLog: "partition claimed",
      start: () =>
        startCli(
          [
            "run",
            "--source",
            "eventhubs",
            "--eventhub-start",
            "earliest",
            "--eventhub-update-interval-ms",
            "500",
            // A killed process's claims lapse after this; the next start waits for it.
            "--eventhub-ownership-expiration-ms",
            "3000",
            "--checkpoint-container",
            CONTAINER,
            ...baseArgs("crash_eh"),
          ],
          {
            GATEWATCH_EVENTHUB_CONNECTION_STRING: hub.connectionString,
            GATEWATCH_CHECKPOINT_CONNECTION_STRING: azurite.connectionString,
          },
        ),
      publish: async (ticks) => {
        const parts = bodies.next(ticks);
        for (let p = 0; p < PARTITIONS; p++) if (parts[p]!.length) await hub.publish(String(p), parts[p]!);
      },
      progress: async () => JSON.stringify(await sequenceNumbers().catch(() => ({}))),
      remaining: async () => {
        const [stats, done] = await Promise.all([
          hub.stats(),
          sequenceNumbers().catch((): Record<string, number> => ({})),
        ]);
        return Object.fromEntries(
          Object.entries(stats.partitions).map(([p, st]) => [p, st.lastSequenceNumber - (done[p] ?? -1)]),
        );
      },
    });
  });
});

describe("crash loop: gatewatch run --source kafka", { timeout: 240_000 }, () => {
  let broker: KafkaBrokerFixture;

  beforeAll(async () => {
    // A short session: a SIGKILLed member (no LeaveGroup) is dropped from the group quickly.
    broker = await startKafkaBroker({ topics: { [TOPIC]: PARTITIONS }, minSessionTimeoutMs: 1_000 });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  const lag = async (): Promise<Record<string, number>> => {
    const s = await broker.stats();
    const committed = s.groups[GROUP]?.committed[TOPIC] ?? {};
    return Object.fromEntries(
      Object.entries(s.topics[TOPIC]!.partitions).map(([p, st]) => [
        p,
        st.highWatermark - (committed[p] ?? 0),
      ]),
    );
  };

  it("stores every record exactly once across 12 SIGKILLs and commits every partition to its high watermark", async () => {
    const bodies = new Bodies(SEED + 1, Date.UTC(2026, 10, 6));
    await crashLoop({
      name: "kafka",
      database: "crash_kafka",
      seed: SEED + 1,
      bodies,
      claimedLog: "kafka partitions assigned",
      start: () =>
        startCli([
          "run",
          "--source",
          "kafka",
          "--kafka-brokers",
          broker.brokers,
          "--kafka-topics",
          TOPIC,
          "--kafka-group",
          GROUP,
          "--kafka-start",
          "earliest",
          "--kafka-session-timeout-ms",
          "2000",
          ...baseArgs("crash_kafka"),
        ]),
      publish: async (ticks) => {
        const parts = bodies.next(ticks);
        for (let p = 0; p < PARTITIONS; p++) {
          const mine = parts[p]!;
          for (let i = 0; i < mine.length; i += 50) await broker.produce(TOPIC, p, mine.slice(i, i + 50));
        }
      },
      progress: async () => JSON.stringify((await broker.stats()).groups[GROUP]?.committed[TOPIC] ?? {}),
      remaining: lag,
    });
  });
});
