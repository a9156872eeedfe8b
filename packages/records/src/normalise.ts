/**
 * One parsed record -> one normalised record (spec/causes.md §1). Reads what the classifier and the
 * store need once, resolving spellings, numbers-as-strings, placeholders, v1 milliseconds and v1
 * `requestQuery` metadata. Never throws: a record it cannot use is returned as `invalid`.
 */
import { DEFAULT_MAX_RAW_CHARS, invalidRecord } from "./invalid.js";
import { int, isBlank, isObject, num, own, safeStringify, text } from "./read.js";
import type { JsonObject } from "./read.js";
import { parseRecordTime } from "./time.js";
import type {
  AccessRecord,
  DecodeOptions,
  FirewallAction,
  FirewallRecord,
  L4Record,
  NormalisedRecord,
  PerformanceRecord,
  RecordBase,
  Sku,
} from "./types.js";
import { hasV1Markers, readV1Pairs } from "./v1-query.js";
import type { V1QueryPairs } from "./v1-query.js";

const CATEGORY_FIREWALL = "applicationgatewayfirewalllog";
const OPERATION_FIREWALL = "applicationgatewayfirewall";
const CATEGORY_PERFORMANCE = "applicationgatewayperformancelog";
const CATEGORY_ACCESS = "applicationgatewayaccesslog";
const OPERATION_ACCESS = "applicationgatewayaccess";
const V1_INSTANCE_PREFIX = "applicationgatewayrole_in_";

type Family = "access" | "firewall" | "performance";

/** Firewall actions of spec §4, keyed by their lower-case spelling. */
const FIREWALL_ACTIONS: ReadonlyMap<string, FirewallAction> = new Map([
  ["blocked", "blocked"],
  ["matched", "matched"],
  ["detected", "detected"],
  ["allowed", "allowed"],
]);

function lowerString(value: unknown): string {
  return typeof value === "string" ? value.trim().toLowerCase() : "";
}

