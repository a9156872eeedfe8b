/**
 * Event Hubs source (AMQP, `@azure/event-hubs`). Reads every partition of one hub for one consumer
 * group, sharing partitions with other replicas through the blob checkpoint store (ownership and
 * checkpoints). Emits each `processEvents` delivery as one batch of raw bodies
 * (`skipParsingBodyAsJson`: decoding happens in the classifier workers) and does not return from
 * `processEvents` until the engine acknowledges the batch, i.e. until its rows are durably stored;
 * the acknowledgement writes the checkpoint. So per partition exactly one batch is in flight, and the
 * checkpoint never passes a row ClickHouse has not acknowledged.
 *
 * Exactly-once across crashes: batches are `logged` (their range is recorded before their rows are
 * written). When a partition is (re)opened, the last logged range of that partition is looked up;
 * events before it are known to be stored and are skipped, and the logged range itself is cut again
 * exactly, so its rows carry the same deduplication token as the interrupted attempt.
 */
import {
  EventHubConsumerClient,
  RetryMode,
  earliestEventPosition,
  latestEventPosition,
  type CheckpointStore,
  type EventPosition,
  type PartitionContext,
  type ReceivedEventData,
  type Subscription,
  type TokenCredential,
} from "@azure/event-hubs";
import { BlobCheckpointStore } from "@azure/eventhubs-checkpointstore-blob";
import pRetry from "p-retry";
import { ContainerClient } from "@azure/storage-blob";
import type { GatewatchError } from "@gatewatch/pipeline";
import { BatchResume, type BatchHandler, type Source } from "@gatewatch/pipeline";
import { classifyEventHubsError, type ReceiveErrorKind } from "./errors.js";

/** Where to start in a partition that has no checkpoint. */
export type StartPosition = "latest" | "earliest" | Date;

/** How to reach the hub: a connection string, or a namespace with a Microsoft Entra ID credential. */
export type EventHubsConnection =
  | { readonly connectionString: string; readonly eventHubName?: string }
  | {
      readonly fullyQualifiedNamespace: string;
      readonly eventHubName: string;
      readonly credential: TokenCredential;
    };

/** Where checkpoints and ownership live. */
export type CheckpointLocation =
  | { readonly connectionString: string; readonly container: string }
  | { readonly accountUrl: string; readonly container: string; readonly credential: TokenCredential };

/** Observer for metrics and logs. */
export interface EventHubsObserver {
  onEvents?(
    partition: string,
    events: number,
    bytes: number,
    lastSeq: number,
    lagEvents: number | null,
    lagSeconds: number | null,
  ): void;
  onCheckpoint?(partition: string, seq: number): void;
  onOwnership?(partition: string, owned: boolean, reason?: string): void;
  onReceiveError?(kind: ReceiveErrorKind, partition: string | undefined, error: Error): void;
  onResume?(partition: string, range: { firstSeq: number; lastSeq: number }): void;
}

/** Options of {@link EventHubsSource}. */
export interface EventHubsSourceOptions {
  readonly connection: EventHubsConnection;
  /** @default "$Default" */
  readonly consumerGroup?: string;
  readonly checkpoint: CheckpointLocation;
  /** @default "latest" */
  readonly start?: StartPosition;
  /** @default "balanced" */
  readonly strategy?: "balanced" | "greedy";
  /** @default 10000 */
  readonly updateIntervalMs?: number;
  /** @default 60000 */
  readonly ownershipExpirationMs?: number;
  /** Events per delivery. @default 500 */
  readonly maxBatchSize?: number;
  /** Longest wait for a delivery to fill, seconds. @default 1 */
  readonly maxWaitTimeInSeconds?: number;
  /** Looks up the last logged batch range of a partition (the store's batch log). */
  readonly lastLoggedBatch: (
    source: string,
    partition: string,
  ) => Promise<{ firstSeq: number; lastSeq: number } | null>;
  readonly observer?: EventHubsObserver;
  /**
   * On stop, how long to wait for batches already handed to the engine to be stored and
   * checkpointed before the client closes (a checkpoint needs the open client).
   * @default 30000
   */
  readonly drainTimeoutMs?: number;
}

interface PartitionState {
  /** Null until the batch log has been read for this partition. */
  resume: BatchResume<ReceivedEventData> | null;
}

export class EventHubsSource implements Source {
  readonly name = "eventhubs";
  readonly #opts: EventHubsSourceOptions;
  readonly #owned = new Set<string>();
  readonly #partitions = new Map<string, PartitionState>();
  #sourceId = "eventhubs";
  /** Batches emitted and not yet acknowledged (resolve on ack). */
  readonly #unacked = new Set<Promise<void>>();

  constructor(options: EventHubsSourceOptions) {
    this.#opts = options;
  }

