/**
 * Builds the configured input of `gatewatch run`. The only place that knows every source adapter.
 */
import { DefaultAzureCredential } from "@azure/identity";
import type { Logger } from "pino";
import type { GatewatchMetrics } from "@gatewatch/metrics";
import { GatewatchError, type Source } from "@gatewatch/pipeline";
import { DemoSource } from "@gatewatch/source-demo";
import { EventHubsSource } from "@gatewatch/source-eventhubs";
import { KafkaSource, eventHubsKafkaSettings, type KafkaSourceOptions } from "@gatewatch/source-kafka";
import type { ClickHouseStore } from "@gatewatch/store-clickhouse";
import { readSettingFile, type Config } from "./config.js";

/** A source, and the partitions it owns when it shares them with other replicas. */
export type RunSource = Source & { readonly ownedPartitions?: readonly string[] };

export function createSource(
  config: Config,
  store: ClickHouseStore,
  metrics: GatewatchMetrics,
  log: Logger,
): RunSource {
  if (config.source === "demo") {
    return new DemoSource({
      seed: config.demoSeed,
      ratePerSecond: config.demoRate,
      incidentPeriodSeconds: config.demoIncidentPeriodSeconds,
      incidentDurationSeconds: config.demoIncidentDurationSeconds,
      limits: {
        maxBodies: config.batchMaxBodies,
        maxBytes: config.batchMaxBytes,
        maxWaitMs: config.batchMaxWaitMs,
      },
    });
  }
  if (config.source === "kafka") return createKafkaSource(config, store, metrics, log);
  // One credential for the hub and the storage account when Microsoft Entra ID is used.
  let credential: DefaultAzureCredential | undefined;
  const entra = () => (credential ??= new DefaultAzureCredential());
  const source: EventHubsSource = new EventHubsSource({
    connection: config.eventhubConnectionString
      ? {
          connectionString: config.eventhubConnectionString,
          ...(config.eventhubName ? { eventHubName: config.eventhubName } : {}),
        }
      : {
          fullyQualifiedNamespace: config.eventhubNamespace!,
          eventHubName: config.eventhubName!,
          credential: entra(),
        },
    consumerGroup: config.eventhubConsumerGroup,
    checkpoint: config.checkpointConnectionString
      ? { connectionString: config.checkpointConnectionString, container: config.checkpointContainer }
      : {
          accountUrl: config.checkpointAccountUrl!,
          container: config.checkpointContainer,
          credential: entra(),
        },
    start: config.eventhubStart,
    strategy: config.eventhubLoadBalancing,
    updateIntervalMs: config.eventhubUpdateIntervalMs,
    ownershipExpirationMs: config.eventhubOwnershipExpirationMs,
    maxBatchSize: config.batchMaxBodies,
    maxWaitTimeInSeconds: Math.max(1, Math.round(config.batchMaxWaitMs / 1000)),
    lastLoggedBatch: (src, partition) => store.lastLoggedBatch(src, partition),
    drainTimeoutMs: config.shutdownTimeoutSeconds * 1000,
    observer: {
      onEvents: (partition, events, bytes, _lastSeq, lagEvents, lagSeconds) =>
        metrics.observeSourceEvents(partition, events, bytes, lagEvents, lagSeconds),
      onCheckpoint: (partition) => metrics.observeCheckpoint(partition),
      onOwnership: (partition, owned, reason) => {
        metrics.setOwnedPartitions(source.ownedPartitions.length);
        log.info({ partition, owned, reason }, owned ? "partition claimed" : "partition released");
      },
      onReceiveError: (kind, partition, error) => {
        metrics.countReceiveError(kind);
        const level = kind === "ownership" || kind === "transient" ? "warn" : "error";
        log[level]({ kind, partition, err: error.message }, "event hubs receive error");
      },
      onResume: (partition, range) =>
        log.info({ partition, ...range }, "re-cutting the batch interrupted by the last stop"),
    },
  });
  return source;
}

function createKafkaSource(
  config: Config,
  store: ClickHouseStore,
  metrics: GatewatchMetrics,
  log: Logger,
): KafkaSource {
  const ca = readSettingFile(config.kafkaCaFile, "GATEWATCH_KAFKA_CA_FILE");
  const cert = readSettingFile(config.kafkaCertFile, "GATEWATCH_KAFKA_CERT_FILE");
  const key = readSettingFile(config.kafkaKeyFile, "GATEWATCH_KAFKA_KEY_FILE");
  const tlsFiles =
    ca || cert ? { ...(ca ? { ca: [ca] } : {}), ...(cert && key ? { cert, key } : {}) } : undefined;
  let connection: Pick<KafkaSourceOptions, "brokers" | "topics" | "ssl" | "sasl" | "tuning">;
  if (config.kafkaPreset === "eventhubs") {
    let preset;
    try {
      preset = eventHubsKafkaSettings(config.eventhubConnectionString!, config.eventhubName);
    } catch (err) {
      throw new GatewatchError(
        "config_invalid",
        `GATEWATCH_KAFKA_PRESET=eventhubs: ${(err as Error).message}`,
      );
    }
    connection = { ...preset, ssl: tlsFiles ?? true };
  } else {
    connection = {
      brokers: config.kafkaBrokers!,
      topics: config.kafkaTopics!,
      ssl: config.kafkaTls ? (tlsFiles ?? true) : false,
      ...(config.kafkaSaslMechanism
        ? {
            sasl: {
              mechanism: config.kafkaSaslMechanism,
              username: config.kafkaUsername!,
              password: config.kafkaPassword!,
            },
          }
        : {}),
    };
  }
  const tuning = {
    ...connection.tuning,
    sessionTimeout: config.kafkaSessionTimeoutMs,
    heartbeatInterval: Math.max(100, Math.min(3000, Math.floor(config.kafkaSessionTimeoutMs / 3))),
  };
  const source: KafkaSource = new KafkaSource({
    ...connection,
    tuning,
    groupId: config.kafkaGroup,
    start: config.kafkaStart,
    limits: { maxBodies: config.batchMaxBodies, maxBytes: config.batchMaxBytes },
    lastLoggedBatch: (src, partition) => store.lastLoggedBatch(src, partition),
    drainTimeoutMs: config.shutdownTimeoutSeconds * 1000,
    observer: {
      onMessages: (partition, messages, bytes, lagEvents, lagSeconds) =>
        metrics.observeSourceEvents(partition, messages, bytes, lagEvents, lagSeconds),
      onCommit: (partition, _offset, seconds, lagEvents) => {
        metrics.observeCheckpoint(partition, seconds);
        if (lagEvents !== null) metrics.setSourceLag(partition, lagEvents);
      },
      onAbandoned: (partition, range) =>
        log.info(
          { partition, ...range },
          "partition revoked before commit: its new owner re-reads the batch",
        ),
      onAssignment: (partitions, revoked) => {
        metrics.countRebalance();
        metrics.setOwnedPartitions(partitions.length);
        for (const p of revoked) metrics.forgetPartition(p);
        log.info({ partitions, revoked }, "kafka partitions assigned");
      },
      onThrottle: (ms) => metrics.addThrottle(ms / 1000),
      onError: (kind, partition, error) => {
        metrics.countReceiveError(kind);
        const level = kind === "rebalance" || kind === "transient" ? "warn" : "error";
        log[level]({ kind, partition, err: error.message }, "kafka error");
      },
      onResume: (partition, range) =>
        log.info({ partition, ...range }, "re-cutting the batch interrupted by the last stop"),
      onLog: (level, message, fields) => log[level]({ kafkajs: fields }, `kafkajs: ${message}`),
    },
  });
  return source;
}
