import { GatewatchError } from "@gatewatch/pipeline";

/** Receive error kinds: a bounded label set for metrics. */
export type ReceiveErrorKind = "configuration" | "ownership" | "transient" | "checkpoint" | "other";

const CONFIGURATION_CODES = new Set([
  "MessagingEntityNotFoundError",
  "UnauthorizedError",
  "ArgumentOutOfRangeError",
  "ArgumentError",
  "CredentialUnavailableError",
  "AuthenticationRequiredError",
]);
const OWNERSHIP_CODES = new Set(["ReceiverDisconnectedError", "PartitionOwnershipLostError"]);

/** What an error from the SDK or the checkpoint store means for gatewatch. */
export interface ClassifiedError {
  readonly kind: ReceiveErrorKind;
  readonly error: Error;
  /** The error as a fatal GatewatchError (`eventhubs_config` for configuration errors). */
  asFatal(doing: string): GatewatchError;
}

/**
 * Sorts an error by kind: configuration errors (bad credentials, unknown hub or consumer group) must
 * stop the service; ownership loss is normal when replicas rebalance; transient ones (busy, timeouts,
 * dropped links) are retried by the SDK and only counted.
 */
export function classifyEventHubsError(err: unknown): ClassifiedError {
  const error = err instanceof Error ? err : new Error(String(err));
  const e = error as Error & { code?: unknown; retryable?: unknown; statusCode?: unknown; name: string };
  const code = typeof e.code === "string" ? e.code : "";
  let kind: ReceiveErrorKind;
  if (
    CONFIGURATION_CODES.has(code) ||
    CONFIGURATION_CODES.has(e.name) ||
    e.statusCode === 401 ||
    e.statusCode === 403
  ) {
    kind = "configuration";
  } else if (OWNERSHIP_CODES.has(code) || /ownership|link:stolen/i.test(error.message)) {
    kind = "ownership";
  } else if (
    e.name === "RestError" ||
    // BlobCheckpointStore wraps a failed ownership listing in a plain Error naming the blob listing.
    /\bcheckpoint store\b|checkpointing|fetching the list of blobs/i.test(error.message)
  ) {
    kind = "checkpoint";
  } else if (
    e.retryable === true ||
    /timeout|ECONNREFUSED|ECONNRESET|busy|detach/i.test(`${code} ${error.message}`)
  ) {
    kind = "transient";
  } else {
    kind = "other";
  }
  return {
    kind,
    error,
    asFatal: (doing) =>
      new GatewatchError(
        kind === "configuration" ? "eventhubs_config" : "eventhubs_error",
        `Event Hubs: ${doing} failed: ${code ? `${code}: ` : ""}${error.message.split("\n", 1)[0]}`,
        { cause: error },
      ),
  };
}