/** spec §1.1 steps 1-4 (category and operationName compared case-insensitively). */
function familyOf(category: string, operation: string): Family | null {
  if (category === CATEGORY_FIREWALL || operation === OPERATION_FIREWALL) return "firewall";
  if (category === CATEGORY_PERFORMANCE) return "performance";
  if (category === CATEGORY_ACCESS || operation === OPERATION_ACCESS) return "access";
  return null;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

/** `timeStamp`, else `time`, else `timestamp`: the first one that is not absent/null/""/"-". */
function pickTime(rec: JsonObject): { key: string; value: unknown } | null {
  for (const key of ["timeStamp", "time", "timestamp"]) {
    const value = own(rec, key);
    if (!isBlank(value)) return { key, value };
  }
  return null;
}

/** Last non-empty path segment of `resourceId`, lower-cased. */
function gatewayName(resourceId: string): string {
  let end = resourceId.length;
  while (end > 0 && resourceId.charCodeAt(end - 1) === 47 /* / */) end -= 1;
  const start = resourceId.lastIndexOf("/", end - 1) + 1;
  return resourceId.slice(start, end).trim().toLowerCase();
}

function isV1Instance(instanceId: string | null): boolean {
  if (instanceId === null || instanceId.length <= V1_INSTANCE_PREFIX.length) return false;
  if (instanceId.slice(0, V1_INSTANCE_PREFIX.length).toLowerCase() !== V1_INSTANCE_PREFIX) return false;
  for (let i = V1_INSTANCE_PREFIX.length; i < instanceId.length; i += 1) {
    const c = instanceId.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** A backend status: an integer in 100..599, else null (spec §1 `backendStatus`). */
function httpRange(value: unknown): number | null {
  const n = int(value);
  return n !== null && n >= 100 && n <= 599 ? n : null;
}

/** Top-level field, else the same name inside `properties` (reference §1.1: read both). */
function either(rec: JsonObject, props: JsonObject, key: string): string | null {
  return text(own(rec, key)) ?? text(own(props, key));
}

function baseOf(rec: JsonObject, props: JsonObject, index: number, timeMs: number): RecordBase {
  const resourceId = text(own(rec, "resourceId")) ?? "";
  return {
    index,
    timeMs,
    gateway: gatewayName(resourceId),
    resourceId,
    instanceId: text(own(props, "instanceId")),
    listener: either(rec, props, "listenerName"),
    rule: either(rec, props, "ruleName"),
    backendPool: either(rec, props, "backendPoolName"),
    backendSetting: either(rec, props, "backendSettingName"),
  };
}

interface SkuInfo {
  readonly sku: Sku;
  /** Parsed only on v1 (the only SKU whose query carries metadata). */
  readonly pairs: V1QueryPairs | null;
  readonly query: string | null;
}

function skuOf(props: JsonObject, instanceId: string | null): SkuInfo {
  const query = text(own(props, "requestQuery"));
  const v1 = isV1Instance(instanceId) || (query !== null && hasV1Markers(query));
  return { sku: v1 ? "v1" : "v2", pairs: v1 && query !== null ? readV1Pairs(query) : null, query };
}

function firewallAction(raw: string | null): FirewallAction {
  if (raw === null) return "other";
  return FIREWALL_ACTIONS.get(raw.trim().toLowerCase()) ?? "other";
}

function clientIpOf(props: JsonObject, primary: string, fallback: string): string | null {
  const v = text(own(props, primary)) ?? text(own(props, fallback));
  return v === null ? null : v.trim();
}

function isL4(props: JsonObject): boolean {
  if (lowerString(own(props, "protocol")) === "tcp") return true;
  return (
    isBlank(own(props, "httpStatus")) &&
    (!isBlank(own(props, "sessionTime")) || !isBlank(own(props, "upstreamSessionTime")))
  );
}

// The record builders below list the base fields one by one on purpose: `{ ...base, <30 fields> }`
// made V8 build every record through slow dictionary-mode transitions (8x slower per record).

function l4Record(base: RecordBase, props: JsonObject): L4Record {
  const { sku, pairs } = skuOf(props, base.instanceId);
  return {
    kind: "l4",
    index: base.index,
    timeMs: base.timeMs,
    gateway: base.gateway,
    resourceId: base.resourceId,
    instanceId: base.instanceId,
    listener: base.listener,
    rule: base.rule,
    backendPool: base.backendPool,
    backendSetting: base.backendSetting,
    sku,
    backendStatus: httpRange(own(props, "serverStatus")) ?? httpRange(pairs?.status),
    backendAddress: text(own(props, "serverRouted")) ?? text(pairs?.routed),
    clientIp: clientIpOf(props, "clientIP", "clientIp"),
    receivedBytes: num(own(props, "receivedBytes")),
    sentBytes: num(own(props, "sentBytes")),
    upstreamSentBytes: num(own(props, "upstreamSentBytes")),
    upstreamReceivedBytes: num(own(props, "upstreamReceivedBytes")),
    sessionTimeSeconds: num(own(props, "sessionTime")),
    upstreamSessionTimeSeconds: num(own(props, "upstreamSessionTime")),
    sslProtocol: text(own(props, "sslProtocol")),
    sslCipher: text(own(props, "sslCipher")),
  };
}

function accessRecord(base: RecordBase, props: JsonObject, status: number): AccessRecord {
  const { sku, pairs, query } = skuOf(props, base.instanceId);
  const errorInfo = text(own(props, "error_info"));
  const timeTaken = num(own(props, "timeTaken"));
  return {
    kind: "access",
    index: base.index,
    timeMs: base.timeMs,
    gateway: base.gateway,
    resourceId: base.resourceId,
    instanceId: base.instanceId,
    listener: base.listener,
    rule: base.rule,
    backendPool: base.backendPool,
    backendSetting: base.backendSetting,
    sku,
    status,
    backendStatus: httpRange(own(props, "serverStatus")) ?? httpRange(pairs?.status),
    backendAddress: text(own(props, "serverRouted")) ?? text(pairs?.routed),
    errorInfo: errorInfo === null || errorInfo.trim() === "ERRORINFO_NO_ERROR" ? null : errorInfo.trim(),
    timeTakenSeconds: timeTaken === null ? null : sku === "v1" ? timeTaken / 1000 : timeTaken,
    backendLatencySeconds: num(own(props, "serverResponseLatency")),
    clientIp: clientIpOf(props, "clientIP", "clientIp"),
    clientPort: int(own(props, "clientPort")),
    sslClientVerify: text(own(props, "sslClientVerify")),
    wafMode: text(own(props, "WAFMode")),
    httpMethod: text(own(props, "httpMethod")),
    httpVersion: text(own(props, "httpVersion")),
    requestUri: text(own(props, "requestUri")),
    requestQuery: query,
    host: text(own(props, "host")),
    originalHost: text(own(props, "originalHost")),
    userAgent: text(own(props, "userAgent")),
    receivedBytes: num(own(props, "receivedBytes")),
    sentBytes: num(own(props, "sentBytes")),
    transactionId: text(own(props, "transactionId")) ?? text(pairs?.logId),
    sslProtocol: text(own(props, "sslProtocol")),
    sslCipher: text(own(props, "sslCipher")),
    sslEnabled: text(own(props, "sslEnabled")),
    contentType: text(own(props, "contentType")),
  };
}

function firewallRecord(base: RecordBase, props: JsonObject): FirewallRecord {
  const rawAction = text(own(props, "action"));
  const detailsValue = own(props, "details");
  const details = isObject(detailsValue) ? detailsValue : null;
  return {
    kind: "firewall",
    index: base.index,
    timeMs: base.timeMs,
    gateway: base.gateway,
    resourceId: base.resourceId,
    instanceId: base.instanceId,
    listener: base.listener,
    rule: base.rule,
    backendPool: base.backendPool,
    backendSetting: base.backendSetting,
    action: firewallAction(rawAction),
    rawAction,
    ruleId: text(own(props, "ruleId")),
    ruleGroup: text(own(props, "ruleGroup")),
    ruleSetType: text(own(props, "ruleSetType")),
    ruleSetVersion: text(own(props, "ruleSetVersion")),
    message: text(own(props, "message")),
    detailsMessage: details === null ? null : text(own(details, "message")),
    detailsData: details === null ? null : text(own(details, "data")),
    detailsFile: details === null ? null : text(own(details, "file")),
    detailsLine: details === null ? null : text(own(details, "line")),
    hostname: text(own(props, "hostname")),
    requestUri: text(own(props, "requestUri")),
    clientIp: clientIpOf(props, "clientIp", "clientIP"),
    transactionId: text(own(props, "transactionId")),
    policyId: text(own(props, "policyId")),
    policyScope: text(own(props, "policyScope")),
    policyScopeName: text(own(props, "policyScopeName")),
  };
}

function performanceRecord(base: RecordBase, props: JsonObject): PerformanceRecord {
  return {
    kind: "performance",
    index: base.index,
    timeMs: base.timeMs,
    gateway: base.gateway,
    resourceId: base.resourceId,
    instanceId: base.instanceId,
    listener: base.listener,
    rule: base.rule,
    backendPool: base.backendPool,
    backendSetting: base.backendSetting,
    healthyHostCount: num(own(props, "healthyHostCount")),
    unhealthyHostCount: num(own(props, "unHealthyHostCount")) ?? num(own(props, "unhealthyHostCount")),
    requestCount: num(own(props, "requestCount")),
    latencyMs: num(own(props, "latency")),
    failedRequestCount: num(own(props, "failedRequestCount")),
    throughputBytesPerSecond: num(own(props, "throughput")),
  };
}

function normaliseUnchecked(value: unknown, index: number, maxRaw: number): NormalisedRecord {
  if (!isObject(value)) {
    return invalidRecord(
      index,
      "not_object",
      `record is ${describe(value)}, not an object`,
      safeStringify(value),
      maxRaw,
    );
  }
  const category = own(value, "category");
  const operation = own(value, "operationName");
  const family = familyOf(lowerString(category), lowerString(operation));
  if (family === null) {
    return { kind: "unsupported", index, category: text(category) ?? text(operation) ?? "" };
  }
  const props = own(value, "properties");
  if (!isObject(props)) {
    return invalidRecord(
      index,
      "no_properties",
      `properties is ${describe(props)}, not an object`,
      safeStringify(value),
      maxRaw,
    );
  }
  const picked = pickTime(value);
  const timeMs = picked === null ? null : parseRecordTime(picked.value);
  if (timeMs === null) {
    const detail =
      picked === null
        ? "no timeStamp, time or timestamp"
        : `${picked.key} ${safeStringify(picked.value).slice(0, 80)} is not an ISO-8601 time`;
    return invalidRecord(index, "bad_time", detail, safeStringify(value), maxRaw);
  }
  const base = baseOf(value, props, index, timeMs);
  switch (family) {
    case "firewall":
      return firewallRecord(base, props);
    case "performance":
      return performanceRecord(base, props);
    case "access": {
      if (isL4(props)) return l4Record(base, props);
      const rawStatus = own(props, "httpStatus");
      const status = int(rawStatus);
      if (status === null || status < 0 || status > 999) {
        const detail =
          rawStatus === undefined
            ? "httpStatus is missing"
            : `httpStatus ${safeStringify(rawStatus).slice(0, 80)} is not an integer 0..999`;
        return invalidRecord(index, "no_status", detail, safeStringify(value), maxRaw);
      }
      return accessRecord(base, props, status);
    }
  }
}

/**
 * Normalises one parsed record (spec/causes.md §1): kind detection (§1.1), time, gateway, SKU,
 * statuses, backend, error_info, units and names. Never throws: a value that cannot be used becomes
 * an `invalid` record carrying its reason and (truncated) JSON text.
 *
 * @param value a parsed JSON value, normally one element of an Event Hubs `records` array
 * @param index position of the record inside its body (kept on the result)
 * @param opts only `maxRawChars` is used here
 */
export function normaliseRecord(value: unknown, index: number, opts?: DecodeOptions): NormalisedRecord {
  const maxRaw = opts?.maxRawChars ?? DEFAULT_MAX_RAW_CHARS;
  try {
    return normaliseUnchecked(value, index, maxRaw);
  } catch (err) {
    // Only reachable for values JSON.parse never produces (throwing getters, proxies).
    const message = err instanceof Error ? err.message : "unknown error";
    return invalidRecord(index, "not_object", `record could not be read: ${message}`, "", maxRaw);
  }
}