  /** Partitions this replica currently owns. */
  get ownedPartitions(): readonly string[] {
    return [...this.#owned].sort();
  }

  async run(emit: BatchHandler, signal: AbortSignal): Promise<void> {
    const consumerGroup = this.#opts.consumerGroup ?? EventHubConsumerClient.defaultConsumerGroupName;
    const checkpointStore = await this.#checkpointStore();
    const client = this.#client(consumerGroup, checkpointStore);
    let fatal: GatewatchError | undefined;
    let failFast: (e: GatewatchError) => void = () => undefined;
    const failed = new Promise<void>((resolve) => {
      failFast = (e) => {
        fatal ??= e;
        resolve();
      };
    });
    let subscription: Subscription | undefined;
    try {
      // Fails fast on bad credentials or an unknown hub, before any partition is claimed.
      const props = await client.getEventHubProperties({ abortSignal: signal }).catch((err: unknown) => {
        throw classifyEventHubsError(err).asFatal("reading the event hub's properties");
      });
      this.#sourceId = `eventhubs:${client.fullyQualifiedNamespace}/${props.name}/${consumerGroup}`;
      subscription = client.subscribe(
        {
          processInitialize: (ctx) => {
            this.#owned.add(ctx.partitionId);
            this.#partitions.set(ctx.partitionId, { resume: null });
            this.#opts.observer?.onOwnership?.(ctx.partitionId, true);
            return Promise.resolve();
          },
          processClose: (reason, ctx) => {
            this.#owned.delete(ctx.partitionId);
            this.#partitions.delete(ctx.partitionId);
            this.#opts.observer?.onOwnership?.(ctx.partitionId, false, reason);
            return Promise.resolve();
          },
          processEvents: (events, ctx) => this.#onEvents(events, ctx, emit, signal),
          processError: (err, ctx) => {
            const classified = classifyEventHubsError(err);
            this.#opts.observer?.onReceiveError?.(
              classified.kind,
              ctx.partitionId || undefined,
              classified.error,
            );
            if (classified.kind === "configuration") failFast(classified.asFatal("receiving events"));
            return Promise.resolve();
          },
        },
        {
          skipParsingBodyAsJson: true,
          trackLastEnqueuedEventProperties: true,
          maxBatchSize: this.#opts.maxBatchSize ?? 500,
          // The SDK tops up AMQP credit by this much per receive call (default 3 × batch); smaller
          // top-ups mean less is buffered in the client while the pipeline is blocked.
          prefetchCount: (this.#opts.maxBatchSize ?? 500) * 2,
          maxWaitTimeInSeconds: this.#opts.maxWaitTimeInSeconds ?? 1,
          startPosition: this.#startPosition(),
        },
      );
      const aborted = new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener("abort", () => resolve(), { once: true });
      });
      await Promise.race([aborted, failed]);
      // Checkpoints need the open client: let batches already handed over finish first.
      if (!fatal)
        await withTimeout(Promise.allSettled([...this.#unacked]), this.#opts.drainTimeoutMs ?? 30_000);
    } finally {
      // A connection dropping while the SDK closes its links can leave close() pending for good
      // (seen with rhea-promise); the process must still shut down.
      await withTimeout(subscription?.close(), CLOSE_TIMEOUT_MS);
      await withTimeout(client.close(), CLOSE_TIMEOUT_MS);
      this.#owned.clear();
    }
    if (fatal) throw fatal;
  }

  async #onEvents(
    events: ReceivedEventData[],
    ctx: PartitionContext,
    emit: BatchHandler,
    signal: AbortSignal,
  ): Promise<void> {
    if (events.length === 0 || signal.aborted) return;
    let state = this.#partitions.get(ctx.partitionId);
    if (!state) {
      state = { resume: null };
      this.#partitions.set(ctx.partitionId, state);
    }
    if (!state.resume) {
      // Nothing of this partition may be written before we know where the last stop left off;
      // while the store is unreachable the partition waits here (and the client stops pulling).
      const range = await pRetry(() => this.#opts.lastLoggedBatch(this.#sourceId, ctx.partitionId), {
        forever: true,
        retries: 16,
        minTimeout: 200,
        maxTimeout: 5000,
        randomize: true,
        signal,
        onFailedAttempt: (e) => this.#opts.observer?.onReceiveError?.("transient", ctx.partitionId, e),
      });
      state.resume = new BatchResume(range, (e) => e.sequenceNumber);
    }
    const range = state.resume.range;
    const { recut, rest } = state.resume.take(events);
    // A batch still waiting for admission when the partition is closed (another replica took it)
    // is dropped: the new owner reads it again, and only one of them writes it.
    const current = state;
    const stale = () => this.#partitions.get(ctx.partitionId) !== current;
    if (recut) {
      this.#opts.observer?.onResume?.(ctx.partitionId, range!);
      await this.#emitBatch(recut, ctx, emit, signal, stale);
    }
    if (rest.length > 0 && !stale()) await this.#emitBatch(rest, ctx, emit, signal, stale);
  }

