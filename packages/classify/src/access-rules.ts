/**
 * Rules R0..R6 of spec/causes.md §2 for `access` records, first match wins. Table-driven; the only
 * regular expression (the DN word test of R4) runs only for failed mTLS 400s.
 */
import type { AccessRecord } from "@gatewatch/records";

import { CATALOG } from "./catalog.js";
import type { CauseId, Classification, ClassifyOptions, RuleId } from "./types.js";

/** Default backend request timeout of an Application Gateway backend setting, seconds. */
export const DEFAULT_BACKEND_TIMEOUT_SECONDS = 20;

/** R5: a v1 502 whose timeTaken is at least this share of the backend timeout is a backend timeout. */
const V1_TIMEOUT_SHARE = 0.98;

/** Longest sslClientVerify text copied into evidence. */
const MAX_EVIDENCE_TEXT = 200;

/** R1 exact statuses; ranges are handled in {@link passthroughCause}. */
export const PASSTHROUGH: ReadonlyMap<number, CauseId> = new Map([
  [400, "backend_bad_request"],
  [401, "backend_unauthorized"],
  [403, "backend_forbidden"],
  [404, "backend_not_found"],
  [413, "backend_payload_too_large"],
  [429, "backend_rate_limited"],
  [500, "backend_internal_error"],
  [502, "backend_bad_gateway"],
  [503, "backend_unavailable"],
  [504, "backend_gateway_timeout"],
]);

/**
 * R3 fixed mappings. `ERRORINFO_HTTPS_NO_CERT` and `ERRORINFO_INVALID_HOST` depend on more than the
 * code and are handled in {@link classifyAccess}.
 */
export const ERROR_INFO: ReadonlyMap<string, CauseId> = new Map([
  ["ERRORINFO_HTTP_TO_HTTPS_PORT", "http_to_https_listener"],
  ["ERRORINFO_INVALID_METHOD", "invalid_method"],
  ["ERRORINFO_INVALID_METHOD_TRACE", "trace_method_blocked"],
  ["ERRORINFO_INVALID_VERSION", "invalid_http_version"],
  ["ERRORINFO_INVALID_09_METHOD", "invalid_http_version"],
  ["ERRORINFO_HTTP_NO_HOST_HEADER", "missing_host_header"],
  ["ERRORINFO_INVALID_CONTENT_LENGTH", "invalid_content_length"],
  ["ERRORINFO_REQUEST_URI_INVALID", "invalid_uri"],
  ["ERRORINFO_INVALID_REQUEST", "malformed_request"],
  ["ERRORINFO_CLIENT_CLOSED_REQUEST", "client_closed_connection"],
  ["ERRORINFO_CLIENT_TIMED_OUT", "client_request_timeout"],
  ["ERRORINFO_UPSTREAM_NO_LIVE", "no_healthy_backend"],
  ["ERRORINFO_UPSTREAM_CLOSED_CONNECTION", "backend_connection_closed"],
  ["ERRORINFO_UPSTREAM_TIMED_OUT", "backend_timeout"],
]);

const HTTPS_NO_CERT = "ERRORINFO_HTTPS_NO_CERT";
const INVALID_HOST = "ERRORINFO_INVALID_HOST";

/** R5 statuses that map to one cause (502 depends on more and is handled in code). */
export const STATUS_ONLY: ReadonlyMap<number, CauseId> = new Map([
  [301, "redirect_permanent"],
  [308, "redirect_permanent"],
  [302, "redirect_found"],
  [303, "redirect_see_other"],
  [307, "redirect_temporary"],
  [400, "malformed_request"],
  [403, "waf_block"],
  [404, "no_listener_match"],
  [408, "client_request_timeout"],
  [413, "request_body_too_large"],
  [0, "client_closed_connection"],
  [499, "client_closed_connection"],
  [500, "gateway_internal_error"],
  [503, "service_unavailable"],
  [504, "backend_timeout"],
]);

const DN_WORD = /\bdn\b/;

function result(cause: CauseId, rule: RuleId, evidence: readonly string[]): Classification {
  // Every id used in this file is in the catalog (checked by tests), hence the non-null origin.
  const origin = CATALOG.get(cause)?.origin ?? "unknown";
  return { cause, origin, rule, evidence };
}

/** Seconds with at most millisecond precision, without float noise (`20.101s`, `0.034s`). */
function seconds(value: number): string {
  return `${Number(value.toFixed(3))}s`;
}

function passthroughCause(status: number): CauseId {
  if (status >= 100 && status <= 299) return "success";
  if (status >= 300 && status <= 399) return "backend_redirect";
  const exact = PASSTHROUGH.get(status);
  if (exact !== undefined) return exact;
  return status >= 500 ? "backend_server_error" : "backend_client_error";
}

