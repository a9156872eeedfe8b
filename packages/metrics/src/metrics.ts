/**
 * gatewatch's metrics: definitions, label caps and the one place deltas from workers are applied.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { MetricDeltas } from "@gatewatch/classify-pool";
import { LabelCap } from "./label-cap.js";
import { MetricNames } from "./names.js";
import { PreaggregatedHistogram } from "./preaggregated-histogram.js";

/** Options of {@link GatewatchMetrics}. */
export interface MetricsOptions {
  /**
   * Distinct values kept per gateway, listener and backend-pool label; the rest become `other`.
   * @default 50
   */
  readonly labelCap?: number;
  /** Upper bounds of the request-duration and backend-latency histograms, seconds. */
  readonly durationBuckets: readonly number[];
  /**
   * Also export Node.js process metrics (CPU, memory, event loop) with the `gatewatch_` prefix.
   * @default true
   */
  readonly processMetrics?: boolean;
}

export class GatewatchMetrics {
  readonly registry = new Registry();
  readonly #gateway: LabelCap;
  readonly #listener: LabelCap;
  readonly #backendPool: LabelCap;
  readonly #overflow: Counter<"label">;
  readonly #requests: Counter<"gateway" | "cause" | "origin" | "status_class">;
  readonly #firewall: Counter<"gateway" | "action">;
  readonly #records: Counter<"kind" | "outcome">;
  readonly #deadLetters: Counter<"reason">;
  readonly #duration: PreaggregatedHistogram;
  readonly #backendLatency: PreaggregatedHistogram;
  readonly #batchDuration: Histogram;
  readonly #insertDuration: Histogram<"table">;
  readonly #rowsWritten: Counter<"table">;
  readonly #insertRetries: Counter<"table" | "reason">;
  readonly #bytesWritten: Counter<"table">;
  readonly #lastWrite: Gauge;
  readonly #pendingRows: Gauge;
  readonly #inFlight: Gauge;
  readonly #poolQueue: Gauge;
  readonly #sourceEvents: Counter<"partition">;
  readonly #sourceBytes: Counter<"partition">;
  readonly #lagEvents: Gauge<"partition">;
  readonly #lagSeconds: Gauge<"partition">;
  readonly #owned: Gauge;
  readonly #receiveErrors: Counter<"kind">;
  readonly #commitDuration: Histogram;
  readonly #rebalances: Counter;
  readonly #throttle: Counter;
  readonly #alertsFiring: Gauge<"cause" | "severity">;
  readonly #alertNotifications: Counter<"target" | "outcome">;
  readonly #checkpointAt = new Map<string, number>();

