/**
 * Kafka source (kafkajs): reads one or more topics for one consumer group; the group protocol shares
 * partitions between replicas. Works with any Kafka and with the Event Hubs Kafka endpoint.
 *
 * Each fetched batch of a partition goes to that partition's lane and the partition is paused until
 * the lane has written all of it: backpressure is pause/resume per partition, never an unbounded
 * buffer. The lane cuts the messages into batches (count and byte limits), emits one at a time, and
 * commits offset `last + 1` when the engine acknowledges it (rows stored). Auto-commit is off.
 *
 * Rebalances: every assignment starts a new epoch. A batch of an older epoch is never committed (its
 * partition may belong to another consumer now) and is dropped if it has not been admitted yet.
 * Exactly once across crashes and rebalances: batches are `logged`; when a partition is assigned its
 * last logged range is looked up and cut again exactly ({@link BatchResume}), and `eachBatch` returns
 * only once the first batch it took is in the batch log, so the group cannot hand the partition to
 * another consumer before that range is visible to it.
 */
import type { ConnectionOptions } from "node:tls";
import kafkajs, {
  Kafka,
  logLevel,
  type Consumer,
  type EachBatchPayload,
  type KafkaMessage,
  type LogEntry,
  type SASLOptions,
} from "kafkajs";
import SnappyCodec from "kafkajs-snappy";
import pRetry, { AbortError } from "p-retry";
import {
  BatchResume,
  GatewatchError,
  splitBatches,
  type BatchHandler,
  type BatchLimits,
  type SeqRange,
  type Source,
} from "@gatewatch/pipeline";
import { classifyKafkaError, type KafkaErrorKind } from "./errors.js";
import type { KafkaTuning } from "./preset.js";

/** SASL mechanisms gatewatch configures. */
export type KafkaSaslMechanism = "plain" | "scram-sha-256" | "scram-sha-512";

/** Observer for metrics and logs. Partitions are named `<topic>/<partition>`. */
export interface KafkaObserver {
  /** A fetched batch: its size, and lag (high watermark − committed offset) and age of its last message. */
  onMessages?(
    partition: string,
    messages: number,
    bytes: number,
    lagEvents: number | null,
    lagSeconds: number | null,
  ): void;
  /** Offsets of `partition` committed up to `offset` (exclusive) in `seconds`. */
  onCommit?(partition: string, offset: number, seconds: number, lagEvents: number | null): void;
  /** A batch whose partition was revoked before its commit: not committed, the new owner re-reads it. */
  onAbandoned?(partition: string, range: SeqRange): void;
  /** The group assigned this replica `partitions` (and took `revoked` away). */
  onAssignment?(partitions: readonly string[], revoked: readonly string[]): void;
  /** The broker asked the client to hold back for `ms` (throttle_time_ms). */
  onThrottle?(ms: number): void;
  onError?(kind: KafkaErrorKind, partition: string | undefined, error: Error): void;
  /** The range interrupted by the last stop is being cut again. */
  onResume?(partition: string, range: SeqRange): void;
  /** kafkajs' own log lines at info and above. */
  onLog?(level: "info" | "warn" | "error", message: string, fields: Record<string, unknown>): void;
}

/** Options of {@link KafkaSource}. */
export interface KafkaSourceOptions {
  /** `host:port` of one or more brokers. */
  readonly brokers: readonly string[];
  readonly topics: readonly string[];
  /** Consumer group; every replica of one deployment uses the same. */
  readonly groupId: string;
  /** Where a partition without a committed offset starts. @default "latest" */
  readonly start?: "earliest" | "latest";
  /** TLS: true for the system CAs, or options (ca, cert, key). @default false */
  readonly ssl?: boolean | ConnectionOptions;
  readonly sasl?: {
    readonly mechanism: KafkaSaslMechanism;
    readonly username: string;
    readonly password: string;
  };
  /** @default "gatewatch" */
  readonly clientId?: string;
  readonly tuning?: KafkaTuning;
  /** Batch size limits (time is not used: Kafka fetches already wait up to `maxWaitTimeInMs`). */
  readonly limits: Pick<BatchLimits, "maxBodies" | "maxBytes">;
  /** Looks up the last logged batch range of a partition (the store's batch log). */
  readonly lastLoggedBatch: (source: string, partition: string) => Promise<SeqRange | null>;
  readonly observer?: KafkaObserver;
  /** On stop, how long batches already handed over may take to be stored and committed, ms. @default 30000 */
  readonly drainTimeoutMs?: number;
}

