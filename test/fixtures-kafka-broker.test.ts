// The single-node Kafka broker fixture, exercised through two independent clients: kafkajs (the client gatewatch
// uses) and kcat (librdkafka), plus raw protocol requests (kafkajs's own encoders) where a client would hide
// what the broker did.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AssignerProtocol,
  CompressionTypes,
  Kafka,
  logLevel,
  type Consumer,
  type ConsumerConfig,
  type EachBatchPayload,
  type KafkaConfig,
  type LogEntry,
} from "kafkajs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "./helpers/wait.js";
import {
  startKafkaBroker,
  type KafkaBrokerFixture,
  type KafkaBrokerOptions,
  type KafkajsSaslMechanism,
  type KafkaSaslCredentials,
  type KafkaSaslMechanism,
} from "./fixtures/kafka-broker/index.js";

const require = createRequire(import.meta.url);
const SERVER = new URL("./fixtures/kafka-broker/server.mjs", import.meta.url).pathname;

// ---- helpers ---------------------------------------------------------------------------------------------

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command with optional stdin; resolves (never rejects) with its exit code and output. */
function run(cmd: string, args: string[], input?: string | Buffer, timeoutMs = 15_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? "");
  });
}

const kcat = (fx: KafkaBrokerFixture, args: string[], input?: string): Promise<Run> =>
  run("kcat", ["-b", fx.brokers, ...args], input);

interface Got {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
}

const byPartition = (got: Got[], partition: number): Got[] => got.filter((g) => g.partition === partition);
const values = (got: Got[]): (string | null)[] => got.map((g) => g.value);
const offsets = (got: Got[]): number[] => got.map((g) => g.offset);
const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);

// kafkajs internals: request encoders and response decoders, for raw protocol checks.
interface ProtocolRequest {
  apiKey: number;
  apiVersion: number;
  encode(): Promise<{ buffer: Buffer }>;
}
interface ProtocolResponse {
  decode(payload: Buffer): Promise<Record<string, unknown>>;
}
const requestFrame = require("kafkajs/src/protocol/request") as (a: {
  correlationId: number;
  clientId: string;
  request: ProtocolRequest;
}) => Promise<{ buffer: Buffer }>;
const proto = (api: string, version: number) => ({
  request: require(`kafkajs/src/protocol/requests/${api}/v${version}/request`) as (
    args: Record<string, unknown>,
  ) => ProtocolRequest,
  response: require(`kafkajs/src/protocol/requests/${api}/v${version}/response`) as ProtocolResponse,
});

/** The fields of kafkajs's decoded responses that these tests read (each response has some of them). */
interface Decoded {
  errorCode: number;
  generationId: number;
  groupProtocol: string;
  leaderId: string;
  memberId: string;
  members: { memberId: string }[];
  memberAssignment: Buffer;
  responses: [
    {
      partitions: [
        {
          errorCode: number;
          highWatermark: string;
          lastStableOffset: string;
          lastStartOffset: string;
          messages: { offset: string; value: Buffer }[];
        },
      ];
    },
  ];
}

/** One TCP connection speaking the Kafka framing; requests are answered in order. */
class RawConnection {
  private buf = Buffer.alloc(0);
  private correlationId = 0;
  private readonly waiting = new Map<number, (payload: Buffer) => void>();
  private tokenAnswer: ((token: Buffer) => void) | undefined;
  readonly closed: Promise<void>;

  private constructor(private readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      while (this.buf.length >= 4 && this.buf.length >= 4 + this.buf.readInt32BE(0)) {
        const frame = this.buf.subarray(4, 4 + this.buf.readInt32BE(0));
        this.buf = this.buf.subarray(4 + frame.length);
        if (this.tokenAnswer || frame.length === 0) {
          // The answer to a bare SASL token (after SaslHandshake v0) is a bare token, no correlation id
          // (PLAIN's success: an empty frame).
          const answer = this.tokenAnswer;
          this.tokenAnswer = undefined;
          answer?.(Buffer.from(frame));
          continue;
        }
        const id = frame.readInt32BE(0);
        this.waiting.get(id)?.(frame.subarray(4));
        this.waiting.delete(id);
      }
    });
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => {});
  }

  static connect(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1", () => resolve(new RawConnection(socket)));
      socket.once("error", reject);
    });
  }

  /** Sends a kafkajs-encoded request and decodes the response (without kafkajs's error-throwing parse). */
  async send(p: ReturnType<typeof proto>, args: Record<string, unknown>): Promise<Decoded> {
    const id = ++this.correlationId;
    const frame = await requestFrame({ correlationId: id, clientId: "raw", request: p.request(args) });
    const payload = new Promise<Buffer>((resolve) => this.waiting.set(id, resolve));
    this.socket.write(frame.buffer);
    return (await p.response.decode(await payload)) as unknown as Decoded;
  }

  /** Sends a hand-made request (header v1 + body) and resolves with the response payload after the correlation id. */
  sendRaw(apiKey: number, apiVersion: number, body: Buffer = Buffer.alloc(0)): Promise<Buffer> {
    const id = ++this.correlationId;
    const header = Buffer.alloc(10);
    header.writeInt16BE(apiKey, 0);
    header.writeInt16BE(apiVersion, 2);
    header.writeInt32BE(id, 4);
    header.writeInt16BE(-1, 8); // null client id
    const size = Buffer.alloc(4);
    size.writeInt32BE(header.length + body.length);
    const payload = new Promise<Buffer>((resolve) => this.waiting.set(id, resolve));
    this.socket.write(Buffer.concat([size, header, body]));
    return payload;
  }

  /** Sends a bare SASL token (the SaslHandshake v0 flow); resolves with the broker's bare answer token. */
  sendToken(token: Buffer): Promise<Buffer> {
    const size = Buffer.alloc(4);
    size.writeInt32BE(token.length);
    const answered = new Promise<Buffer>((resolve) => (this.tokenAnswer = resolve));
    this.socket.write(Buffer.concat([size, token]));
    return answered;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** kafkajs `sasl` options (kafkajs types them as a union per mechanism: a union-typed mechanism is refused). */
const saslOptions = (
  mechanism: KafkajsSaslMechanism,
  username: string,
  password: string,
): KafkaSaslCredentials => ({ mechanism, username, password });

/** A Kafka STRING (int16 length + UTF-8), e.g. the SaslHandshake v0/v1 request body. */
const kafkaString = (s: string): Buffer => {
  const b = Buffer.from(s);
  const size = Buffer.alloc(2);
  size.writeInt16BE(b.length);
  return Buffer.concat([size, b]);
};
/** Kafka BYTES (int32 length + bytes), e.g. the SaslAuthenticate v0/v1 request body. */
const kafkaBytes = (b: Buffer): Buffer => {
  const size = Buffer.alloc(4);
  size.writeInt32BE(b.length);
  return Buffer.concat([size, b]);
};
/** SaslHandshake v0/v1 response: error_code [enabled_mechanisms]. */
function saslHandshakeResponse(b: Buffer): { errorCode: number; mechanisms: string[] } {
  const mechanisms: string[] = [];
  let pos = 6;
  for (let i = 0; i < b.readInt32BE(2); i++) {
    const n = b.readInt16BE(pos);
    mechanisms.push(b.toString("utf8", pos + 2, pos + 2 + n));
    pos += 2 + n;
  }
  return { errorCode: b.readInt16BE(0), mechanisms };
}
/** SaslAuthenticate v0/v1 response: error_code error_message auth_bytes [session_lifetime_ms]. */
function saslAuthenticateResponse(b: Buffer): { errorCode: number; message: string | null; token: Buffer } {
  const n = b.readInt16BE(2);
  const pos = 4 + Math.max(n, 0);
  return {
    errorCode: b.readInt16BE(0),
    message: n < 0 ? null : b.toString("utf8", 4, 4 + n),
    token: b.subarray(pos + 4, pos + 4 + Math.max(b.readInt32BE(pos), 0)),
  };
}

/** The client side of SCRAM (RFC 5802) with node:crypto, for raw exchanges with the broker. */
function scramClient(mechanism: "SCRAM-SHA-256" | "SCRAM-SHA-512", username: string, password: string) {
  const [hash, length] = mechanism === "SCRAM-SHA-256" ? ["sha256", 32] : ["sha512", 64];
  const hmac = (key: Buffer, data: string): Buffer => createHmac(hash, key).update(data).digest();
  const nonce = randomBytes(18).toString("base64"); // printable, no ','
  const bare = `n=${username.replaceAll("=", "=3D").replaceAll(",", "=2C")},r=${nonce}`;
  return {
    first: Buffer.from(`n,,${bare}`),
    /** client-final-message for `serverFirst`, and the server signature the broker should answer with. */
    final(serverFirst: Buffer, pw = password): { message: Buffer; serverSignature: string } {
      const attrs = new Map(
        serverFirst
          .toString()
          .split(",")
          .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
      );
      const r = attrs.get("r")!;
      expect(r.startsWith(nonce) && r.length > nonce.length, "server nonce extends the client's").toBe(true);
      const salted = pbkdf2Sync(
        pw,
        Buffer.from(attrs.get("s")!, "base64"),
        Number(attrs.get("i")),
        length,
        hash,
      );
      const clientKey = hmac(salted, "Client Key");
      const storedKey = createHash(hash).update(clientKey).digest();
      const withoutProof = `c=biws,r=${r}`;
      const authMessage = `${bare},${serverFirst.toString()},${withoutProof}`;
      const clientSignature = hmac(storedKey, authMessage);
      const proof = Buffer.from(clientKey.map((b, i) => b ^ clientSignature[i]!));
      return {
        message: Buffer.from(`${withoutProof},p=${proof.toString("base64")}`),
        serverSignature: hmac(hmac(salted, "Server Key"), authMessage).toString("base64"),
      };
    },
  };
}

const memberMetadata = (topics: string[]): Buffer =>
  AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) });
