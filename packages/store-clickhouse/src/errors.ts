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

// ClickHouse error codes that mean "this batch's content cannot be stored": the server parsed the
// rows and refused one of them, so the same rows fail again however often they are sent, while the
// other rows of the batch would land. First ClickHouse's own list of errors in input data, the codes
// `input_format_allow_errors_num` may skip (`isParseError`, src/Formats/ParseError.cpp), then the
// conversion and constraint errors a single row's values can raise on insert. Deliberately absent:
// codes a query or schema problem raises for every batch alike (SYNTAX_ERROR, UNKNOWN_TABLE,
// NO_SUCH_COLUMN_IN_TABLE, BAD_ARGUMENTS...) and resource errors (MEMORY_LIMIT_EXCEEDED is retriable).
// A code here that was in fact transient (CANNOT_READ_ALL_DATA from a cut upload) costs a split but
// dead-letters nothing: the writer sends the rows again in halves, and only a row refused alone is kept out.
const DATA_CODES = new Set([
  // isParseError
  "25", // CANNOT_PARSE_ESCAPE_SEQUENCE
  "26", // CANNOT_PARSE_QUOTED_STRING
  "27", // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  "33", // CANNOT_READ_ALL_DATA
  "38", // CANNOT_PARSE_DATE
  "41", // CANNOT_PARSE_DATETIME
  "69", // ARGUMENT_OUT_OF_BOUND (decimals)
  "72", // CANNOT_PARSE_NUMBER
  "117", // INCORRECT_DATA (also: an unknown JSONEachRow field, since unknown fields are not skipped)
  "130", // CANNOT_READ_ARRAY_FROM_TEXT
  "131", // TOO_LARGE_STRING_SIZE
  "376", // CANNOT_PARSE_UUID
  "441", // CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING
  "467", // CANNOT_PARSE_BOOL
  "563", // CANNOT_READ_MAP_FROM_TEXT
  "632", // UNEXPECTED_DATA_AFTER_PARSED_VALUE
  "675", // CANNOT_PARSE_IPV4
  "676", // CANNOT_PARSE_IPV6
  "691", // UNKNOWN_ELEMENT_OF_ENUM
  // a row's values that parse but do not fit the column
  "6", // CANNOT_PARSE_TEXT
  "19", // SIZE_OF_FIXED_STRING_DOESNT_MATCH
  "53", // TYPE_MISMATCH
  "70", // CANNOT_CONVERT_TYPE
  "128", // TOO_LARGE_ARRAY_SIZE
  "190", // SIZES_OF_ARRAYS_DONT_MATCH
  "321", // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  "349", // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
  "407", // DECIMAL_OVERFLOW
  "469", // VIOLATED_CONSTRAINT
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

/** The fields gatewatch reads from a ClickHouse server error. */
interface ServerError {
  readonly code: string;
  readonly type?: string | undefined;
  readonly message: string;
}

/**
 * A ClickHouse server error from either transport. Embedded mode's chdb connection builds its errors
 * with its own copy of the client's error class, so `instanceof ClickHouseError` misses them: match
 * the shape (a numeric `code` string, as `parseError` produces) as well. chdb's passthrough insert
 * throws its own errors with a numeric `clickhouseCode` and the engine's text, `Code: N.
 * DB::Exception: …` (sometimes twice) ending in the error name in parentheses.
 */
function serverError(err: unknown): ServerError | undefined {
  if (err instanceof ClickHouseError) return err;
  if (!(err instanceof Error)) return undefined;
  const { code, type, clickhouseCode } = err as { code?: unknown; type?: unknown; clickhouseCode?: unknown };
  if (typeof clickhouseCode === "number") {
    const text = err.message.replace(/^(Code: \d+\. DB::Exception: )+/, "");
    const name = /\(([A-Z][A-Z0-9_]+)\)(?: \(version [^)]*\))?\.?\s*$/.exec(text);
    return { code: String(clickhouseCode), type: name?.[1], message: text };
  }
  if (typeof code !== "string" || !/^\d+$/.test(code)) return undefined;
  return { code, type: typeof type === "string" ? type : undefined, message: err.message };
}

/**
 * Converts whatever the client threw into a {@link GatewatchError}: `store_locked` when another
 * process holds the embedded directory, `store_rejected_data` when ClickHouse refused the rows
 * themselves (a parse or type error in the input: see `DATA_CODES`), `store_unavailable`
 * (retriable) for network trouble and overload, `store_error` otherwise (retriable for the server
 * codes that may pass). `doing` names the operation for the message.
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
  const server = serverError(err);
  if (server) {
    const rejected = DATA_CODES.has(server.code);
    return new GatewatchError(
      rejected ? "store_rejected_data" : "store_error",
      `${doing}: ClickHouse ${rejected ? "rejected the data" : "error"} ${server.code} ${server.type ?? ""}: ${firstLine(message)}`,
      {
        retriable: !rejected && RETRIABLE_CODES.has(server.code),
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

/**
 * The server's own words for a store error, in ClickHouse's format
 * (`Code: 27. DB::Exception: Cannot parse input: … (CANNOT_PARSE_INPUT_ASSERTION_FAILED)`), on one
 * line; the error's message when its cause is not a ClickHouse error.
 */
export function serverErrorText(err: GatewatchError): string {
  const server = serverError(err.cause);
  const text = server
    ? `Code: ${server.code}. DB::Exception: ${server.message.trim()}${server.type ? ` (${server.type})` : ""}`
    : err.message;
  return text.replace(/\s+/g, " ").trim();
}

function firstLine(s: string): string {
  const line = s.split("\n", 1)[0] ?? "";
  return line.length > 500 ? `${line.slice(0, 500)}…` : line;
}
