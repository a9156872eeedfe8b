/**
 * `gatewatch run --source kafka` end to end over the real Kafka protocol: demo bodies are appended to a
 * 4-partition topic of the in-repo broker fixture; gatewatch processes (kafkajs inside) read it in one
 * consumer group and write to a ClickHouse HTTP server. After every scenario the stored rows equal,
 * exactly, what the produced messages hold, and the group's committed offsets equal the high watermarks.
 */
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import kafkajs from "kafkajs";
import SnappyCodec from "kafkajs-snappy";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from "@clickhouse/client";
import { classifyLine } from "@gatewatch/classify";
import { createDemoGenerator } from "@gatewatch/source-demo";
import { startClickHouseHttp, type ClickHouseHttpFixture } from "../fixtures/clickhouse-http/index.js";
import { startKafkaBroker, type KafkaBrokerFixture } from "../fixtures/kafka-broker/index.js";
import { startCli } from "../helpers/cli.js";
import { waitFor } from "../helpers/wait.js";

const TOPIC = "appgw-logs";
const GROUP = "gatewatch";
const PARTITIONS = 4;
let broker: KafkaBrokerFixture;
let clickhouse: ClickHouseHttpFixture;
let reader: ClickHouseClient;

interface Counts {
  requests: number;
  firewall: number;
  deadLetters: number;
}

/** A topic, a database and what has been produced into the one and should be stored in the other. */
class Feed {
  readonly expected: Counts = { requests: 0, firewall: 0, deadLetters: 0 };
  readonly #gen = createDemoGenerator({
    seed: 33,
    ratePerSecond: 400,
    incidentPeriodSeconds: 2,
    incidentDurationSeconds: 1,
    startTimeMs: Date.UTC(2026, 10, 3),
  });
  #tick = 0;

  constructor(
    readonly fx: () => KafkaBrokerFixture,
    readonly database: string,
  ) {}

  /** Produces the next `ticks` ticks of demo bodies round-robin over the partitions, 50 per record batch. */
  async publish(ticks: number): Promise<void> {
    const bodies: Uint8Array[] = [];
    for (let i = 0; i < ticks; i++) bodies.push(...this.#gen.bodiesAt(this.#tick++));
    this.count(bodies);
    for (let p = 0; p < PARTITIONS; p++) {
      const mine = bodies.filter((_, i) => i % PARTITIONS === p);
      for (let i = 0; i < mine.length; i += 50) await this.fx().produce(TOPIC, p, mine.slice(i, i + 50));
    }
  }

  /** Adds what `bodies` should become to the expected counts. */
  count(bodies: (Uint8Array | null)[]): void {
    for (const b of bodies) {
      for (const o of classifyLine(Buffer.from(b ?? new Uint8Array(0)).toString("utf8"))) {
        if (o.kind === "access" || o.kind === "l4") this.expected.requests++;
        else if (o.kind === "firewall") this.expected.firewall++;
        else if (o.kind === "invalid") this.expected.deadLetters++;
      }
    }
  }

  async counts(): Promise<Counts> {
    const db = this.database;
    const rs = await reader.query({
      query: `SELECT (SELECT count() FROM ${db}.requests) AS requests, (SELECT count() FROM ${db}.firewall_events) AS firewall, (SELECT count() FROM ${db}.dead_letters) AS deadLetters`,
      format: "JSONEachRow",
    });
    const [row] = await rs.json<Record<string, unknown>>();
    return {
      requests: Number(row!.requests),
      firewall: Number(row!.firewall),
      deadLetters: Number(row!.deadLetters),
    };
  }

  /** Polls the store until it holds what was produced (bounded by time: a mismatch shows the counts). */
  async waitForExpected(timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = await this.counts().catch(() => null);
    while (Date.now() < deadline && JSON.stringify(last) !== JSON.stringify(this.expected)) {
      await sleep(250);
      last = await this.counts().catch(() => null);
    }
    expect(last).toEqual(this.expected);
  }

  /** Polls until the group has committed every partition up to its high watermark. */
  async waitForCommitted(): Promise<void> {
    let lag: Record<string, number> = {};
    for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
      const s = await this.fx().stats();
      const committed = s.groups[GROUP]?.committed[TOPIC] ?? {};
      lag = Object.fromEntries(
        Object.entries(s.topics[TOPIC]!.partitions).map(([p, st]) => [
          p,
          st.highWatermark - (committed[p] ?? 0),
        ]),
      );
      if (Object.values(lag).every((n) => n === 0)) break;
      await sleep(250);
    }
    expect(lag).toEqual(Object.fromEntries([...Array(PARTITIONS).keys()].map((p) => [String(p), 0])));
  }
}