const memberAssignment = (assignment: Record<string, number[]>): Buffer =>
  AssignerProtocol.MemberAssignment.encode({ version: 1, assignment, userData: Buffer.alloc(0) });

// ---- tests -----------------------------------------------------------------------------------------------

describe("single-node Kafka broker fixture", () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    const errors: unknown[] = [];
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length) throw errors[0];
  });

  beforeAll(() => {
    // Not skipped when kcat or openssl is missing: the tests fail, saying so.
    expect(() => execFileSync("kcat", ["-V"], { stdio: "pipe" }), "kcat is required").not.toThrow();
    expect(
      () => execFileSync("openssl", ["version"], { stdio: "pipe" }),
      "openssl is required",
    ).not.toThrow();
  });

  const start = async (opts: KafkaBrokerOptions = {}): Promise<KafkaBrokerFixture> => {
    const fx = await startKafkaBroker(opts);
    cleanups.push(() => fx.stop());
    return fx;
  };

  const client = (fx: KafkaBrokerFixture, config: Partial<KafkaConfig> = {}): Kafka =>
    new Kafka({
      clientId: "fixture-test",
      brokers: [fx.brokers],
      logLevel: logLevel.NOTHING,
      retry: { initialRetryTime: 100, retries: 5 },
      ...(fx.sasl ? { sasl: fx.sasl } : {}),
      ...config,
    });

  /** A started group consumer collecting every message; stopped by the test's cleanup. */
  const consume = async (
    kafka: Kafka,
    groupId: string,
    topics: string[],
    config: Partial<ConsumerConfig> = {},
    options: {
      autoCommit?: boolean;
      eachBatch?: (payload: EachBatchPayload, got: Got[]) => Promise<void>;
    } = {},
  ): Promise<{ consumer: Consumer; got: Got[]; assigned: () => number[] }> => {
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: 6000,
      heartbeatInterval: 500,
      rebalanceTimeout: 6000,
      maxWaitTimeInMs: 100,
      retry: { initialRetryTime: 100, retries: 8 },
      ...config,
    });
    let assignment: number[] = [];
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      assignment = sorted(Object.values(e.payload.memberAssignment).flat());
    });
    cleanups.push(() => consumer.disconnect());
    await consumer.connect();
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    const got: Got[] = [];
    await consumer.run({
      autoCommit: options.autoCommit ?? true,
      eachBatchAutoResolve: true,
      eachBatch: async (payload) => {
        for (const m of payload.batch.messages)
          got.push({
            topic: payload.batch.topic,
            partition: payload.batch.partition,
            offset: Number(m.offset),
            key: m.key?.toString() ?? null,
            value: m.value?.toString() ?? null,
          });
        await options.eachBatch?.(payload, got);
      },
    });
    return { consumer, got, assigned: () => assignment };
  };

  it("kafkajs producer -> kafkajs group consumer: exact messages in order per partition, gzip and tombstones", async () => {
    const fx = await start({ topics: { orders: 3 } });
    const producer = client(fx).producer();
    cleanups.push(() => producer.disconnect());
    await producer.connect();
    const p0 = Array.from({ length: 25 }, (_, i) => `p0-${i}`);
    await producer.send({
      topic: "orders",
      messages: p0.slice(0, 10).map((value) => ({ value, partition: 0 })),
    });
    await producer.send({
      topic: "orders",
      compression: CompressionTypes.GZIP,
      messages: p0.slice(10).map((value) => ({ value, partition: 0 })),
    });
    await producer.send({
      topic: "orders",
      acks: 1,
      messages: [
        { key: "k1", value: "v1", partition: 1 },
        { key: "k1", value: null, partition: 1 }, // a tombstone
        { key: "k2", value: "v2", partition: 1 },
      ],
    });
    await producer.send({ topic: "orders", acks: 0, messages: [{ value: "acks-zero", partition: 2 }] });
    // The admin path: a gzip batch built with kafkajs's encoder, no client.
    const loaded = await fx.produce("orders", 2, ["a", null, new Uint8Array([0x68, 0x69])], {
      compression: "gzip",
      key: "adm",
    });
    await waitFor(
      "the acks=0 record",
      async () => (await fx.stats()).topics.orders!.partitions["2"]!.records === 4,
    );
    expect(loaded).toEqual({ baseOffset: 1, offsets: [1, 2, 3] });

    const { got } = await consume(client(fx), "g-order", ["orders"]);
    await waitFor("32 messages", () => got.length === 32);
    expect(values(byPartition(got, 0))).toEqual(p0);
    expect(offsets(byPartition(got, 0))).toEqual(p0.map((_, i) => i));
    expect(byPartition(got, 1).map((g) => [g.offset, g.key, g.value])).toEqual([
      [0, "k1", "v1"],
      [1, "k1", null],
      [2, "k2", "v2"],
    ]);
    expect(byPartition(got, 2).map((g) => [g.offset, g.key, g.value])).toEqual([
      [0, null, "acks-zero"],
      [1, "adm", "a"],
      [2, "adm", null],
      [3, "adm", "hi"],
    ]);
    const stats = await fx.stats();
    expect(stats.topics.orders!.partitions).toEqual({
      "0": { logStartOffset: 0, highWatermark: 25, records: 25, batches: 2, bytes: expect.any(Number) },
      "1": { logStartOffset: 0, highWatermark: 3, records: 3, batches: 1, bytes: expect.any(Number) },
      "2": { logStartOffset: 0, highWatermark: 4, records: 4, batches: 2, bytes: expect.any(Number) },
    });
    expect(stats.groups["g-order"]!).toMatchObject({
      state: "Stable",
      generation: 1,
      protocol: "RoundRobinAssigner",
    });
    expect(stats.groups["g-order"]!.members[0]!.assignment).toEqual({ orders: [0, 1, 2] });
  });

  it("interoperates with kcat (librdkafka) both ways, byte for byte; kcat -L lists topics and partitions", async () => {
    const fx = await start({ topics: { interop: 3, other: 1 } });
    // kcat produces (plain and gzip), kafkajs consumes.
    const lines = Array.from({ length: 50 }, (_, i) => `kcat line ${i} ünïcode`);
    let r = await kcat(fx, ["-P", "-t", "interop", "-p", "0"], `${lines.slice(0, 20).join("\n")}\n`);
    expect(r.code, r.stderr).toBe(0);
    r = await kcat(
      fx,
      ["-P", "-t", "interop", "-p", "1", "-z", "gzip", "-K", ":"],
      `${lines
        .slice(20)
        .map((l, i) => `key${i}:${l}`)
        .join("\n")}\n`,
    );
    expect(r.code, r.stderr).toBe(0);
    const { got } = await consume(client(fx), "g-interop", ["interop"]);
    await waitFor("50 messages from kcat", () => got.length === 50);
    expect(values(byPartition(got, 0))).toEqual(lines.slice(0, 20));
    expect(values(byPartition(got, 1))).toEqual(lines.slice(20));
    expect(byPartition(got, 1)[3]!.key).toBe("key3");

    // kafkajs produces (plain, gzip, a tombstone), kcat consumes to the end of the partition and exits (-e).
    const producer = client(fx).producer();
    cleanups.push(() => producer.disconnect());
    await producer.connect();
    await producer.send({
      topic: "interop",
      messages: [
        { value: "js-0", partition: 2 },
        { value: "js-1", partition: 2 },
      ],
    });
    await producer.send({
      topic: "interop",
      compression: CompressionTypes.GZIP,
      messages: [
        { key: "t", value: null, partition: 2 },
        { value: "js-3", partition: 2 },
      ],
    });
    r = await kcat(fx, [
      "-C",
      "-t",
      "interop",
      "-p",
      "2",
      "-o",
      "beginning",
      "-e",
      "-q",
      "-Z",
      "-f",
      "%o %k %s\n",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("0 NULL js-0\n1 NULL js-1\n2 t NULL\n3 NULL js-3\n");
    // Every partition, and a start offset in the middle of a batch.
    r = await kcat(fx, ["-C", "-t", "interop", "-o", "1", "-e", "-q", "-f", "%p/%o\n"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n").sort()).toEqual(
      [
        ...range(1, 20).map((o) => `0/${o}`),
        ...range(1, 30).map((o) => `1/${o}`),
        "2/1",
        "2/2",
        "2/3",
      ].sort(),
    );

    r = await kcat(fx, ["-L", "-J"]);
    expect(r.code, r.stderr).toBe(0);
    const meta = JSON.parse(r.stdout) as {
      brokers: { id: number; name: string }[];
      topics: { topic: string; partitions: { partition: number; leader: number }[] }[];
    };
    expect(meta.brokers).toEqual([{ id: 0, name: fx.brokers }]);
    expect(
      Object.fromEntries(meta.topics.map((t) => [t.topic, t.partitions.map((p) => p.partition)])),
    ).toEqual({ interop: [0, 1, 2], other: [0] });
  });

  it("kcat -G (librdkafka's group consumer) consumes and commits; kafkajs in the same group resumes from its commits", async () => {
    const fx = await start({ topics: { shared: 3 } });
    for (const p of [0, 1, 2]) await fx.produce("shared", p, [`x${p}`, `y${p}`]);
    const r = await kcat(fx, [
      "-G",
      "g-shared",
      "shared",
      "-e",
      "-q",
      "-f",
      "%p %o %s\n",
      "-X",
      "auto.offset.reset=earliest",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n").sort()).toEqual([
      "0 0 x0",
      "0 1 y0",
      "1 0 x1",
      "1 1 y1",
      "2 0 x2",
      "2 1 y2",
    ]);
    const g = (await fx.stats()).groups["g-shared"]!;
    expect(g).toMatchObject({ state: "Empty", committed: { shared: { "0": 2, "1": 2, "2": 2 } } });
    for (const p of [0, 1, 2]) await fx.produce("shared", p, [`z${p}`]);
    const { got } = await consume(client(fx), "g-shared", ["shared"]);
    await waitFor("the 3 new messages", () => got.length === 3);
    expect(got.map((m) => [m.partition, m.offset, m.value]).sort()).toEqual([
      [0, 2, "z0"],
      [1, 2, "z1"],
      [2, 2, "z2"],
    ]);
  });

  it("commits offsets (autoCommit off, commitOffsets), resumes from them after a restart; admin fetchOffsets matches stats()", async () => {
    const fx = await start({ topics: { commits: 2 } });
    await fx.produce(
      "commits",
      0,
      range(0, 10).map((i) => `a${i}`),
    );
    await fx.produce(
      "commits",
      1,
      range(0, 5).map((i) => `b${i}`),
    );
    const kafka = client(fx);
    const first = await consume(kafka, "g-commit", ["commits"], {}, { autoCommit: false });
    await waitFor("15 messages", () => first.got.length === 15);
    await first.consumer.commitOffsets([
      { topic: "commits", partition: 0, offset: "6" },
      { topic: "commits", partition: 1, offset: "3" },
    ]);
    await first.consumer.disconnect();
    expect((await fx.stats()).groups["g-commit"]!).toMatchObject({
      state: "Empty",
      members: [],
      committed: { commits: { "0": 6, "1": 3 } },
    });

    const admin = kafka.admin();
    cleanups.push(() => admin.disconnect());
    await admin.connect();
    const fetched = await admin.fetchOffsets({ groupId: "g-commit", topics: ["commits"] });
    expect(fetched).toEqual([
      {
        topic: "commits",
        partitions: [
          { partition: 0, offset: "6", metadata: null },
          { partition: 1, offset: "3", metadata: null },
        ].map((p) => expect.objectContaining({ partition: p.partition, offset: p.offset })),
      },
    ]);
    const unknownGroup = await admin.fetchOffsets({ groupId: "never-committed", topics: ["commits"] });
    expect(unknownGroup[0]!.partitions.map((p) => p.offset)).toEqual(["-1", "-1"]);

    const second = await consume(kafka, "g-commit", ["commits"], {}, { autoCommit: false });
    await waitFor("the uncommitted tail", () => second.got.length === 6);
    expect(offsets(byPartition(second.got, 0))).toEqual([6, 7, 8, 9]);
    expect(offsets(byPartition(second.got, 1))).toEqual([3, 4]);
    expect((await fx.stats()).groups["g-commit"]!.generation).toBe(3); // join, leave (-> Empty), join
  });

  it("rebalances: two kafkajs consumers split the partitions; after LeaveGroup the survivor gets all", async () => {
    const fx = await start({ topics: { split: 4 } });
    const a = await consume(client(fx), "g-split", ["split"]);
    await waitFor("a owns everything", () => a.assigned().length === 4);
    const b = await consume(client(fx), "g-split", ["split"]);
    await waitFor(
      "a split",
      () =>
        a.assigned().length > 0 && b.assigned().length > 0 && a.assigned().length + b.assigned().length === 4,
    );
    expect(sorted([...a.assigned(), ...b.assigned()])).toEqual([0, 1, 2, 3]);
    let g = (await fx.stats()).groups["g-split"]!;
    expect(g).toMatchObject({ state: "Stable", generation: 2, rebalances: 2 });
    expect(
      g.members
        .map((m) => m.assignment!.split)
        .flat()
        .sort(),
    ).toEqual([0, 1, 2, 3]);

    // Data produced now reaches exactly one of them per partition.
    for (const p of [0, 1, 2, 3]) await fx.produce("split", p, [`m${p}`]);
    await waitFor("4 messages", () => a.got.length + b.got.length === 4);
    expect(sorted(a.got.map((x) => x.partition))).toEqual(a.assigned());
    expect(sorted(b.got.map((x) => x.partition))).toEqual(b.assigned());

    await b.consumer.disconnect(); // LeaveGroup
    await waitFor("a owns everything again", () => a.assigned().length === 4);
    g = (await fx.stats()).groups["g-split"]!;
    expect(g).toMatchObject({ state: "Stable", generation: 3, rebalances: 3 });
    expect(g.members).toHaveLength(1);
  });

  it("session expiry: a consumer process that is SIGKILLed is removed after its session timeout; the survivor gets all", async () => {
    const fx = await start({ topics: { expiry: 4 }, minSessionTimeoutMs: 1000 });
    const survivor = await consume(client(fx), "g-expiry", ["expiry"], {
      sessionTimeout: 2500,
      heartbeatInterval: 300,
    });
    await waitFor("survivor owns everything", () => survivor.assigned().length === 4);
    // A second kafkajs consumer in another process (it must die without a LeaveGroup).
    const script = `
      const { Kafka, logLevel } = require("kafkajs");
      const kafka = new Kafka({ brokers: [process.argv[1]], clientId: "doomed", logLevel: logLevel.NOTHING });
      const c = kafka.consumer({ groupId: "g-expiry", sessionTimeout: 2500, heartbeatInterval: 300, maxWaitTimeInMs: 100, rebalanceTimeout: 5000 });
      c.on(c.events.GROUP_JOIN, (e) => console.log(JSON.stringify(e.payload.memberAssignment)));
      (async () => { await c.connect(); await c.subscribe({ topic: "expiry" }); await c.run({ eachMessage: async () => {} }); })();
    `;
    const child: ChildProcess = spawn(process.execPath, ["-e", script, fx.brokers], {
      cwd: new URL("..", import.meta.url).pathname,
      stdio: ["ignore", "pipe", "pipe"],
    });
    cleanups.push(() => child.kill("SIGKILL"));
    let childOut = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (childOut += d));
    await waitFor("the child's assignment", () => childOut.includes("expiry"));
    await waitFor("the split", () => survivor.assigned().length > 0 && survivor.assigned().length < 4);
    const before = (await fx.stats()).groups["g-expiry"]!;
    expect(before.members).toHaveLength(2);
    const doomed = before.members.find((m) => m.clientId === "doomed")!;

    const killedAt = Date.now();
    child.kill("SIGKILL");
    await waitFor("survivor owns everything", () => survivor.assigned().length === 4, 10_000);
    const tookMs = Date.now() - killedAt;
    expect(tookMs).toBeGreaterThanOrEqual(2000); // not before the session timeout
    const after = (await fx.stats()).groups["g-expiry"]!;
    expect(after.members.map((m) => m.memberId)).not.toContain(doomed.memberId);
    expect(after.generation).toBe(before.generation + 1);
    expect(fx.stderr()).toContain(`session timeout (2500 ms) of ${doomed.memberId}`);
  });

  it("group protocol, raw: MEMBER_ID_REQUIRED, leader/follower sync, REBALANCE_IN_PROGRESS, old-generation commits refused", async () => {
    const fx = await start({ topics: { raw: 2 }, minSessionTimeoutMs: 1000 });
    const joinV5 = proto("joinGroup", 5);
    const syncV3 = proto("syncGroup", 3);
    const hbV3 = proto("heartbeat", 3);
    const commitV5 = proto("offsetCommit", 5);
    const c1 = await RawConnection.connect(fx.port);
    const c2 = await RawConnection.connect(fx.port);
    cleanups.push(() => (c1.close(), c2.close()));
    const join = (c: RawConnection, memberId: string, sessionTimeout = 10_000) =>
      c.send(joinV5, {
        groupId: "g-raw",
        sessionTimeout,
        rebalanceTimeout: 10_000,
        memberId,
        protocolType: "consumer",
        groupProtocols: [{ name: "RoundRobinAssigner", metadata: memberMetadata(["raw"]) }],
      });
    const sync = (
      c: RawConnection,
      generationId: number,
      memberId: string,
      assignments: Record<string, Record<string, number[]>> = {},
    ) =>
      c.send(syncV3, {
        groupId: "g-raw",
        generationId,
        memberId,
        groupAssignment: Object.entries(assignments).map(([id, a]) => ({
          memberId: id,
          memberAssignment: memberAssignment(a),
        })),
      });
    const heartbeat = async (c: RawConnection, generation: number, memberId: string) =>
      (await c.send(hbV3, { groupId: "g-raw", groupGenerationId: generation, memberId })).errorCode;
    const commit = async (c: RawConnection, generation: number, memberId: string, offset = 1) => {
      const r = await c.send(commitV5, {
        groupId: "g-raw",
        groupGenerationId: generation,
        memberId,
        topics: [{ topic: "raw", partitions: [{ partition: 0, offset: String(offset) }] }],
      });
      return r.responses[0].partitions[0].errorCode;
    };

    expect((await join(c1, "", 500)).errorCode).toBe(26); // INVALID_SESSION_TIMEOUT (below the 1000 ms minimum)
    const first = await join(c1, "");
    expect(first.errorCode).toBe(79); // MEMBER_ID_REQUIRED, with the id to come back with
    const m1 = first.memberId;
    expect(m1).toMatch(/^raw-/);
    expect((await join(c1, "unknown-member")).errorCode).toBe(25); // UNKNOWN_MEMBER_ID
    const j1 = await join(c1, m1);
    expect(j1).toMatchObject({
      errorCode: 0,
      generationId: 1,
      leaderId: m1,
      memberId: m1,
      groupProtocol: "RoundRobinAssigner",
    });
    expect(j1.members).toHaveLength(1);
    expect(await commit(c1, 1, m1)).toBe(27); // CompletingRebalance: REBALANCE_IN_PROGRESS
    expect((await sync(c1, 1, m1, { [m1]: { raw: [0, 1] } })).errorCode).toBe(0);
    expect(await heartbeat(c1, 1, m1)).toBe(0);
    expect(await commit(c1, 1, m1)).toBe(0);
    expect(await commit(c1, 0, m1)).toBe(22); // ILLEGAL_GENERATION
    expect(await commit(c1, 1, "someone-else")).toBe(25);
    expect(await commit(c1, -1, "")).toBe(25); // a standalone commit into a group with members
    // No protocol in common with the members (librdkafka's "range"/"roundrobin" vs kafkajs's RoundRobinAssigner).
    const range_ = await c2.send(joinV5, {
      groupId: "g-raw",
      sessionTimeout: 10_000,
      rebalanceTimeout: 10_000,
      memberId: "",
      protocolType: "consumer",
      groupProtocols: [{ name: "range", metadata: memberMetadata(["raw"]) }],
    });
    expect(range_.errorCode).toBe(23); // INCONSISTENT_GROUP_PROTOCOL

    // A second member: the group prepares a rebalance and m1 learns it from its heartbeat.
    const m2 = (await join(c2, "")).memberId;
    const j2 = join(c2, m2); // pending until m1 rejoins
    await waitFor(
      "PreparingRebalance",
      async () => (await fx.stats()).groups["g-raw"]!.state === "PreparingRebalance",
    );
    expect(await heartbeat(c1, 1, m1)).toBe(27); // REBALANCE_IN_PROGRESS
    expect(await commit(c1, 1, m1, 2)).toBe(0); // still the current generation: accepted (what kafkajs does before rejoining)
    const j1b = await join(c1, m1);
    const j2r = await j2;
    expect(j1b).toMatchObject({ errorCode: 0, generationId: 2, leaderId: m1 });
    expect((j1b.members as { memberId: string }[]).map((m) => m.memberId).sort()).toEqual([m1, m2].sort());
    expect(j2r).toMatchObject({ errorCode: 0, generationId: 2, leaderId: m1, memberId: m2, members: [] });
    // The follower's SyncGroup waits for the leader's assignments.
    const s2 = sync(c2, 2, m2);
    await sleep(100);
    const s1 = await sync(c1, 2, m1, { [m1]: { raw: [0] }, [m2]: { raw: [1] } });
    expect(AssignerProtocol.MemberAssignment.decode(s1.memberAssignment)!.assignment).toEqual({ raw: [0] });
    expect(AssignerProtocol.MemberAssignment.decode((await s2).memberAssignment)!.assignment).toEqual({
      raw: [1],
    });
    expect(await commit(c1, 1, m1, 3)).toBe(22); // the old generation: refused
    expect(await commit(c1, 2, m1, 3)).toBe(0);
    const g = (await fx.stats()).groups["g-raw"]!;
    expect(g.members.map((m) => [m.memberId, m.assignment])).toEqual([
      [m1, { raw: [0] }],
      [m2, { raw: [1] }],
    ]);
    expect(g.committed).toEqual({ raw: { "0": 3 } });

    // m2 stops heartbeating: after its session timeout it is removed and m1 must rejoin alone.
    const expired = await fx.expireMember("g-raw", m2);
    expect(expired).toEqual([m2]);
    expect(await heartbeat(c1, 2, m1)).toBe(27);
    expect(await heartbeat(c2, 2, m2)).toBe(25);
    const j1c = await join(c1, m1);
    expect(j1c).toMatchObject({ errorCode: 0, generationId: 3, leaderId: m1 });
    expect(await commit(c2, 2, m2)).toBe(27); // CompletingRebalance answers before the member check
    expect((await sync(c1, 3, m1, { [m1]: { raw: [0, 1] } })).errorCode).toBe(0);
    expect(await commit(c2, 3, m2)).toBe(25);
  });

  it("kafkajs does not heartbeat while eachBatch blocks: the member expires, its commit is refused, it rejoins and the batch is delivered again", async () => {
    const fx = await start({ topics: { slow: 1 }, minSessionTimeoutMs: 1000 });
    await fx.produce("slow", 0, ["s0", "s1", "s2"]);
    const crashes: string[] = [];
    const commitErrors: string[] = [];
    let blocked = false;
    const slow = await consume(
      client(fx),
      "g-slow",
      ["slow"],
      { sessionTimeout: 2000, heartbeatInterval: 300, rebalanceTimeout: 3000 },
      {
        autoCommit: false,
        eachBatch: async ({ batch, ...payload }) => {
          if (!blocked) {
            blocked = true;
            await sleep(3500); // longer than the session timeout, no heartbeat() call
          }
          try {
            await payload.commitOffsetsIfNecessary({
              topics: [
                {
                  topic: "slow",
                  partitions: [{ partition: 0, offset: String(Number(batch.lastOffset()) + 1) }],
                },
              ],
            });
          } catch (e) {
            commitErrors.push((e as { type?: string }).type ?? String(e));
            throw e;
          }
        },
      },
    );
    slow.consumer.on(slow.consumer.events.CRASH, (e) => crashes.push(e.payload.error.message));
    await waitFor("the batch twice", () => slow.got.length === 6, 15_000);
    expect(values(slow.got)).toEqual(["s0", "s1", "s2", "s0", "s1", "s2"]);
    expect(commitErrors).toEqual(["UNKNOWN_MEMBER_ID"]);
    expect(crashes).toEqual([]);
    const g = (await fx.stats()).groups["g-slow"]!;
    expect(g).toMatchObject({ state: "Stable", committed: { slow: { "0": 3 } } });
    expect(fx.stderr()).toMatch(/session timeout \(2000 ms\)/);
  });

  it("SASL/PLAIN: good credentials work with kafkajs and kcat; bad ones fail with an authentication error", async () => {
    // A password that would confuse a naive argv or connection-string parser.
    const password = "--s3:cr;=t";
    const fx = await start({ topics: { secure: 1 }, sasl: { username: "gw", password } });
    expect(fx.sasl).toEqual({ mechanism: "plain", username: "gw", password });
    const producer = client(fx).producer();
    cleanups.push(() => producer.disconnect());
    await producer.connect();
    await producer.send({ topic: "secure", messages: [{ value: "over sasl" }] });
    const sasl = [
      "-X",
      "security.protocol=SASL_PLAINTEXT",
      "-X",
      "sasl.mechanisms=PLAIN",
      "-X",
      "sasl.username=gw",
    ];
    let r = await kcat(fx, [
      ...sasl,
      "-X",
      `sasl.password=${password}`,
      "-C",
      "-t",
      "secure",
      "-p",
      "0",
      "-o",
      "beginning",
      "-e",
      "-q",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("over sasl\n");
    r = await kcat(
      fx,
      [...sasl, "-X", `sasl.password=${password}`, "-P", "-t", "secure", "-p", "0"],
      "from kcat\n",
    );
    expect(r.code, r.stderr).toBe(0);
    const { got } = await consume(client(fx), "g-sasl", ["secure"]);
    await waitFor("2 messages", () => got.length === 2);
    expect(values(got)).toEqual(["over sasl", "from kcat"]);

    const bad = client(fx, {
      sasl: { mechanism: "plain", username: "gw", password: "wrong" },
      retry: { retries: 0 },
    }).producer();
    await expect(bad.connect()).rejects.toThrow(/SASL PLAIN authentication failed: Authentication failed/);
    r = await kcat(fx, [...sasl, "-X", "sasl.password=wrong", "-L", "-m", "1"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Authentication failed: Invalid username or password/);
    // Anything but ApiVersions/SaslHandshake/SaslAuthenticate before authenticating closes the connection.
    const raw = await RawConnection.connect(fx.port);
    cleanups.push(() => raw.close());
    const allTopics = Buffer.from([0xff, 0xff, 0xff, 0xff]); // Metadata v1 body: null = all topics
    void raw.sendRaw(3, 1, allTopics);
    await raw.closed;
    // SaslHandshake v0: the token then goes bare (no Kafka header) and success is an empty frame.
    const legacy = await RawConnection.connect(fx.port);
    cleanups.push(() => legacy.close());
    const mechanism = Buffer.concat([Buffer.from([0, 5]), Buffer.from("PLAIN")]);
    const handshake = await legacy.sendRaw(17, 0, mechanism);
    expect(handshake.readInt16BE(0)).toBe(0);
    await legacy.sendToken(Buffer.from(`\u0000gw\u0000${password}`));
    const metadata = await legacy.sendRaw(3, 1, allTopics);
    expect(metadata.readInt32BE(0)).toBe(1); // one broker: authenticated, the request was served
    const stats = await fx.stats();
    expect(stats.authFailures).toBeGreaterThanOrEqual(2);
  });

  it.each(["SCRAM-SHA-256", "SCRAM-SHA-512"] as const)(
    "SASL/%s: kafkajs and kcat produce and consume; wrong passwords and mechanisms not enabled are refused",
    async (mechanism) => {
      // A user name with the characters SCRAM escapes (',' -> =2C, '=' -> =3D) and a password that would
      // confuse a naive argv or message parser.
      const username = "gw,scram=user";
      const password = "--s3:cr;=t,p";
      const fx = await start({ topics: { scram: 1 }, sasl: { username, password, mechanisms: [mechanism] } });
      const kafkajsMechanism = mechanism.toLowerCase() as KafkajsSaslMechanism;
      expect(fx.sasl).toEqual({ mechanism: kafkajsMechanism, username, password });
      expect(fx.saslMechanisms).toEqual([mechanism]);
      const producer = client(fx).producer();
      cleanups.push(() => producer.disconnect());
      await producer.connect();
      await producer.send({ topic: "scram", messages: [{ value: `over ${mechanism}` }] });
      const sasl = (m: string, pw: string): string[] => [
        ...["-X", "security.protocol=SASL_PLAINTEXT", "-X", `sasl.mechanisms=${m}`],
        ...["-X", `sasl.username=${username}`, "-X", `sasl.password=${pw}`],
      ];
      let r = await kcat(fx, [
        ...sasl(mechanism, password),
        ...["-C", "-t", "scram", "-p", "0", "-o", "beginning", "-e", "-q"],
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`over ${mechanism}\n`);
      r = await kcat(fx, [...sasl(mechanism, password), "-P", "-t", "scram", "-p", "0"], "from kcat\n");
      expect(r.code, r.stderr).toBe(0);
      const { got } = await consume(client(fx), `g-${kafkajsMechanism}`, ["scram"]);
      await waitFor("2 messages", () => got.length === 2);
      expect(values(got)).toEqual([`over ${mechanism}`, "from kcat"]);

      // A wrong password: SASL_AUTHENTICATION_FAILED with Kafka's message for SCRAM, for both clients.
      const failure = `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`;
      const bad = client(fx, {
        sasl: saslOptions(kafkajsMechanism, username, "wrong"),
        retry: { retries: 0 },
      }).producer();
      await expect(bad.connect()).rejects.toThrow(
        `SASL SCRAM ${mechanism.slice(6).replace("-", "")} authentication failed: ${failure}`,
      );
      r = await kcat(fx, [...sasl(mechanism, "wrong"), "-L", "-m", "1"]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`SASL authentication error: ${failure}`);
      expect((await fx.stats()).authFailures).toBeGreaterThanOrEqual(2);

      // The other SCRAM mechanism and PLAIN are not enabled: UNSUPPORTED_SASL_MECHANISM at the handshake.
      const other = mechanism === "SCRAM-SHA-256" ? "SCRAM-SHA-512" : "SCRAM-SHA-256";
      for (const m of [other, "PLAIN"] as const) {
        const refused = client(fx, {
          sasl: saslOptions(m.toLowerCase() as KafkajsSaslMechanism, username, password),
          retry: { retries: 0 },
        }).producer();
        await expect(refused.connect()).rejects.toThrow(/does not support the requested SASL mechanism/);
        r = await kcat(fx, [...sasl(m, password), "-L", "-m", "1"]);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(
          `SASL ${m} mechanism handshake failed: Broker: Unsupported SASL mechanism: broker's supported mechanisms: ${mechanism}`,
        );
      }
      expect(fx.stderr()).toMatch(/SASL mechanism "PLAIN" is not enabled/);
    },
  );

  it("SASL/SCRAM, raw: the handshake lists the enabled mechanisms; SCRAM over SaslHandshake v0 tokens and SaslAuthenticate; bad proofs and names fail", async () => {
    const username = "gw,scram=user";
    const password = "pw";
    const mechanisms: KafkaSaslMechanism[] = ["SCRAM-SHA-512", "PLAIN"];
    const fx = await start({ topics: { raw: 1 }, sasl: { username, password, mechanisms } });
    expect(fx.sasl).toEqual({ mechanism: "scram-sha-512", username, password }); // the first one
    expect(fx.saslMechanisms).toEqual(mechanisms);
    for (const mechanism of ["scram-sha-512", "plain"] as const) {
      const producer = client(fx, { sasl: saslOptions(mechanism, username, password) }).producer();
      cleanups.push(() => producer.disconnect());
      await producer.connect();
      await producer.send({ topic: "raw", messages: [{ value: mechanism }] });
    }
    const connect = async (): Promise<RawConnection> => {
      const c = await RawConnection.connect(fx.port);
      cleanups.push(() => c.close());
      return c;
    };
    // A mechanism that is not enabled: UNSUPPORTED_SASL_MECHANISM with the enabled list, then closed.
    const refused = await connect();
    expect(saslHandshakeResponse(await refused.sendRaw(17, 1, kafkaString("SCRAM-SHA-256")))).toEqual({
      errorCode: 33,
      mechanisms,
    });
    await refused.closed;

    // SaslHandshake v0: client-first and client-final go as bare tokens, server-first and server-final come
    // back as bare tokens; then the connection is authenticated.
    const legacy = await connect();
    expect(saslHandshakeResponse(await legacy.sendRaw(17, 0, kafkaString("SCRAM-SHA-512")))).toEqual({
      errorCode: 0,
      mechanisms,
    });
    const scram = scramClient("SCRAM-SHA-512", username, password);
    const serverFirst = await legacy.sendToken(scram.first);
    expect(serverFirst.toString()).toMatch(/^r=[^,]+,s=[A-Za-z0-9+/]+=*,i=4096$/);
    const { message, serverSignature } = scram.final(serverFirst);
    expect((await legacy.sendToken(message)).toString()).toBe(`v=${serverSignature}`);
    const allTopics = Buffer.from([0xff, 0xff, 0xff, 0xff]); // Metadata v1 body: null = all topics
    expect((await legacy.sendRaw(3, 1, allTopics)).readInt32BE(0)).toBe(1); // one broker: served

    // SaslHandshake v1 + SaslAuthenticate v1: a proof made with another password is refused and the connection
    // closed.
    const failure = {
      errorCode: 58,
      message:
        "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512",
    };
    const tampered = await connect();
    expect(saslHandshakeResponse(await tampered.sendRaw(17, 1, kafkaString("SCRAM-SHA-512"))).errorCode).toBe(
      0,
    );
    const wrong = scramClient("SCRAM-SHA-512", username, password);
    const first = saslAuthenticateResponse(await tampered.sendRaw(36, 1, kafkaBytes(wrong.first)));
    expect(first).toMatchObject({ errorCode: 0, message: null });
    const final = wrong.final(first.token, "not the password").message;
    expect(saslAuthenticateResponse(await tampered.sendRaw(36, 1, kafkaBytes(final)))).toMatchObject(failure);
    await tampered.closed;
    // RFC 5802 5.1: a '=' in a saslname not followed by 2C or 3D fails; so does the unescaped name (another
    // user) and an unknown user. All at client-first, with the same message.
    for (const name of ["gw=scram=user", "gw=2Cscram=user", "nobody"]) {
      const c = await connect();
      await c.sendRaw(17, 1, kafkaString("SCRAM-SHA-512"));
      const token = Buffer.from(`n,,n=${name},r=${randomBytes(9).toString("base64")}`);
      expect(saslAuthenticateResponse(await c.sendRaw(36, 1, kafkaBytes(token))), name).toMatchObject(
        failure,
      );
      await c.closed;
    }
    expect((await fx.stats()).authFailures).toBe(4);
    expect(fx.stderr()).toMatch(/SASL\/SCRAM-SHA-512 authentication failed \(58: invalid client proof/);
  });

  it("TLS + SASL: kafkajs and kcat trusting the generated CA connect; clients that do not trust it fail", async () => {
    const fx = await start({ topics: { tls: 1 }, tls: true, sasl: { username: "gw", password: "pw" } });
    expect(fx.caFile).toMatch(/ca\.pem$/);
    const ca = readFileSync(fx.caFile!, "utf8");
    expect(ca).toContain("BEGIN CERTIFICATE");
    const producer = client(fx, { ssl: { ca: [ca] } }).producer();
    cleanups.push(() => producer.disconnect());
    await producer.connect();
    await producer.send({ topic: "tls", messages: [{ value: "over tls" }] });
    const opts = [
      "-X",
      "security.protocol=SASL_SSL",
      "-X",
      "sasl.mechanisms=PLAIN",
      "-X",
      "sasl.username=gw",
      "-X",
      "sasl.password=pw",
    ];
    let r = await kcat(fx, [
      ...opts,
      "-X",
      `ssl.ca.location=${fx.caFile}`,
      "-C",
      "-t",
      "tls",
      "-p",
      "0",
      "-o",
      "beginning",
      "-e",
      "-q",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("over tls\n");

    const untrusting = client(fx, { ssl: true, retry: { retries: 0 } }).producer();
    await expect(untrusting.connect()).rejects.toThrow(/certificate/i);
    r = await kcat(fx, [...opts, "-L", "-m", "1"]); // the system CAs only
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/certificate verify failed/);
    expect((await fx.stats()).tlsErrors).toBeGreaterThanOrEqual(1);
  });

  it("TLS with client certificates: a client presenting the generated certificate connects, one without is refused", async () => {
    const fx = await start({ topics: { mtls: 1 }, tls: { requestClientCert: true } });
    const ssl = { ca: [readFileSync(fx.caFile!, "utf8")] };
    const withCert = client(fx, {
      ssl: {
        ...ssl,
        cert: readFileSync(fx.clientCertFile!, "utf8"),
        key: readFileSync(fx.clientKeyFile!, "utf8"),
      },
    }).producer();
    cleanups.push(() => withCert.disconnect());
    await withCert.connect();
    await withCert.send({ topic: "mtls", messages: [{ value: "mutual" }] });
    const r = await kcat(fx, [
      ...["-X", "security.protocol=SSL", "-X", `ssl.ca.location=${fx.caFile}`],
      ...[
        "-X",
        `ssl.certificate.location=${fx.clientCertFile}`,
        "-X",
        `ssl.key.location=${fx.clientKeyFile}`,
      ],
      ...["-C", "-t", "mtls", "-p", "0", "-o", "beginning", "-e", "-q"],
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("mutual\n");
    const withoutCert = client(fx, { ssl, retry: { retries: 0 }, connectionTimeout: 3000 }).producer();
    await expect(withoutCert.connect()).rejects.toThrow();
  });

  it("faults: dropConnections() mid-consume loses nothing; failNext(Fetch) and failNext(OffsetCommit) surface as kafkajs handles them", async () => {
    const fx = await start({ topics: { faults: 2 } });
    const kafka = client(fx);
    for (let i = 0; i < 5; i++)
      await fx.produce(
        "faults",
        i % 2,
        range(0, 20).map((n) => `b${i}-${n}`),
      );
    let dropped = false;
    const c = await consume(
      kafka,
      "g-faults",
      ["faults"],
      {},
      {
        eachBatch: async (_p, got) => {
          if (!dropped && got.length >= 20) {
            dropped = true;
            expect(await fx.dropConnections()).toBeGreaterThanOrEqual(1);
          }
        },
      },
    );
    await waitFor(
      "the first 100",
      () => new Set(c.got.map((g) => `${g.partition}/${g.offset}`)).size === 100,
    );
    for (let i = 0; i < 2; i++) await fx.produce("faults", i, ["after-drop"]);
    await waitFor(
      "the 2 produced after the drop",
      () => c.got.filter((g) => g.value === "after-drop").length === 2,
    );
    const unique = new Set(c.got.map((g) => `${g.partition}/${g.offset}`));
    expect(unique.size).toBe(102); // every message at least once, none missing
    const stats = await fx.stats();
    expect(stats.droppedConnections).toBeGreaterThanOrEqual(1);
    expect(stats.connectionsTotal).toBeGreaterThan(stats.connections);

    // Fetch answered with NOT_LEADER_FOR_PARTITION (6) twice: kafkajs refreshes metadata and fetches again.
    const fetchesBefore = (await fx.stats()).requests.Fetch ?? 0;
    await fx.failNext("Fetch", "NOT_LEADER_FOR_PARTITION", 2);
    await fx.produce("faults", 0, ["after-fetch-fault"]);
    await waitFor("the message behind the fetch faults", () =>
      c.got.some((g) => g.value === "after-fetch-fault"),
    );
    const after = await waitFor("both fetch faults used", async () => {
      const s = await fx.stats();
      return Object.keys(s.faults).length === 0 ? s : null;
    });
    // Both faulted fetches were sent after failNext; the message may come back on either a later
    // fetch or the long-poll that was already waiting when failNext was called (counted before).
    expect(after.requests.Fetch! - fetchesBefore).toBeGreaterThanOrEqual(2);

    // OffsetCommit refused once with COORDINATOR_LOAD_IN_PROGRESS (14, retriable): consumer.commitOffsets retries.
    await fx.failNext("OffsetCommit", 14, 1);
    await c.consumer.commitOffsets([{ topic: "faults", partition: 0, offset: "5" }]);
    expect((await fx.stats()).groups["g-faults"]!.committed.faults!["0"]).toBe(5);
    // ... and with a non-retriable error (OFFSET_METADATA_TOO_LARGE, 12) the caller gets the error.
    await fx.failNext("OffsetCommit", 12, 1);
    await expect(c.consumer.commitOffsets([{ topic: "faults", partition: 0, offset: "7" }])).rejects.toThrow(
      /metadata/i,
    );
    expect((await fx.stats()).groups["g-faults"]!.committed.faults!["0"]).toBe(5);
  });

  it("throttle(ms): kafkajs sees throttle_time_ms as client-side throttling (KIP-219) and delays its next requests", async () => {
    const fx = await start({ topics: { slowdown: 1 } });
    const logs: string[] = [];
    const kafka = client(fx, {
      logLevel: logLevel.DEBUG,
      logCreator: () => (entry: LogEntry) => void logs.push(`${entry.namespace}: ${entry.log.message}`),
    });
    const producer = kafka.producer();
    cleanups.push(() => producer.disconnect());
    await producer.connect();
    await producer.send({ topic: "slowdown", messages: [{ value: "x" }] });
    expect(logs.filter((l) => l.includes("Client side throttling"))).toEqual([]);
    await fx.throttle(400);
    const t0 = Date.now();
    await producer.send({ topic: "slowdown", messages: [{ value: "y" }] }); // answered with throttle_time_ms 400
    await producer.send({ topic: "slowdown", messages: [{ value: "z" }] }); // held back by the client for ~400 ms
    const elapsed = Date.now() - t0;
    expect(logs).toContain("RequestQueue: Client side throttling in effect for 400ms");
    expect(elapsed).toBeGreaterThanOrEqual(350);
    await fx.throttle(0);
    expect((await fx.stats()).throttleMs).toBe(0);
  });

  it("raw protocol: ApiVersions v3 fallback, Fetch long-poll and limits, OFFSET_OUT_OF_RANGE, ListOffsets, auto-create off", async () => {
    const fx = await start({ topics: { lp: 1 }, autoCreateTopics: false });
    const c = await RawConnection.connect(fx.port);
    cleanups.push(() => c.close());

    // ApiVersions v3 (flexible, KIP-511) is answered in the v0 format with UNSUPPORTED_VERSION and our ranges.
    const apiVersions = await c.sendRaw(18, 3, Buffer.from([0x00]));
    expect(apiVersions.readInt16BE(0)).toBe(35);
    const ranges = new Map<number, [number, number]>();
    for (let i = 0, n = apiVersions.readInt32BE(2); i < n; i++) {
      const at = 6 + i * 6;
      ranges.set(apiVersions.readInt16BE(at), [
        apiVersions.readInt16BE(at + 2),
        apiVersions.readInt16BE(at + 4),
      ]);
    }
    expect(ranges.get(18)).toEqual([0, 2]);
    expect(ranges.get(0)).toEqual([3, 7]);
    expect(ranges.get(1)).toEqual([4, 11]);

    const fetchV11 = proto("fetch", 11);
    const fetch = (fetchOffset: number, maxWaitTime = 0, maxBytes = 1 << 20, partitionMaxBytes = 1 << 20) =>
      c.send(fetchV11, {
        replicaId: -1,
        maxWaitTime,
        minBytes: 1,
        maxBytes,
        isolationLevel: 1,
        topics: [
          {
            topic: "lp",
            partitions: [{ partition: 0, fetchOffset: String(fetchOffset), maxBytes: partitionMaxBytes }],
          },
        ],
      });
    // Long poll: a fetch at the end waits, and returns as soon as data arrives (well before max_wait).
    const t0 = Date.now();
    const pending = fetch(0, 5000);
    await sleep(200);
    await fx.produce("lp", 0, ["first", "second"]);
    const r1 = await pending;
    expect(Date.now() - t0).toBeLessThan(2000);
    const part = r1.responses[0].partitions[0];
    expect(part).toMatchObject({
      errorCode: 0,
      highWatermark: "2",
      lastStableOffset: "2",
      lastStartOffset: "0",
    });
    expect(part.messages.map((m: { value: Buffer }) => m.value.toString())).toEqual(["first", "second"]);
    // Nothing new: max_wait elapses and the answer is empty.
    const t1 = Date.now();
    expect((await fetch(2, 300)).responses[0].partitions[0].messages).toEqual([]);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(250);
    // Limits below one batch still return one whole batch; the next batch only if it fits.
    await fx.produce("lp", 0, ["third"]);
    const tiny = (await fetch(0, 0, 10, 10)).responses[0].partitions[0];
    expect(tiny.messages.map((m: { offset: string }) => m.offset)).toEqual(["0", "1"]);
    // Out of range, above and below.
    expect((await fetch(4)).responses[0].partitions[0].errorCode).toBe(1);
    await fx.deleteRecords("lp", 0, 2);
    expect((await fetch(1)).responses[0].partitions[0].errorCode).toBe(1);
    expect(
      (await fetch(2)).responses[0].partitions[0].messages.map((m: { value: Buffer }) => m.value.toString()),
    ).toEqual(["third"]);
    // kcat from the beginning starts at the log start offset.
    const r = await kcat(fx, ["-C", "-t", "lp", "-p", "0", "-o", "beginning", "-e", "-q", "-f", "%o %s\n"]);
    expect(r.stdout).toBe("2 third\n");

    const admin = client(fx).admin();
    cleanups.push(() => admin.disconnect());
    await admin.connect();
    expect(await admin.fetchTopicOffsets("lp")).toEqual([
      expect.objectContaining({ partition: 0, low: "2", high: "3", offset: "3" }),
    ]);
    // autoCreateTopics off: unknown topics are not created by Metadata; CreateTopics works.
    const producer = client(fx, { retry: { retries: 1, initialRetryTime: 50 } }).producer({
      allowAutoTopicCreation: true,
    });
    cleanups.push(() => producer.disconnect());
    await producer.connect();
    await expect(producer.send({ topic: "nope", messages: [{ value: "x" }] })).rejects.toThrow(
      /does not host this topic-partition/,
    );
    expect(await admin.createTopics({ topics: [{ topic: "made", numPartitions: 2 }] })).toBe(true);
    await producer.send({ topic: "made", messages: [{ value: "x", partition: 1 }] });
    const stats = await fx.stats();
    expect(Object.keys(stats.topics).sort()).toEqual(["lp", "made"]);
    expect(stats.topics.made!.partitions["1"]!).toMatchObject({ highWatermark: 1, records: 1 });
  });

  it("the launcher: the server exits when its stdin closes; stats() counts records, not batches", async () => {
    const fx = await start({ partitions: 2 });
    await fx.produce("auto", 1, ["a", "b", "c"]);
    await fx.produce("auto", 1, ["d"], { compression: "gzip" });
    expect((await fx.stats()).topics.auto!.partitions).toMatchObject({
      "0": { highWatermark: 0, records: 0, batches: 0 },
      "1": { highWatermark: 4, records: 4, batches: 2 },
    });

    const child = spawn(process.execPath, [SERVER, "--port", "0", "--exit-on-stdin-close"], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    cleanups.push(() => child.kill("SIGKILL"));
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    await waitFor("the ready line", () => out.includes("\n"));
    const { port } = JSON.parse(out) as { port: number };
    expect(port).toBeGreaterThan(0);
    const exitedAt = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.stdin.end();
    const code = await Promise.race([exitedAt, sleep(5000).then(() => "still running")]);
    expect(code).toBe(0);
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