/** R4: the mTLS cause for a failed client verification on a 400, or null when R4 does not apply. */
function mtlsCause(rec: AccessRecord): CauseId | null {
  const verify = rec.sslClientVerify;
  if (rec.status !== 400 || verify === null) return null;
  const lower = verify.trim().toLowerCase();
  if (!lower.startsWith("failed")) return null;
  if (lower.includes("revoked")) return "mtls_certificate_revoked";
  if (lower.includes("expired")) return "mtls_certificate_expired";
  if (lower.includes("ocsp")) return "mtls_ocsp_failure";
  if (lower.includes("verify the client certificate issuer") || DN_WORD.test(lower))
    return "mtls_dn_mismatch";
  if (
    lower.includes("issuer certificate") ||
    lower.includes("first certificate") ||
    lower.includes("chain")
  ) {
    return "mtls_untrusted_chain";
  }
  return "mtls_verification_failed";
}

function verifyEvidence(rec: AccessRecord): string {
  const v = rec.sslClientVerify ?? "none";
  return `sslClientVerify=${v.length > MAX_EVIDENCE_TEXT ? v.slice(0, MAX_EVIDENCE_TEXT) : v}`;
}

/**
 * Classifies an access record by rules R0..R6 of spec/causes.md §2 (first match wins) and reports
 * the rule and the evidence used, e.g. `["error_info=ERRORINFO_UPSTREAM_TIMED_OUT", "httpStatus=504"]`.
 */
export function classifyAccess(rec: AccessRecord, opts?: ClassifyOptions): Classification {
  const status = rec.status;
  const httpStatus = `httpStatus=${status}`;

  // R0 internal
  if (rec.clientIp === "127.0.0.1")
    return result("internal_traffic", "R0", ["clientIP=127.0.0.1", httpStatus]);

  // R1 backend passthrough
  if (rec.backendStatus !== null && rec.backendStatus === status) {
    return result(passthroughCause(status), "R1", [httpStatus, `serverStatus=${rec.backendStatus}`]);
  }

  // R2 success
  if (status >= 100 && status <= 299) return result("success", "R2", [httpStatus]);

  // R3 error_info; an unknown code falls through and stays in the evidence.
  const errorInfo = rec.errorInfo;
  const errorEvidence: string[] = errorInfo === null ? [] : [`error_info=${errorInfo}`];
  if (errorInfo !== null) {
    if (errorInfo === HTTPS_NO_CERT) {
      const mtls = mtlsCause(rec);
      if (mtls !== null) return result(mtls, "R4", [...errorEvidence, httpStatus, verifyEvidence(rec)]);
      return result("mtls_no_certificate", "R3", [...errorEvidence, httpStatus, verifyEvidence(rec)]);
    }
    if (errorInfo === INVALID_HOST) {
      return result(status === 404 ? "no_listener_match" : "invalid_host", "R3", [
        ...errorEvidence,
        httpStatus,
      ]);
    }
    const mapped = ERROR_INFO.get(errorInfo);
    if (mapped !== undefined) return result(mapped, "R3", [...errorEvidence, httpStatus]);
  }

  // R4 mTLS
  const mtls = mtlsCause(rec);
  if (mtls !== null) return result(mtls, "R4", [...errorEvidence, httpStatus, verifyEvidence(rec)]);

  // R5 status only
  if (status === 502) {
    const timeout = opts?.backendTimeoutSeconds ?? DEFAULT_BACKEND_TIMEOUT_SECONDS;
    const taken = rec.timeTakenSeconds;
    if (rec.sku === "v1" && taken !== null && taken >= V1_TIMEOUT_SHARE * timeout) {
      return result("backend_timeout", "R5", [
        ...errorEvidence,
        httpStatus,
        "sku=v1",
        `timeTaken=${seconds(taken)}`,
        `backendTimeout=${seconds(timeout)}`,
      ]);
    }
    if (rec.backendAddress === null) {
      return result("no_healthy_backend", "R5", [...errorEvidence, httpStatus, "serverRouted=none"]);
    }
    return result("backend_connection_failed", "R5", [
      ...errorEvidence,
      httpStatus,
      `serverRouted=${rec.backendAddress}`,
    ]);
  }
  const byStatus = STATUS_ONLY.get(status);
  if (byStatus !== undefined) return result(byStatus, "R5", [...errorEvidence, httpStatus]);

  // R6
  const rest = rec.backendStatus === null ? [] : [`serverStatus=${rec.backendStatus}`];
  return result("unclassified", "R6", [...errorEvidence, httpStatus, ...rest]);
}
