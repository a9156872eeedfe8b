import { GatewatchError } from "@gatewatch/pipeline";

/** Kafka error kinds: a bounded label set for metrics (shared with the Event Hubs source's kinds). */
export type KafkaErrorKind = "configuration" | "rebalance" | "transient" | "checkpoint" | "other";

/** Broker error types that mean the settings are wrong: retrying will not help. */
const CONFIGURATION_TYPES = new Set([
  "SASL_AUTHENTICATION_FAILED",
  "UNSUPPORTED_SASL_MECHANISM",
  "ILLEGAL_SASL_STATE",
  "TOPIC_AUTHORIZATION_FAILED",
  "GROUP_AUTHORIZATION_FAILED",
  "CLUSTER_AUTHORIZATION_FAILED",
  "UNKNOWN_TOPIC_OR_PARTITION",
  "INVALID_GROUP_ID",
  "INVALID_SESSION_TIMEOUT",
  "INVALID_TOPIC_EXCEPTION",
  "UNSUPPORTED_VERSION",
]);
/** Group-membership errors: the partition moved; the consumer rejoins by itself. */
const REBALANCE_TYPES = new Set([
  "REBALANCE_IN_PROGRESS",
  "ILLEGAL_GENERATION",
  "UNKNOWN_MEMBER_ID",
  "FENCED_INSTANCE_ID",
  "NOT_COORDINATOR",
  "COORDINATOR_NOT_AVAILABLE",
  "COORDINATOR_LOAD_IN_PROGRESS",
]);
/** TLS failures that a retry will not fix (untrusted or mismatched certificates). */
const TLS_CODES =
  /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|EPROTO|DEPTH_ZERO|HOSTNAME|ALTNAME|wrong version number/i;

/** What an error from kafkajs means for gatewatch. */
export interface ClassifiedKafkaError {
  readonly kind: KafkaErrorKind;
  readonly error: Error;
  /** The error as a fatal GatewatchError (`kafka_config` for configuration errors, else `kafka_error`). */
  asFatal(doing: string): GatewatchError;
}

/** The innermost error of kafkajs' retry wrappers (`KafkaJSNumberOfRetriesExceeded` keeps it as `cause`). */
function innermost(error: Error): Error {
  let e = error;
  for (let i = 0; i < 5 && e.cause instanceof Error; i++) e = e.cause;
  return e;
}

/**
 * Sorts a kafkajs error by kind: configuration errors (bad credentials, missing topic, untrusted
 * certificate) must stop the service; rebalance errors are normal when consumers come and go;
 * transient ones (connections, timeouts, leadership moves) are retried by kafkajs and only counted.
 */
export function classifyKafkaError(err: unknown): ClassifiedKafkaError {
  const error = err instanceof Error ? err : new Error(String(err));
  const inner = innermost(error);
  const e = inner as Error & { type?: unknown; code?: unknown; retriable?: unknown };
  const type = typeof e.type === "string" ? e.type : "";
  const code = typeof e.code === "string" ? e.code : "";
  let kind: KafkaErrorKind;
  if (
    CONFIGURATION_TYPES.has(type) ||
    e.name === "KafkaJSSASLAuthenticationError" ||
    e.name === "KafkaJSServerDoesNotSupportApiKey" ||
    TLS_CODES.test(`${code} ${inner.message}`)
  ) {
    kind = "configuration";
  } else if (REBALANCE_TYPES.has(type) || /rebalanc/i.test(inner.message)) {
    kind = "rebalance";
  } else if (
    e.retriable === true ||
    /Connection|Timeout|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT/i.test(`${e.name} ${code} ${inner.message}`)
  ) {
    kind = "transient";
  } else {
    kind = "other";
  }
  const what = `${type || code ? `${type || code}: ` : ""}${inner.message.split("\n", 1)[0]}`;
  return {
    kind,
    error,
    asFatal: (doing) =>
      new GatewatchError(
        kind === "configuration" ? "kafka_config" : "kafka_error",
        `Kafka: ${doing} failed: ${what}`,
        {
          cause: error,
        },
      ),
  };
}
