/**
 * Row encoding: normalised records → JSONEachRow lines matching schema v1. Runs inside classifier
 * workers, so this entry point (`@gatewatch/store-clickhouse/rows`) imports no client or engine.
 * Every column is written explicitly (no defaults, no unknown fields) so encoding and schema
 * cannot drift apart silently: an insert with a missing or extra column fails in tests.
 */
import type { Classification } from "@gatewatch/classify";
import type { AccessRecord, FirewallRecord, InvalidRecord, L4Record } from "@gatewatch/records";

/** Where a record came from; part of every stored row. */
export interface RowPosition {
  readonly source: string;
  readonly partition: string;
  /** First sequence number of the batch the record arrived in. */
  readonly batchSeq: number;
  /** Body index inside the batch. */
  readonly bodyIndex: number;
}

/** One `requests` row for an access record. */
export function encodeAccessRow(rec: AccessRecord, c: Classification, pos: RowPosition): string {
  return JSON.stringify({
    time: rec.timeMs,
    gateway: rec.gateway,
    kind: "access",
    sku: rec.sku,
    cause: c.cause,
    origin: c.origin,
    rule: c.rule,
    status: clampU16(rec.status),
    backend_status: rec.backendStatus,
    error_info: rec.errorInfo ?? "",
    evidence: c.evidence,
    listener: rec.listener ?? "",
    rule_name: rec.rule ?? "",
    backend_pool: rec.backendPool ?? "",
    backend_setting: rec.backendSetting ?? "",
    instance_id: rec.instanceId ?? "",
    backend_address: rec.backendAddress ?? "",
    client_ip: rec.clientIp ?? "",
    client_port: clampU16(rec.clientPort ?? 0),
    http_method: rec.httpMethod ?? "",
    http_version: rec.httpVersion ?? "",
    request_uri: rec.requestUri ?? "",
    request_query: rec.requestQuery ?? "",
    host: rec.host ?? "",
    original_host: rec.originalHost ?? "",
    user_agent: rec.userAgent ?? "",
    received_bytes: unsigned(rec.receivedBytes),
    sent_bytes: unsigned(rec.sentBytes),
    time_taken: finite(rec.timeTakenSeconds),
    backend_latency: finite(rec.backendLatencySeconds),
    ssl_client_verify: rec.sslClientVerify ?? "",
    ssl_protocol: rec.sslProtocol ?? "",
    ssl_cipher: rec.sslCipher ?? "",
    waf_mode: rec.wafMode ?? "",
    transaction_id: rec.transactionId ?? "",
    ...position(pos, rec.index),
  });
}

/**
 * One `requests` row for an l4 session. `status` holds the session outcome (`serverStatus`, 0 when
 * absent) and `time_taken` the client session time, so rollups and dashboards treat both kinds alike.
 */
export function encodeL4Row(rec: L4Record, c: Classification, pos: RowPosition): string {
  return JSON.stringify({
    time: rec.timeMs,
    gateway: rec.gateway,
    kind: "l4",
    sku: rec.sku,
    cause: c.cause,
    origin: c.origin,
    rule: c.rule,
    status: clampU16(rec.backendStatus ?? 0),
    backend_status: rec.backendStatus,
    error_info: "",
    evidence: c.evidence,
    listener: rec.listener ?? "",
    rule_name: rec.rule ?? "",
    backend_pool: rec.backendPool ?? "",
    backend_setting: rec.backendSetting ?? "",
    instance_id: rec.instanceId ?? "",
    backend_address: rec.backendAddress ?? "",
    client_ip: rec.clientIp ?? "",
    client_port: 0,
    http_method: "",
    http_version: "",
    request_uri: "",
    request_query: "",
    host: "",
    original_host: "",
    user_agent: "",
    received_bytes: unsigned(rec.receivedBytes),
    sent_bytes: unsigned(rec.sentBytes),
    time_taken: finite(rec.sessionTimeSeconds),
    backend_latency: finite(rec.upstreamSessionTimeSeconds),
    ssl_client_verify: "",
    ssl_protocol: rec.sslProtocol ?? "",
    ssl_cipher: rec.sslCipher ?? "",
    waf_mode: "",
    transaction_id: "",
    ...position(pos, rec.index),
  });
}

/** One `firewall_events` row. */
export function encodeFirewallRow(rec: FirewallRecord, pos: RowPosition): string {
  return JSON.stringify({
    time: rec.timeMs,
    gateway: rec.gateway,
    action: rec.action,
    raw_action: rec.rawAction ?? "",
    rule_id: rec.ruleId ?? "",
    rule_group: rec.ruleGroup ?? "",
    rule_set_type: rec.ruleSetType ?? "",
    rule_set_version: rec.ruleSetVersion ?? "",
    message: rec.message ?? "",
    details_message: rec.detailsMessage ?? "",
    details_data: rec.detailsData ?? "",
    details_file: rec.detailsFile ?? "",
    details_line: rec.detailsLine ?? "",
    hostname: rec.hostname ?? "",
    request_uri: rec.requestUri ?? "",
    client_ip: rec.clientIp ?? "",
    transaction_id: rec.transactionId ?? "",
    policy_id: rec.policyId ?? "",
    policy_scope: rec.policyScope ?? "",
    policy_scope_name: rec.policyScopeName ?? "",
    instance_id: rec.instanceId ?? "",
    ...position(pos, rec.index),
  });
}

/** One `dead_letters` row. `bodyBytes` is the size of the body the record came from. */
export function encodeDeadLetterRow(
  rec: InvalidRecord,
  pos: RowPosition,
  receivedAtMs: number,
  bodyBytes: number,
): string {
  return JSON.stringify({
    received_at: receivedAtMs,
    reason: rec.reason,
    detail: rec.detail,
    raw: rec.raw,
    raw_bytes: bodyBytes,
    source: pos.source,
    partition: pos.partition,
    batch_seq: pos.batchSeq,
    body_index: pos.bodyIndex,
    record_index: rec.index,
  });
}

function position(pos: RowPosition, recordIndex: number) {
  return {
    source: pos.source,
    partition: pos.partition,
    batch_seq: pos.batchSeq,
    body_index: pos.bodyIndex,
    record_index: recordIndex,
  };
}

function clampU16(n: number): number {
  return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : 0;
}

function unsigned(n: number | null): number {
  return n !== null && Number.isFinite(n) && n >= 0 ? Math.min(Math.floor(n), Number.MAX_SAFE_INTEGER) : 0;
}

function finite(n: number | null): number | null {
  return n !== null && Number.isFinite(n) ? n : null;
}