  /** Emits one batch and waits until it is stored and checkpointed (or the source stops). */
  async #emitBatch(
    events: ReceivedEventData[],
    ctx: PartitionContext,
    emit: BatchHandler,
    signal: AbortSignal,
    stale: () => boolean,
  ): Promise<void> {
    const bodies = events.map((e) => toBytes(e.body));
    const first = events[0]!;
    const last = events[events.length - 1]!;
    const info = ctx.lastEnqueuedEventProperties;
    const lagEvents =
      info?.sequenceNumber === undefined ? null : Math.max(0, info.sequenceNumber - last.sequenceNumber);
    const lagSeconds = last.enqueuedTimeUtc
      ? Math.max(0, (Date.now() - last.enqueuedTimeUtc.getTime()) / 1000)
      : null;
    this.#opts.observer?.onEvents?.(
      ctx.partitionId,
      events.length,
      bodies.reduce((n, b) => n + b.byteLength, 0),
      last.sequenceNumber,
      lagEvents,
      lagSeconds,
    );
    let stored: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (stored = resolve));
    this.#unacked.add(done);
    void done.then(() => this.#unacked.delete(done));
    let dropped = false;
    await emit({
      source: this.#sourceId,
      partition: ctx.partitionId,
      firstSeq: first.sequenceNumber,
      lastSeq: last.sequenceNumber,
      bodies,
      logged: true,
      isStale: () => (dropped = stale()),
      ack: async () => {
        try {
          await ctx.updateCheckpoint(last);
          this.#opts.observer?.onCheckpoint?.(ctx.partitionId, last.sequenceNumber);
        } finally {
          stored();
        }
      },
    }).catch((err: unknown) => {
      stored(); // refused (the pipeline stopped): nothing of it is in flight
      throw err;
    });
    if (dropped) {
      stored();
      return;
    }
    // Backpressure: the next delivery of this partition waits for this batch's rows.
    await Promise.race([
      done,
      new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true })),
    ]);
  }

  #startPosition(): EventPosition {
    const start = this.#opts.start ?? "latest";
    if (start === "latest") return latestEventPosition;
    if (start === "earliest") return earliestEventPosition;
    return { enqueuedOn: start };
  }

  async #checkpointStore(): Promise<CheckpointStore> {
    const loc = this.#opts.checkpoint;
    const container =
      "connectionString" in loc
        ? new ContainerClient(loc.connectionString, loc.container)
        : new ContainerClient(`${loc.accountUrl.replace(/\/+$/, "")}/${loc.container}`, loc.credential);
    try {
      await container.createIfNotExists();
    } catch (err) {
      throw classifyEventHubsError(err).asFatal(`creating the checkpoint container "${loc.container}"`);
    }
    return new BlobCheckpointStore(container);
  }

  #client(consumerGroup: string, store: CheckpointStore): EventHubConsumerClient {
    const c = this.#opts.connection;
    const options = {
      // The SDK's default is a fixed 30 s pause before re-attaching a dropped link: one blip
      // would stall a partition for half a minute.
      retryOptions: {
        mode: RetryMode.Exponential,
        retryDelayInMs: 500,
        maxRetryDelayInMs: 30_000,
        maxRetries: 8,
      },
      loadBalancingOptions: {
        strategy: this.#opts.strategy ?? "balanced",
        updateIntervalInMs: this.#opts.updateIntervalMs ?? 10_000,
        partitionOwnershipExpirationIntervalInMs: this.#opts.ownershipExpirationMs ?? 60_000,
      },
    };
    if ("connectionString" in c) {
      return c.eventHubName
        ? new EventHubConsumerClient(consumerGroup, c.connectionString, c.eventHubName, store, options)
        : new EventHubConsumerClient(consumerGroup, c.connectionString, store, options);
    }
    return new EventHubConsumerClient(
      consumerGroup,
      c.fullyQualifiedNamespace,
      c.eventHubName,
      c.credential,
      store,
      options,
    );
  }
}

const CLOSE_TIMEOUT_MS = 10_000;

/** Waits for `p` (errors ignored) at most `ms`. */
async function withTimeout(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!p) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function toBytes(body: unknown): Uint8Array {
  if (body instanceof Uint8Array) return body;
  if (typeof body === "string") return new TextEncoder().encode(body);
  if (body === undefined || body === null) return new Uint8Array(0);
  // Not raw bytes (a producer sent an AMQP value): keep its JSON so it can still be decoded or dead-lettered.
  return new TextEncoder().encode(JSON.stringify(body));
}
