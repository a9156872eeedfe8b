/**
 * Builds the configured input of `gatewatch run`. The only place that knows every source adapter.
 */
import { DefaultAzureCredential } from "@azure/identity";
import type { Logger } from "pino";
import type { GatewatchMetrics } from "@gatewatch/metrics";
import type { Source } from "@gatewatch/pipeline";
import { DemoSource } from "@gatewatch/source-demo";
import { EventHubsSource } from "@gatewatch/source-eventhubs";
import type { ClickHouseStore } from "@gatewatch/store-clickhouse";
import type { Config } from "./config.js";

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
