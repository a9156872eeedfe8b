/**
 * The Event Hubs Kafka endpoint preset: from an Event Hubs connection string (and hub name) derive
 * the broker address, TLS, SASL PLAIN with `$ConnectionString`, and the client settings Microsoft
 * recommends for Kafka clients of Event Hubs.
 * See https://learn.microsoft.com/azure/event-hubs/apache-kafka-configurations.
 */

/** Client tuning a preset may set (kafkajs consumer and client options). */
export interface KafkaTuning {
  /** Consumer session timeout, ms. */
  readonly sessionTimeout?: number;
  /** Heartbeat interval, ms (about a third of the session timeout). */
  readonly heartbeatInterval?: number;
  /** Rebalance timeout, ms. */
  readonly rebalanceTimeout?: number;
  /** Metadata refresh interval, ms. */
  readonly metadataMaxAge?: number;
  /** Request timeout, ms. */
  readonly requestTimeout?: number;
  /** Connection timeout, ms. */
  readonly connectionTimeout?: number;
  /** Longest a fetch waits on the broker for data, ms. */
  readonly maxWaitTimeInMs?: number;
}

/** What the preset derives. */
export interface EventHubsKafkaSettings {
  readonly brokers: string[];
  readonly topics: string[];
  readonly ssl: true;
  readonly sasl: { readonly mechanism: "plain"; readonly username: string; readonly password: string };
  readonly tuning: KafkaTuning;
}

/**
 * Azure closes connections idle for 240 s. kafkajs has no idle-connection limit of its own, so every
 * connection must be used more often than that: metadata is refreshed every 180 s (the broker
 * connections), the group coordinator gets a heartbeat every 3 s, and fetches long-poll for at most
 * 5 s. Event Hubs caps the session timeout at 30 s and recommends request timeouts of 60 s. Compression:
 * Event Hubs accepts only gzip (and none), which kafkajs decodes natively.
 */
export const EVENT_HUBS_KAFKA_TUNING: KafkaTuning = {
  sessionTimeout: 30_000,
  heartbeatInterval: 3_000,
  rebalanceTimeout: 60_000,
  metadataMaxAge: 180_000,
  requestTimeout: 60_000,
  connectionTimeout: 10_000,
  maxWaitTimeInMs: 5_000,
};

/**
 * Derives the Kafka client settings for an Event Hubs namespace.
 * @param connectionString a namespace or hub connection string (`Endpoint=sb://<ns>.servicebus.windows.net/;...`)
 * @param eventHubName the hub (Kafka topic); optional when the connection string has `EntityPath`
 * @throws Error naming what is missing
 */
export function eventHubsKafkaSettings(
  connectionString: string,
  eventHubName?: string,
): EventHubsKafkaSettings {
  const parts = new Map<string, string>();
  for (const part of connectionString.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) parts.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const endpoint = parts.get("endpoint");
  if (!endpoint) throw new Error("the Event Hubs connection string has no Endpoint=sb://<namespace>/");
  let host: string;
  let port: string;
  try {
    const url = new URL(endpoint);
    host = url.hostname;
    port = url.port;
  } catch {
    throw new Error("the Event Hubs connection string's Endpoint is not a URL (Endpoint=sb://<namespace>/)");
  }
  const hub = eventHubName ?? parts.get("entitypath");
  if (!hub)
    throw new Error("the Event Hubs Kafka preset needs the hub name (GATEWATCH_EVENTHUB_NAME or EntityPath)");
  return {
    // An explicit port only appears when pointing at a stand-in (tests); Azure listens on 9093.
    brokers: [`${host}:${port || "9093"}`],
    topics: [hub],
    ssl: true,
    // Event Hubs authenticates Kafka clients with the whole connection string as the password.
    sasl: { mechanism: "plain", username: "$ConnectionString", password: connectionString },
    tuning: EVENT_HUBS_KAFKA_TUNING,
  };
}