  constructor(options: MetricsOptions) {
    const cap = options.labelCap ?? 50;
    const registers = [this.registry];
    this.#overflow = new Counter({
      name: MetricNames.labelOverflow,
      help: "Label values replaced by 'other' because the label reached its cap of distinct values.",
      labelNames: ["label"],
      registers,
    });
    const overflow = (label: string, n: number) => this.#overflow.inc({ label }, n);
    this.#gateway = new LabelCap("gateway", cap, overflow);
    this.#listener = new LabelCap("listener", cap, overflow);
    this.#backendPool = new LabelCap("backend_pool", cap, overflow);
    this.#requests = new Counter({
      name: MetricNames.requests,
      help: "Requests and L4 sessions by gateway and classified cause.",
      labelNames: ["gateway", "cause", "origin", "status_class"],
      registers,
    });
    this.#firewall = new Counter({
      name: MetricNames.firewallActions,
      help: "WAF rule evaluations by normalised action.",
      labelNames: ["gateway", "action"],
      registers,
    });
    this.#records = new Counter({
      name: MetricNames.records,
      help: "Records decoded, by kind and outcome (stored, dead_lettered, skipped).",
      labelNames: ["kind", "outcome"],
      registers,
    });
    this.#deadLetters = new Counter({
      name: MetricNames.deadLetters,
      help: "Bodies or records sent to the dead-letter table, by reason.",
      labelNames: ["reason"],
      registers,
    });
    this.#duration = new PreaggregatedHistogram(
      MetricNames.requestDuration,
      "Gateway request duration (timeTaken), seconds; internal traffic excluded.",
      ["gateway", "listener"],
      options.durationBuckets,
      this.registry,
    );
    this.#backendLatency = new PreaggregatedHistogram(
      MetricNames.backendLatency,
      "Backend response latency (serverResponseLatency), seconds.",
      ["gateway", "backend_pool"],
      options.durationBuckets,
      this.registry,
    );
    this.#batchDuration = new Histogram({
      name: MetricNames.batchDuration,
      help: "Time to classify one batch on the worker pool, seconds.",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.#insertDuration = new Histogram({
      name: MetricNames.insertDuration,
      help: "Time to insert one batch into a table, including retries, seconds.",
      labelNames: ["table"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#rowsWritten = new Counter({
      name: MetricNames.rowsWritten,
      help: "Rows acknowledged by ClickHouse.",
      labelNames: ["table"],
      registers,
    });
    this.#insertRetries = new Counter({
      name: MetricNames.insertRetries,
      help: "Insert attempts that failed with a retriable error and were retried, by table and reason (error code).",
      labelNames: ["table", "reason"],
      registers,
    });
    this.#bytesWritten = new Counter({
      name: MetricNames.bytesWritten,
      help: "Bytes of encoded rows acknowledged by ClickHouse.",
      labelNames: ["table"],
      registers,
    });
    this.#lastWrite = new Gauge({
      name: MetricNames.lastWrite,
      help: "Unix time of the last insert ClickHouse acknowledged (alert on its age).",
      registers,
    });
    this.#pendingRows = new Gauge({
      name: MetricNames.pendingRows,
      help: "Records classified and not yet stored (held by batches in flight).",
      registers,
    });
    this.#inFlight = new Gauge({
      name: MetricNames.batchesInFlight,
      help: "Batches admitted and not yet stored.",
      registers,
    });
    this.#poolQueue = new Gauge({
      name: MetricNames.poolQueueDepth,
      help: "Batches waiting for a classifier worker.",
      registers,
    });
    this.#sourceEvents = new Counter({
      name: MetricNames.sourceEvents,
      help: "Events received, by partition.",
      labelNames: ["partition"],
      registers,
    });
    this.#sourceBytes = new Counter({
      name: MetricNames.sourceBytes,
      help: "Event body bytes received, by partition.",
      labelNames: ["partition"],
      registers,
    });
    this.#lagEvents = new Gauge({
      name: MetricNames.sourceLagEvents,
      help: "Consumer lag by partition, events: Event Hubs, enqueued after the last one received; Kafka, high watermark minus committed offset.",
      labelNames: ["partition"],
      registers,
    });
    this.#lagSeconds = new Gauge({
      name: MetricNames.sourceLagSeconds,
      help: "Age of the last event received when it was received, seconds (how far behind the consumer is).",
      labelNames: ["partition"],
      registers,
    });
    const checkpointAt = this.#checkpointAt;
    new Gauge({
      name: MetricNames.checkpointAge,
      help: "Seconds since the partition's checkpoint last advanced.",
      labelNames: ["partition"],
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        for (const [partition, at] of checkpointAt) this.set({ partition }, (now - at) / 1000);
      },
    });
    this.#owned = new Gauge({
      name: MetricNames.ownedPartitions,
      help: "Partitions this replica owns.",
      registers,
    });
    this.#receiveErrors = new Counter({
      name: MetricNames.receiveErrors,
      help: "Receive errors by kind (configuration, ownership, transient, checkpoint, other).",
      labelNames: ["kind"],
      registers,
    });
    this.#commitDuration = new Histogram({
      name: MetricNames.commitDuration,
      help: "Time to write a checkpoint or commit offsets, seconds.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#rebalances = new Counter({
      name: MetricNames.rebalances,
      help: "Consumer-group rebalances this replica took part in (Kafka).",
      registers,
    });
    this.#throttle = new Counter({
      name: MetricNames.throttle,
      help: "Time the broker asked the client to hold back (throttle_time_ms), seconds. Event Hubs' Kafka endpoint signals throttling only through this.",
      registers,
    });
    this.#alertsFiring = new Gauge({
      name: MetricNames.alertsFiring,
      help: "Cause-spike alerts firing now (in-service detector), by cause and severity.",
      labelNames: ["cause", "severity"],
      registers,
    });
    this.#alertNotifications = new Counter({
      name: MetricNames.alertNotifications,
      help: "Alert notifications by target (alertmanager, webhook, history) and outcome (sent, failed after retries).",
      labelNames: ["target", "outcome"],
      registers,
    });
    if (options.processMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, prefix: "gatewatch_" });
  }

  /** Applies one batch's deltas. Work is proportional to distinct label sets, not records. */
  applyDeltas(d: MetricDeltas): void {
    for (const [gateway, cause, origin, statusClass, n] of d.requests) {
      this.#requests.inc(
        { gateway: this.#gateway.apply(gateway, n), cause, origin, status_class: statusClass },
        n,
      );
    }
    for (const h of d.duration) {
      const [gateway = "", listener = ""] = h.labels;
      this.#duration.add(
        [this.#gateway.apply(gateway, h.count), this.#listener.apply(listener, h.count)],
        h.buckets,
        h.sum,
        h.count,
      );
    }
    for (const h of d.backendLatency) {
      const [gateway = "", pool = ""] = h.labels;
      this.#backendLatency.add(
        [this.#gateway.apply(gateway, h.count), this.#backendPool.apply(pool, h.count)],
        h.buckets,
        h.sum,
        h.count,
      );
    }
    for (const [gateway, action, n] of d.firewall)
      this.#firewall.inc({ gateway: this.#gateway.apply(gateway, n), action }, n);
    for (const [kind, outcome, n] of d.records) this.#records.inc({ kind, outcome }, n);
    for (const [reason, n] of d.deadLetters) this.#deadLetters.inc({ reason }, n);
  }

  observeBatch(seconds: number): void {
    this.#batchDuration.observe(seconds);
  }

  observeInsert(table: string, rows: number, seconds: number, bytes = 0): void {
    this.#insertDuration.observe({ table }, seconds);
    this.#rowsWritten.inc({ table }, rows);
    this.#bytesWritten.inc({ table }, bytes);
    this.#lastWrite.set(Date.now() / 1000);
  }

  /** A retried insert; `reason` is the error's code (a bounded set). */
  countRetry(table: string, reason = "unknown"): void {
    this.#insertRetries.inc({ table, reason });
  }

  /** Records classified and not yet stored goes up (classified) or down (stored). */
  addPendingRows(n: number): void {
    this.#pendingRows.inc(n);
  }

  /** Rows ClickHouse refused for their content, written to the dead-letter table instead. */
  countRejectedRows(rows: number): void {
    // The writer's dead-letter reason (store-clickhouse STORE_REJECTED_REASON).
    this.#deadLetters.inc({ reason: "store_rejected" }, rows);
  }

  setQueues(inFlight: number, poolQueue: number): void {
    this.#inFlight.set(inFlight);
    this.#poolQueue.set(poolQueue);
  }

  /** A delivery from a partitioned source (partition labels are bounded by the hub's partition count). */
  observeSourceEvents(
    partition: string,
    events: number,
    bytes: number,
    lagEvents: number | null,
    lagSeconds: number | null,
  ): void {
    this.#sourceEvents.inc({ partition }, events);
    this.#sourceBytes.inc({ partition }, bytes);
    if (lagEvents !== null) this.#lagEvents.set({ partition }, lagEvents);
    if (lagSeconds !== null) this.#lagSeconds.set({ partition }, lagSeconds);
  }

  /** Consumer lag of `partition`, events. */
  setSourceLag(partition: string, lagEvents: number): void {
    this.#lagEvents.set({ partition }, lagEvents);
  }

  /** A checkpoint (or offset commit) of `partition` that took `seconds`, when measured. */
  observeCheckpoint(partition: string, seconds?: number): void {
    this.#checkpointAt.set(partition, Date.now());
    if (seconds !== undefined) this.#commitDuration.observe(seconds);
  }

  /** Drops the per-partition series of a partition this replica no longer owns. */
  forgetPartition(partition: string): void {
    this.#checkpointAt.delete(partition);
    this.#lagEvents.remove({ partition });
    this.#lagSeconds.remove({ partition });
  }

  /** Replaces the firing-alert gauge with `alerts` (one per firing alert). */
  setAlertsFiring(alerts: readonly { cause: string; severity: string }[]): void {
    this.#alertsFiring.reset();
    for (const a of alerts) this.#alertsFiring.inc({ cause: a.cause, severity: a.severity });
  }

  countAlertNotification(target: string, outcome: "sent" | "failed"): void {
    this.#alertNotifications.inc({ target, outcome });
  }

  countRebalance(): void {
    this.#rebalances.inc();
  }

  addThrottle(seconds: number): void {
    this.#throttle.inc(seconds);
  }

  setOwnedPartitions(n: number): void {
    this.#owned.set(n);
  }

  countReceiveError(kind: string): void {
    this.#receiveErrors.inc({ kind });
  }

  /** Prometheus text exposition. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
