/**
 * The per-record objects printed by `gatewatch classify` (spec §6). This is a STABLE interface:
 * key names, key order (`kind` first) and value spellings are checked against unseen records.
 */
import { decodeBody } from "@gatewatch/records";
import type { DecodeOptions, InvalidReason, NormalisedRecord, Sku } from "@gatewatch/records";

import { classifyAccess } from "./access-rules.js";
import { classifyL4 } from "./l4-rules.js";
import type { CauseId, ClassifyOptions, Origin, RuleId } from "./types.js";

/** Output of an `access` record. */
export type AccessOutput = {
  kind: "access";
  cause: CauseId;
  origin: Origin;
  rule: RuleId;
  status: number;
  backendStatus: number | null;
  errorInfo: string | null;
  sku: Sku;
  gateway: string;
  /** ISO-8601 UTC, millisecond precision. */
  time: string;
  evidence: string[];
};

/** Output of an `l4` record. */
export type L4Output = {
  kind: "l4";
  cause: CauseId;
  origin: Origin;
  rule: RuleId;
  backendStatus: number | null;
  sku: Sku;
  gateway: string;
  time: string;
  evidence: string[];
};

/** Output of a `firewall` record (no cause: spec §4). */
export type FirewallOutput = {
  kind: "firewall";
  action: string;
  ruleId: string | null;
  ruleGroup: string | null;
  transactionId: string | null;
  gateway: string;
  time: string;
};

/** Output of a `performance` record. */
export type PerformanceOutput = {
  kind: "performance";
  gateway: string;
  time: string;
  instanceId: string | null;
  healthyHostCount: number | null;
  unhealthyHostCount: number | null;
  requestCount: number | null;
  latencyMs: number | null;
  failedRequestCount: number | null;
  throughputBytesPerSecond: number | null;
};

/** Output of a record of a category gatewatch does not handle. */
export type UnsupportedOutput = { kind: "unsupported"; category: string };

/** Output of a line or record that cannot be used. */
export type InvalidOutput = { kind: "invalid"; reason: InvalidReason; detail: string };

/** Any object printed by `gatewatch classify`. */
export type ClassifyOutput =
  AccessOutput | L4Output | FirewallOutput | PerformanceOutput | UnsupportedOutput | InvalidOutput;

/** Options of {@link classifyLine}: decoding limits plus classifier options. */
export interface ClassifyLineOptions extends ClassifyOptions, DecodeOptions {}

function iso(timeMs: number): string {
  const d = new Date(timeMs);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

/**
 * The object `gatewatch classify` prints for one normalised record (spec §6), `kind` first:
 *
 * - access: `kind, cause, origin, rule, status, backendStatus, errorInfo, sku, gateway, time, evidence`
 * - l4: `kind, cause, origin, rule ("L4"), backendStatus, sku, gateway, time, evidence`
 * - firewall: `kind, action, ruleId, ruleGroup, transactionId, gateway, time`
 * - performance: `kind, gateway, time, instanceId` and the six counters
 * - unsupported: `kind, category`; invalid: `kind, reason, detail`
 */
export function toClassifyOutput(rec: NormalisedRecord, opts?: ClassifyOptions): ClassifyOutput {
  switch (rec.kind) {
    case "access": {
      const c = classifyAccess(rec, opts);
      return {
        kind: "access",
        cause: c.cause,
        origin: c.origin,
        rule: c.rule,
        status: rec.status,
        backendStatus: rec.backendStatus,
        errorInfo: rec.errorInfo,
        sku: rec.sku,
        gateway: rec.gateway,
        time: iso(rec.timeMs),
        evidence: [...c.evidence],
      };
    }
    case "l4": {
      const c = classifyL4(rec);
      return {
        kind: "l4",
        cause: c.cause,
        origin: c.origin,
        rule: c.rule,
        backendStatus: rec.backendStatus,
        sku: rec.sku,
        gateway: rec.gateway,
        time: iso(rec.timeMs),
        evidence: [...c.evidence],
      };
    }
    case "firewall":
      return {
        kind: "firewall",
        action: rec.action,
        ruleId: rec.ruleId,
        ruleGroup: rec.ruleGroup,
        transactionId: rec.transactionId,
        gateway: rec.gateway,
        time: iso(rec.timeMs),
      };
    case "performance":
      return {
        kind: "performance",
        gateway: rec.gateway,
        time: iso(rec.timeMs),
        instanceId: rec.instanceId,
        healthyHostCount: rec.healthyHostCount,
        unhealthyHostCount: rec.unhealthyHostCount,
        requestCount: rec.requestCount,
        latencyMs: rec.latencyMs,
        failedRequestCount: rec.failedRequestCount,
        throughputBytesPerSecond: rec.throughputBytesPerSecond,
      };
    case "unsupported":
      return { kind: "unsupported", category: rec.category };
    case "invalid":
      return { kind: "invalid", reason: rec.reason, detail: rec.detail };
  }
}

/**
 * Decodes one input line (one Event Hubs body or one bare record) and returns one output object per
 * record, in record order. Never throws; a line that is not JSON yields exactly one
 * `{"kind":"invalid","reason":"not_json",...}`, a blank line one `empty_body`, and an envelope with
 * an empty `records` array nothing.
 */
export function classifyLine(line: string | Uint8Array, opts?: ClassifyLineOptions): ClassifyOutput[] {
  const records = decodeBody(line, opts);
  const out = new Array<ClassifyOutput>(records.length);
  for (let i = 0; i < records.length; i += 1) out[i] = toClassifyOutput(records[i]!, opts);
  return out;
}
