import { ClickHouseError } from "@clickhouse/client";
import { GatewatchError } from "@gatewatch/pipeline";

// ClickHouse error codes worth retrying: overload, timeouts, network and keeper trouble. Anything
// else (syntax, unknown table, bad data, authentication) will fail the same way again.
const RETRIABLE_CODES = new Set([
  "3", // UNEXPECTED_END_OF_FILE
  "159", // TIMEOUT_EXCEEDED
  "164", // READONLY (replica in read-only mode)
  "202", // TOO_MANY_SIMULTANEOUS_QUERIES
  "209", // SOCKET_TIMEOUT
  "210", // NETWORK_ERROR
  "241", // MEMORY_LIMIT_EXCEEDED
  "242", // TABLE_IS_READ_ONLY
  "252", // TOO_MANY_PARTS
  "319", // UNKNOWN_STATUS_OF_INSERT
  "425", // SYSTEM_ERROR
  "999", // KEEPER_EXCEPTION
]);

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
]);

/**
 * Converts whatever the client threw into a {@link GatewatchError}: `store_locked` when another
 * process holds the embedded directory, `store_unavailable` (retriable) for network trouble and
 * overload, `store_error` otherwise. `doing` names the operation for the message.
 */
export function classifyStoreError(err: unknown, doing: string): GatewatchError {
  if (err instanceof GatewatchError) return err;
  const message = err instanceof Error ? err.message : String(err);
  // chdb reports a held directory as "Cannot lock file …/status" (code 76) on stderr and throws
  // "Failed to create connection for path"; both mean another process holds the store.
  if (
    /Cannot lock file|Another server instance in same directory|Failed to create connection for path/i.test(
      message,
    )
  ) {
    return new GatewatchError(
      "store_locked",
      `${doing}: the embedded store is in use by another process (${firstLine(message)})`,
      { cause: err },
    );
  }
  if (err instanceof ClickHouseError) {
    return new GatewatchError(
      "store_error",
      `${doing}: ClickHouse error ${err.code} ${err.type ?? ""}: ${firstLine(message)}`,
      {
        retriable: RETRIABLE_CODES.has(err.code),
        cause: err,
      },
    );
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (
    (typeof code === "string" && NETWORK_CODES.has(code)) ||
    /timeout|socket hang up|ECONNREFUSED|ECONNRESET|other side closed/i.test(message)
  ) {
    return new GatewatchError(
      "store_unavailable",
      `${doing}: ClickHouse unreachable (${firstLine(message)})`,
      { retriable: true, cause: err },
    );
  }
  return new GatewatchError("store_error", `${doing}: ${firstLine(message)}`, { cause: err });
}

function firstLine(s: string): string {
  const line = s.split("\n", 1)[0] ?? "";
  return line.length > 500 ? `${line.slice(0, 500)}…` : line;
}