const feed = new Feed(() => broker, "kafkatest");

function service(extra: string[] = [], env: Record<string, string> = {}, database = feed.database) {
  return startCli(
    [
      "run",
      "--source",
      "kafka",
      "--kafka-start",
      "earliest",
      "--kafka-session-timeout-ms",
      "6000",
      "--store",
      `${clickhouse.host}/${database}`,
      "--listen-port",
      "0",
      "--batch-max-bodies",
      "25",
      "--summary-interval-seconds",
      "0",
      ...extra,
    ],
    env,
  );
}

const plain = () => ["--kafka-brokers", broker.brokers, "--kafka-topics", TOPIC];

async function stop(svc: ReturnType<typeof service>): Promise<void> {
  svc.child.kill("SIGTERM");
  expect(await svc.exited, svc.stderr()).toBe(0);
}

async function metricsOf(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

/** Partitions a service was last assigned, from its logs. */
function assigned(svc: ReturnType<typeof service>): string[] {
  const joins = svc.logs.filter((l) => l.msg === "kafka partitions assigned");
  return (joins[joins.length - 1]?.partitions as string[] | undefined) ?? [];
}

beforeAll(async () => {
  [broker, clickhouse] = await Promise.all([
    startKafkaBroker({ topics: { [TOPIC]: PARTITIONS } }),
    startClickHouseHttp(),
  ]);
  // Polls run before gatewatch has created a test's database: those failures are expected, not logged.
  reader = createClient({ url: clickhouse.url, log: { level: ClickHouseLogLevel.OFF } });
});
afterAll(async () => {
  await reader?.close();
  await Promise.allSettled([broker?.stop(), clickhouse?.stop()]);
});

// Several gatewatch processes, a broker and a ClickHouse server on 2 cores: allow for a loaded CI machine.
describe("gatewatch run --source kafka", { timeout: 240_000 }, () => {
  it("stores every message exactly once and commits every partition up to its high watermark", async () => {
    await feed.publish(20);
    const svc = service(plain());
    const url = String((await svc.waitForLog("gatewatch running")).url);
    await feed.waitForExpected();
    await feed.waitForCommitted();
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status, await ready.clone().text()).toBe(200);
    const metrics = await metricsOf(url);
    expect(metrics).toMatch(/^gatewatch_source_owned_partitions 4$/m);
    expect(metrics).toMatch(/^gatewatch_source_rebalances_total [1-9]/m);
    expect(metrics).toMatch(/^gatewatch_source_commit_duration_seconds_count [1-9]/m);
    for (let p = 0; p < PARTITIONS; p++) {
      expect(metrics).toMatch(
        new RegExp(`^gatewatch_source_events_total\\{partition="${TOPIC}/${p}"\\} [1-9]`, "m"),
      );
      expect(metrics).toMatch(
        new RegExp(`^gatewatch_source_bytes_total\\{partition="${TOPIC}/${p}"\\} [1-9]`, "m"),
      );
      expect(metrics).toMatch(
        new RegExp(`^gatewatch_source_lag_events\\{partition="${TOPIC}/${p}"\\} 0$`, "m"),
      );
    }
    await stop(svc);
  });

  it("resumes from the committed offsets after a restart without writing anything twice", async () => {
    await feed.publish(10);
    const svc = service(plain());
    await feed.waitForExpected();
    await feed.waitForCommitted();
    await stop(svc);
  });

  it("shares partitions with a second consumer (rebalance) and takes them back when it is killed", async () => {
    const a = service(plain());
    await waitFor("a owns every partition", () => assigned(a).length === PARTITIONS, 60_000, 250);
    // Slow inserts: batches are in flight when the group rebalances; the revoked ones must be either
    // committed before the partition moves or left to the new owner, and nothing written twice.
    await clickhouse.fault("stall", 1_000_000, 150);
    await feed.publish(20);
    const b = service(plain());
    await waitFor(
      "both consumers own partitions",
      () => assigned(a).length > 0 && assigned(b).length > 0,
      60_000,
      250,
    );
    await clickhouse.fault("none");
    expect([...assigned(a), ...assigned(b)].sort()).toEqual(
      [...Array(PARTITIONS).keys()].map((p) => `${TOPIC}/${p}`),
    );
    await feed.publish(20);
    await feed.waitForExpected();
    await feed.waitForCommitted();
    // SIGKILL: no LeaveGroup; the broker expires the session (6 s) and the survivor gets everything.
    b.child.kill("SIGKILL");
    await b.exited;
    await feed.publish(10);
    await waitFor("a owns every partition again", () => assigned(a).length === PARTITIONS, 60_000, 250);
    await feed.waitForExpected();
    await feed.waitForCommitted();
    await stop(a);
  });

  it("loses and duplicates nothing when killed with SIGKILL mid-stream", async () => {
    await clickhouse.fault("stall", 1_000_000, 100);
    await feed.publish(30);
    const svc = service(plain());
    let inserts = (await clickhouse.stats()).inserts;
    const target = inserts + 6;
    for (let i = 0; i < 200 && inserts < target; i++) {
      await sleep(100);
      inserts = (await clickhouse.stats()).inserts;
    }
    svc.child.kill("SIGKILL");
    await svc.exited;
    await clickhouse.fault("none");
    expect((await feed.counts()).requests).toBeLessThan(feed.expected.requests);
    const again = service(plain());
    await feed.waitForExpected();
    await feed.waitForCommitted();
    await stop(again);
  });

  it("does not commit and stops fetching while ClickHouse is down, then catches up", async () => {
    const svc = service([...plain(), "--insert-max-delay-ms", "300"]);
    const url = String((await svc.waitForLog("gatewatch running")).url);
    await feed.publish(2);
    await feed.waitForExpected();
    await feed.waitForCommitted();
    const committed = async () => (await broker.stats()).groups[GROUP]!.committed[TOPIC];
    const before = await committed();
    await clickhouse.fault("error", 1_000_000);
    await feed.publish(10);
    await svc.waitForLog("insert failed, retrying");
    // A backlog arrives while ClickHouse is away: the partitions stay paused (no fetch reaches the
    // pipeline) and nothing is committed.
    const received = async () =>
      [...(await metricsOf(url)).matchAll(/^gatewatch_source_events_total\{[^}]*\} (\d+)/gm)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
    const generation = async () => (await broker.stats()).groups[GROUP]!.generation;
    const generationBefore = await generation();
    await feed.publish(100);
    await sleep(1500);
    const during = await received();
    // Longer than the session timeout (6 s): heartbeats must keep the membership while batches wait.
    await sleep(6500);
    expect(await received()).toBe(during);
    expect(await generation()).toBe(generationBefore);
    expect(
      Number(/^gatewatch_pipeline_batches_in_flight (\d+)/m.exec(await metricsOf(url))?.[1]),
    ).toBeLessThanOrEqual(PARTITIONS);
    expect(await committed()).toEqual(before);
    await clickhouse.fault("none");
    await feed.waitForExpected();
    await feed.waitForCommitted();
    await stop(svc);
  });

  it("turns poison messages into dead letters at their topic/partition/offset and keeps the partition flowing", async () => {
    const svc = service(plain());
    await svc.waitForLog("gatewatch running");
    const poison = [
      Buffer.from('{"records":[{"this is": "not closed"'),
      null,
      Buffer.from("\u0000\u0001binary"),
    ];
    feed.count(poison);
    const { offsets } = await broker.produce(TOPIC, 1, poison);
    await feed.publish(5);
    await feed.waitForExpected();
    await feed.waitForCommitted();
    const rs = await reader.query({
      query: `SELECT partition, batch_seq + body_index AS offset, reason FROM ${feed.database}.dead_letters
              WHERE partition = {p:String} ORDER BY offset`,
      query_params: { p: `${TOPIC}/1` },
      format: "JSONEachRow",
    });
    const rows = await rs.json<{ partition: string; offset: string | number; reason: string }>();
    expect(rows.map((r) => Number(r.offset))).toEqual(offsets);
    await stop(svc);
  });

  it("reads gzip- and snappy-compressed record batches", async () => {
    const svc = service(plain());
    await svc.waitForLog("gatewatch running");
    const gen = createDemoGenerator({ seed: 5, ratePerSecond: 200, startTimeMs: Date.UTC(2026, 10, 4) });
    const gzipped = gen.bodiesAt(0);
    const snappy = gen.bodiesAt(1);
    feed.count([...gzipped, ...snappy]);
    await broker.produce(TOPIC, 2, gzipped, { compression: "gzip" });
    const { CompressionCodecs, CompressionTypes, Kafka, logLevel } = kafkajs;
    CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec;
    const producer = new Kafka({ brokers: [broker.brokers], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    await producer.send({
      topic: TOPIC,
      compression: CompressionTypes.Snappy,
      messages: snappy.map((b) => ({ value: Buffer.from(b), partition: 3 })),
    });
    await producer.disconnect();
    await feed.waitForExpected();
    await feed.waitForCommitted();
    await stop(svc);
  });

  it("exports the broker's throttle time (how Event Hubs signals throttling)", async () => {
    await broker.throttle(40);
    try {
      const svc = service(plain());
      const url = String((await svc.waitForLog("gatewatch running")).url);
      await feed.publish(2);
      await feed.waitForExpected();
      const throttled = async () =>
        Number(/^gatewatch_source_throttle_seconds_total (\S+)/m.exec(await metricsOf(url))?.[1]);
      await waitFor("throttle time exported", async () => (await throttled()) > 0, 10_000, 250);
      await stop(svc);
    } finally {
      await broker.throttle(0);
    }
  });

  it("fails at once with a clear message when the topic does not exist and cannot be created", async () => {
    const strict = await startKafkaBroker({ autoCreateTopics: false });
    try {
      const svc = service(["--kafka-brokers", strict.brokers, "--kafka-topics", "no-such-topic"]);
      expect(await svc.exited).toBe(1);
      expect(JSON.stringify(svc.logs) + svc.stderr()).toMatch(/no-such-topic|UNKNOWN_TOPIC/);
    } finally {
      await strict.stop();
    }
  });
});

/** A free TCP port on 127.0.0.1 (the preset needs the port inside the connection string before the broker starts). */
async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

describe("gatewatch run --source kafka --kafka-preset eventhubs", { timeout: 240_000 }, () => {
  let hub: KafkaBrokerFixture;
  let connectionString = "";
  const hubFeed = new Feed(() => hub, "kafkapreset");

  beforeAll(async () => {
    const port = await freePort();
    connectionString = `Endpoint=sb://127.0.0.1:${port}/;SharedAccessKeyName=listen;SharedAccessKey=c2VjcmV0;EntityPath=${TOPIC}`;
    // What Event Hubs' Kafka endpoint asks for: TLS, SASL PLAIN, user $ConnectionString, password = the string.
    hub = await startKafkaBroker({
      port,
      tls: true,
      sasl: { username: "$ConnectionString", password: connectionString },
      topics: { [TOPIC]: PARTITIONS },
    });
  });
  afterAll(async () => {
    await hub?.stop();
  });

  const presetEnv = (cs: string) => ({
    GATEWATCH_KAFKA_PRESET: "eventhubs",
    GATEWATCH_EVENTHUB_CONNECTION_STRING: cs,
    GATEWATCH_KAFKA_CA_FILE: hub.caFile!,
  });

  it("reads over TLS with SASL PLAIN and the connection string as password", async () => {
    await hubFeed.publish(10);
    const svc = service([], presetEnv(connectionString), hubFeed.database);
    await hubFeed.waitForExpected();
    await hubFeed.waitForCommitted();
    await stop(svc);
  });

  it("stops with a configuration error when the key is wrong", async () => {
    const svc = service([], presetEnv(connectionString.replace("c2VjcmV0", "d3Jvbmc=")), hubFeed.database);
    expect(await svc.exited).toBe(1);
    expect(JSON.stringify(svc.logs) + svc.stderr()).toMatch(/SASL|authentication/i);
    expect(JSON.stringify(svc.logs) + svc.stderr()).not.toContain("d3Jvbmc=");
  });
});

describe("gatewatch run --source kafka over mutual TLS", { timeout: 240_000 }, () => {
  let secure: KafkaBrokerFixture;
  const secureFeed = new Feed(() => secure, "kafkamtls");

  beforeAll(async () => {
    secure = await startKafkaBroker({ tls: { requestClientCert: true }, topics: { [TOPIC]: PARTITIONS } });
  });
  afterAll(async () => {
    await secure?.stop();
  });

  it("presents the client certificate and trusts the given CA", async () => {
    await secureFeed.publish(5);
    const svc = service(
      [
        "--kafka-brokers",
        secure.brokers,
        "--kafka-topics",
        TOPIC,
        "--kafka-tls",
        "true",
        "--kafka-ca-file",
        secure.caFile!,
        "--kafka-cert-file",
        secure.clientCertFile!,
        "--kafka-key-file",
        secure.clientKeyFile!,
      ],
      {},
      secureFeed.database,
    );
    await secureFeed.waitForExpected();
    await secureFeed.waitForCommitted();
    await stop(svc);
  });

  it("refuses a broker whose certificate it cannot verify", async () => {
    const svc = service(
      ["--kafka-brokers", secure.brokers, "--kafka-topics", TOPIC, "--kafka-tls", "true"],
      {},
      secureFeed.database,
    );
    expect(await svc.exited).toBe(1);
    expect(JSON.stringify(svc.logs) + svc.stderr()).toMatch(/certificate|kafka_config/i);
  });
});

describe("gatewatch run --source kafka with SASL SCRAM", { timeout: 240_000 }, () => {
  const username = "gatewatch";
  const password = "scr4m-s3cret,=pw";
  let scram: KafkaBrokerFixture;
  const scramFeed = new Feed(() => scram, "kafkascram");

  beforeAll(async () => {
    scram = await startKafkaBroker({
      sasl: { username, password, mechanisms: ["SCRAM-SHA-512"] },
      topics: { [TOPIC]: PARTITIONS },
    });
  });
  afterAll(async () => {
    await scram?.stop();
  });

  const scramArgs = (pw: string) => [
    "--kafka-brokers",
    scram.brokers,
    "--kafka-topics",
    TOPIC,
    "--kafka-sasl-mechanism",
    "scram-sha-512",
    "--kafka-username",
    username,
    "--kafka-password",
    pw,
  ];

  it("authenticates with SCRAM-SHA-512 and stores and commits everything", async () => {
    await scramFeed.publish(5);
    const svc = service(scramArgs(password), {}, scramFeed.database);
    await scramFeed.waitForExpected();
    await scramFeed.waitForCommitted();
    await stop(svc);
    expect(JSON.stringify(svc.logs) + svc.stderr()).not.toContain(password);
  });

  it("stops with an authentication error when the password is wrong, without logging it", async () => {
    const wrong = "wr0ng-scr4m-pa55";
    const svc = service(scramArgs(wrong), {}, scramFeed.database);
    expect(await svc.exited).toBe(1);
    const output = JSON.stringify(svc.logs) + svc.stderr();
    expect(output).toMatch(/SASL|authentication/i);
    expect(output).not.toContain(wrong);
    expect((await scram.stats()).authFailures).toBeGreaterThanOrEqual(1);
  });
});