interface Message {
  readonly seq: number;
  readonly body: Uint8Array;
  readonly timestamp: number;
}

type Commit = EachBatchPayload["commitOffsetsIfNecessary"];

/** One assigned partition in one epoch. */
interface Lane {
  readonly topic: string;
  readonly partition: number;
  readonly key: string;
  /** Aborted when the partition is revoked (a new epoch begins). */
  readonly revoked: AbortController;
  queue: Message[];
  resume: BatchResume<Message> | null;
  pumping: Promise<void> | null;
  commit: Commit | null;
  highWatermark: number | null;
  committed: number | null;
}

// kafkajs reads gzip natively; snappy (common among Kafka producers) through this codec. lz4 and zstd
// need native codecs and are not registered: such batches fail with a clear KafkaJSNotImplemented.
// (Not named imports: Node's CommonJS export detection does not see these two.)
kafkajs.CompressionCodecs[kafkajs.CompressionTypes.Snappy] = SnappyCodec;

const EMPTY = new Uint8Array(0);
const CLOSE_TIMEOUT_MS = 10_000;

export class KafkaSource implements Source {
  readonly name = "kafka";
  readonly #opts: KafkaSourceOptions;
  /** Identity in deduplication tokens and the batch log: shared by every replica of the group. */
  readonly sourceId: string;
  #lanes = new Map<string, Lane>();
  /** Per partition, settles when the last batch emitted for it is acknowledged or given up. */
  readonly #settled = new Map<string, Promise<void>>();
  /** Batches emitted and not yet acknowledged. */
  readonly #unacked = new Set<Promise<void>>();
  #consumer: Consumer | undefined;
  #fail: (e: GatewatchError) => void = () => undefined;

  constructor(options: KafkaSourceOptions) {
    this.#opts = options;
    this.sourceId = `kafka:${options.groupId}`;
  }

