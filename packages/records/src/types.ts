/**
 * Normalised Application Gateway records (spec/causes.md §1). Every field the classifier or the
 * store needs is resolved here once: spellings, strings-as-numbers, v1 milliseconds, v1
 * `requestQuery` pairs and names that sit inside or outside `properties`.
 *
 * Absent values are `null`, never `undefined`, so rows encode the same way whatever the input.
 */

/** Record kinds of spec §1.1. */
export const RecordKind = {
  access: "access",
  l4: "l4",
  firewall: "firewall",
  performance: "performance",
  unsupported: "unsupported",
  invalid: "invalid",
} as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

/** Gateway SKU family, as inferred by spec §1. */
export type Sku = "v1" | "v2";

/** Fields shared by every usable record. */
export interface RecordBase {
  /** Position of the record inside its body (0-based). */
  readonly index: number;
  /** Event time, epoch milliseconds (UTC). */
  readonly timeMs: number;
  /** Last path segment of `resourceId`, lower-cased; `""` when absent. */
  readonly gateway: string;
  /** Full `resourceId` as received (kept for evidence and joins), `""` when absent. */
  readonly resourceId: string;
  readonly instanceId: string | null;
  readonly listener: string | null;
  readonly rule: string | null;
  readonly backendPool: string | null;
  readonly backendSetting: string | null;
}

/** An HTTP request handled by the gateway (`ApplicationGatewayAccessLog`, not L4). */
export interface AccessRecord extends RecordBase {
  readonly kind: "access";
  readonly sku: Sku;
  /** `properties.httpStatus` as an integer (0 is legal on v1). */
  readonly status: number;
  /** Backend status 100..599, else null (`""`, `"-"`, absent or out of range). */
  readonly backendStatus: number | null;
  /** `serverRouted` (v2) or the v1 `SERVER-ROUTED=` pair; `""`/`"-"` → null. */
  readonly backendAddress: string | null;
  /** `error_info`; absent or `ERRORINFO_NO_ERROR` → null. */
  readonly errorInfo: string | null;
  /** Seconds (v1 milliseconds already divided by 1000). */
  readonly timeTakenSeconds: number | null;
  /** `serverResponseLatency` in seconds. */
  readonly backendLatencySeconds: number | null;
  readonly clientIp: string | null;
  readonly clientPort: number | null;
  readonly sslClientVerify: string | null;
  readonly wafMode: string | null;
  readonly httpMethod: string | null;
  readonly httpVersion: string | null;
  readonly requestUri: string | null;
  readonly requestQuery: string | null;
  readonly host: string | null;
  readonly originalHost: string | null;
  readonly userAgent: string | null;
  readonly receivedBytes: number | null;
  readonly sentBytes: number | null;
  /** v2 `transactionId`, or the v1 `X-AzureApplicationGateway-LOG-ID=` pair. */
  readonly transactionId: string | null;
  readonly sslProtocol: string | null;
  readonly sslCipher: string | null;
  readonly sslEnabled: string | null;
  readonly contentType: string | null;
}

/** A TCP/TLS proxy session (access-log category, `protocol: TCP` or no `httpStatus`). */
export interface L4Record extends RecordBase {
  readonly kind: "l4";
  readonly sku: Sku;
  /** `serverStatus`: a session outcome code (200, 400, 500, 502, 503), null when absent. */
  readonly backendStatus: number | null;
  readonly backendAddress: string | null;
  readonly clientIp: string | null;
  readonly receivedBytes: number | null;
  readonly sentBytes: number | null;
  readonly upstreamSentBytes: number | null;
  readonly upstreamReceivedBytes: number | null;
  /** `sessionTime`, seconds. */
  readonly sessionTimeSeconds: number | null;
  /** `upstreamSessionTime`, seconds. */
  readonly upstreamSessionTimeSeconds: number | null;
  readonly sslProtocol: string | null;
  readonly sslCipher: string | null;
}

/** Firewall action normalised per spec §4. */
export type FirewallAction = "blocked" | "matched" | "detected" | "allowed" | "other";

/** One WAF rule evaluation (`ApplicationGatewayFirewallLog`). */
export interface FirewallRecord extends RecordBase {
  readonly kind: "firewall";
  readonly action: FirewallAction;
  /** `action` exactly as received. */
  readonly rawAction: string | null;
  readonly ruleId: string | null;
  readonly ruleGroup: string | null;
  readonly ruleSetType: string | null;
  readonly ruleSetVersion: string | null;
  readonly message: string | null;
  readonly detailsMessage: string | null;
  readonly detailsData: string | null;
  readonly detailsFile: string | null;
  readonly detailsLine: string | null;
  readonly hostname: string | null;
  readonly requestUri: string | null;
  readonly clientIp: string | null;
  readonly transactionId: string | null;
  readonly policyId: string | null;
  readonly policyScope: string | null;
  readonly policyScopeName: string | null;
}

/** v1 performance sample (`ApplicationGatewayPerformanceLog`). Counted, not stored in v1 schema. */
export interface PerformanceRecord extends RecordBase {
  readonly kind: "performance";
  readonly healthyHostCount: number | null;
  readonly unhealthyHostCount: number | null;
  readonly requestCount: number | null;
  readonly latencyMs: number | null;
  readonly failedRequestCount: number | null;
  readonly throughputBytesPerSecond: number | null;
}

/** A record of a category gatewatch does not handle: counted and skipped. */
export interface UnsupportedRecord {
  readonly kind: "unsupported";
  readonly index: number;
  /** The category (or operationName) seen, `""` when none. */
  readonly category: string;
}

/** Why a body or record could not be used. Stable ids: stored in dead letters, used as a metric label. */
export const InvalidReason = {
  notJson: "not_json",
  bodyTooLarge: "body_too_large",
  emptyBody: "empty_body",
  notObject: "not_object",
  recordsNotArray: "records_not_array",
  noProperties: "no_properties",
  noStatus: "no_status",
  badTime: "bad_time",
} as const;
export type InvalidReason = (typeof InvalidReason)[keyof typeof InvalidReason];

/** A body or record that cannot be used; becomes a dead letter. */
export interface InvalidRecord {
  readonly kind: "invalid";
  /** Record index inside the body, or -1 when the whole body is unusable. */
  readonly index: number;
  readonly reason: InvalidReason;
  /** Human-readable detail (e.g. the JSON parser's message), single line, bounded length. */
  readonly detail: string;
  /** The offending record or body as text (JSON for records), truncated by the caller's limit. */
  readonly raw: string;
}

/** Any normalised record. */
export type NormalisedRecord =
  AccessRecord | L4Record | FirewallRecord | PerformanceRecord | UnsupportedRecord | InvalidRecord;

/** Options for {@link decodeBody}. */
export interface DecodeOptions {
  /**
   * Bodies larger than this many bytes are not parsed and become one `body_too_large` invalid record.
   * @default 4194304 (4 MiB)
   */
  readonly maxBodyBytes?: number;
  /**
   * Raw text kept on an invalid record, in characters.
   * @default 4096
   */
  readonly maxRawChars?: number;
}