  /** Partitions (`topic/partition`) this replica owns now. */
  get ownedPartitions(): readonly string[] {
    return [...this.#lanes.keys()].sort();
  }

  async run(emit: BatchHandler, signal: AbortSignal): Promise<void> {
    const o = this.#opts;
    const t = o.tuning ?? {};
    const kafka = new Kafka({
      clientId: o.clientId ?? "gatewatch",
      brokers: [...o.brokers],
      ssl: o.ssl ?? false,
      ...(o.sasl ? { sasl: o.sasl as SASLOptions } : {}),
      ...(t.connectionTimeout ? { connectionTimeout: t.connectionTimeout } : {}),
      ...(t.requestTimeout ? { requestTimeout: t.requestTimeout } : {}),
      // DEBUG so the throttle notice reaches us; everything below info is dropped in #log.
      logLevel: logLevel.DEBUG,
      logCreator: () => (entry) => this.#log(entry),
    });
    const consumer = kafka.consumer({
      groupId: o.groupId,
      ...(t.sessionTimeout ? { sessionTimeout: t.sessionTimeout } : {}),
      ...(t.heartbeatInterval ? { heartbeatInterval: t.heartbeatInterval } : {}),
      ...(t.rebalanceTimeout ? { rebalanceTimeout: t.rebalanceTimeout } : {}),
      ...(t.metadataMaxAge ? { metadataMaxAge: t.metadataMaxAge } : {}),
      maxWaitTimeInMs: t.maxWaitTimeInMs ?? 1000,
      // One fetch hands at most this much per partition to a lane, which is what a lane may hold.
      maxBytesPerPartition: Math.max(o.limits.maxBytes, 1024 * 1024),
    });
    this.#consumer = consumer;
    let fatal: GatewatchError | undefined;
    const failed = new Promise<void>((resolve) => {
      this.#fail = (e) => {
        fatal ??= e;
        resolve();
      };
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => this.#assign(payload.memberAssignment));
    consumer.on(consumer.events.REBALANCING, () => this.#revokeAll());
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      const classified = classifyKafkaError(payload.error);
      this.#revokeAll();
      if (payload.restart) o.observer?.onError?.(classified.kind, undefined, classified.error);
      else this.#fail(classified.asFatal("consuming"));
    });
    try {
      await consumer.connect().catch((err: unknown) => {
        throw classifyKafkaError(err).asFatal(`connecting to ${o.brokers.join(",")}`);
      });
      await consumer
        .subscribe({ topics: [...o.topics], fromBeginning: (o.start ?? "latest") === "earliest" })
        .catch((err: unknown) => {
          throw classifyKafkaError(err).asFatal(`subscribing to ${o.topics.join(",")}`);
        });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 8,
        eachBatch: (payload) => this.#onBatch(payload, emit, signal),
      });
      const aborted = new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener("abort", () => resolve(), { once: true });
      });
      await Promise.race([aborted, failed]);
      if (!fatal) {
        // Stop fetching, then let batches already handed over be stored and committed; commits need
        // the group membership, so the consumer disconnects only afterwards.
        consumer.pause(o.topics.map((topic) => ({ topic })));
        await withTimeout(Promise.allSettled([...this.#unacked]), o.drainTimeoutMs ?? 30_000);
      }
    } finally {
      this.#revokeAll();
      await withTimeout(consumer.disconnect(), CLOSE_TIMEOUT_MS);
      this.#consumer = undefined;
    }
    if (fatal) throw fatal;
  }

  /** Takes a fetched batch into its lane and pauses the partition until the lane has written it. */
  async #onBatch(p: EachBatchPayload, emit: BatchHandler, signal: AbortSignal): Promise<void> {
    const { batch } = p;
    const lane = this.#lanes.get(laneKey(batch.topic, batch.partition));
    // Not taken (and not resolved): on revocation or shutdown the data is left for whoever reads next.
    if (!lane || signal.aborted || !p.isRunning() || p.isStale()) return;
    const messages = batch.messages.map(toMessage);
    if (messages.length === 0) return;
    const last = messages[messages.length - 1]!;
    lane.commit = (offsets) => p.commitOffsetsIfNecessary(offsets);
    lane.highWatermark = Number(batch.highWatermark);
    lane.committed ??= messages[0]!.seq;
    this.#opts.observer?.onMessages?.(
      lane.key,
      messages.length,
      messages.reduce((n, m) => n + m.body.byteLength, 0),
      Math.max(0, lane.highWatermark - lane.committed),
      last.timestamp > 0 ? Math.max(0, (Date.now() - last.timestamp) / 1000) : null,
    );
    lane.queue.push(...messages);
    this.#consumer?.pause([{ topic: lane.topic, partitions: [lane.partition] }]);
    p.resolveOffset(batch.lastOffset());
    const logged = deferred();
    if (lane.pumping) logged.resolve();
    else
      lane.pumping = this.#pump(lane, emit, signal, logged.resolve)
        .catch((err: unknown) => {
          if (!signal.aborted && !lane.revoked.signal.aborted)
            this.#fail(
              err instanceof GatewatchError
                ? err
                : new GatewatchError("kafka_error", `Kafka lane ${lane.key} failed: ${String(err)}`, {
                    cause: err,
                  }),
            );
        })
        .finally(() => {
          lane.pumping = null;
          logged.resolve();
        });
    // Keep the group membership alive while the first batch is classified and logged (or while the
    // store is down); a rebalance error thrown by heartbeat() makes kafkajs rejoin.
    await heartbeatUntil(logged.promise, () => p.heartbeat(), this.#opts.tuning?.heartbeatInterval ?? 3000);
  }

  /** Emits the lane's queue batch by batch, each after the previous one is acknowledged. */
  async #pump(lane: Lane, emit: BatchHandler, signal: AbortSignal, onFirstLogged: () => void): Promise<void> {
    const live = () => !signal.aborted && !lane.revoked.signal.aborted;
    // In this process, the partition's previous lane may still be writing: its range must be logged
    // (and acknowledged or dropped) before we look the range up.
    await this.#settled.get(lane.key);
    if (!lane.resume) {
      const range = await pRetry(() => this.#opts.lastLoggedBatch(this.sourceId, lane.key), {
        forever: true,
        minTimeout: 200,
        maxTimeout: 5000,
        randomize: true,
        signal: AbortSignal.any([signal, lane.revoked.signal]),
        onFailedAttempt: (e) => this.#opts.observer?.onError?.("checkpoint", lane.key, e),
      });
      lane.resume = new BatchResume(range, (m) => m.seq);
    }
    while (lane.queue.length > 0 && live()) {
      const items = lane.queue.splice(0);
      const range = lane.resume.range;
      const { recut, rest } = lane.resume.take(items);
      const batches = contiguousRuns(rest).flatMap((run) =>
        splitBatches(run, (m) => m.body.byteLength, this.#opts.limits),
      );
      if (recut) {
        this.#opts.observer?.onResume?.(lane.key, range!);
        batches.unshift(recut);
      }
      for (const b of batches) {
        if (!live()) return;
        await this.#emitBatch(lane, b, emit, signal, onFirstLogged);
      }
    }
    if (live()) this.#consumer?.resume([{ topic: lane.topic, partitions: [lane.partition] }]);
  }

  /** Emits one batch and waits until it is stored and committed, or the lane is revoked. */
  async #emitBatch(
    lane: Lane,
    messages: Message[],
    emit: BatchHandler,
    signal: AbortSignal,
    onLogged: () => void,
  ): Promise<void> {
    const range = { firstSeq: messages[0]!.seq, lastSeq: messages[messages.length - 1]!.seq };
    const done = deferred();
    this.#unacked.add(done.promise);
    this.#settled.set(lane.key, done.promise);
    void done.promise.then(() => this.#unacked.delete(done.promise));
    let dropped = false;
    await emit({
      source: this.sourceId,
      partition: lane.key,
      ...range,
      bodies: messages.map((m) => m.body),
      logged: true,
      onLogged,
      isStale: () => (dropped = lane.revoked.signal.aborted),
      ack: async () => {
        try {
          await this.#commit(lane, range);
        } finally {
          done.resolve();
        }
      },
    }).catch((err: unknown) => {
      done.resolve();
      throw err;
    });
    if (dropped) {
      done.resolve();
      return;
    }
    await waitOrAbort(done.promise, AbortSignal.any([signal, lane.revoked.signal]));
  }

  /** Commits `range.lastSeq + 1` for the lane, unless the partition was revoked meanwhile. */
  async #commit(lane: Lane, range: SeqRange): Promise<void> {
    const obs = this.#opts.observer;
    const commit = lane.commit;
    if (lane.revoked.signal.aborted || !commit) {
      obs?.onAbandoned?.(lane.key, range);
      return;
    }
    const offset = range.lastSeq + 1;
    const started = performance.now();
    try {
      await pRetry(
        async () => {
          // Checked before every attempt: a retry must never commit for a partition we no longer own.
          if (lane.revoked.signal.aborted) throw new AbortError("partition revoked");
          await commit({
            topics: [
              { topic: lane.topic, partitions: [{ partition: lane.partition, offset: String(offset) }] },
            ],
          });
        },
        {
          retries: 3,
          minTimeout: 100,
          maxTimeout: 1000,
          shouldRetry: (e) => classifyKafkaError(e).kind === "transient",
        },
      );
    } catch (err) {
      const c = classifyKafkaError(err);
      if (lane.revoked.signal.aborted || c.kind === "rebalance") {
        obs?.onAbandoned?.(lane.key, range);
        return;
      }
      throw c.error;
    }
    lane.committed = offset;
    obs?.onCommit?.(
      lane.key,
      offset,
      (performance.now() - started) / 1000,
      lane.highWatermark === null ? null : Math.max(0, lane.highWatermark - offset),
    );
  }

  /** A new assignment (GROUP_JOIN): a new epoch of lanes; partitions paused by the last one resume. */
  #assign(assignment: Record<string, number[]>): void {
    const before = new Set(this.#lanes.keys());
    this.#revokeAll();
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) {
        const key = laneKey(topic, partition);
        before.delete(key);
        this.#lanes.set(key, {
          topic,
          partition,
          key,
          revoked: new AbortController(),
          queue: [],
          resume: null,
          pumping: null,
          commit: null,
          highWatermark: null,
          committed: null,
        });
      }
      if (partitions.length > 0) this.#consumer?.resume([{ topic, partitions }]);
    }
    this.#opts.observer?.onAssignment?.(this.ownedPartitions, [...before].sort());
  }

  /** Ends the current epoch: no lane of it emits or commits again. */
  #revokeAll(): void {
    for (const lane of this.#lanes.values()) lane.revoked.abort();
    this.#lanes = new Map();
  }

  #log(entry: LogEntry): void {
    const { message, ...fields } = entry.log;
    if (entry.level === logLevel.DEBUG) {
      // kafkajs announces KIP-219 client-side throttling only in this debug line.
      const m = /^Client side throttling in effect for (\d+)ms/.exec(message);
      if (m) this.#opts.observer?.onThrottle?.(Number(m[1]));
      return;
    }
    const level = entry.level === logLevel.ERROR ? "error" : entry.level === logLevel.WARN ? "warn" : "info";
    this.#opts.observer?.onLog?.(level, message, { namespace: entry.namespace, ...fields });
  }
}

function laneKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

function toMessage(m: KafkaMessage): Message {
  return { seq: Number(m.offset), body: m.value ?? EMPTY, timestamp: Number(m.timestamp) };
}

/**
 * Splits messages where offsets jump (transaction markers, compaction), so that within a batch the
 * offset of body i is `firstSeq + i`: dead letters record exactly that position.
 */
function contiguousRuns(messages: Message[]): Message[][] {
  const runs: Message[][] = [];
  for (const m of messages) {
    const run = runs[runs.length - 1];
    if (run && run[run.length - 1]!.seq + 1 === m.seq) run.push(m);
    else runs.push([m]);
  }
  return runs;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Waits for `p`, calling `heartbeat` every `intervalMs` meanwhile; a heartbeat error is thrown. */
async function heartbeatUntil(
  p: Promise<void>,
  heartbeat: () => Promise<void>,
  intervalMs: number,
): Promise<void> {
  let settled = false;
  void p.finally(() => (settled = true));
  while (!settled) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([p, new Promise((resolve) => (timer = setTimeout(resolve, intervalMs)))]);
    clearTimeout(timer);
    if (!settled) await heartbeat();
  }
}

/** Resolves when `p` does or `signal` aborts. */
async function waitOrAbort(p: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<void>((resolve) => {
    onAbort = () => resolve();
    signal.addEventListener("abort", onAbort);
  });
  await Promise.race([p, aborted]);
  signal.removeEventListener("abort", onAbort);
}

/** Waits for `p` (errors ignored) at most `ms`. */
async function withTimeout(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!p) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
