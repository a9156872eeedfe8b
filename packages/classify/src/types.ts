/**
 * Classification results (spec/causes.md §2–§5). Cause ids and origins are stable API.
 */

/** Origins of spec §5. */
export const Origin = {
  none: "none",
  internal: "internal",
  gateway: "gateway",
  client: "client",
  mtls: "mtls",
  waf: "waf",
  backend: "backend",
  unknown: "unknown",
} as const;
export type Origin = (typeof Origin)[keyof typeof Origin];

/** Severity of a cause, for alert routing and dashboards. */
export type Severity = "info" | "warning" | "critical";

/** The rule that decided a classification. */
export type RuleId = "R0" | "R1" | "R2" | "R3" | "R4" | "R5" | "R6" | "L4";

/** One catalog entry (spec §5). */
export interface CauseInfo {
  readonly id: CauseId;
  readonly origin: Origin;
  readonly severity: Severity;
  /** One line. */
  readonly title: string;
  /** What usually produces it. */
  readonly producedBy: string;
  /** What to check first. */
  readonly checkFirst: string;
}

/** Result of classifying one access or l4 record. */
export interface Classification {
  readonly cause: CauseId;
  readonly origin: Origin;
  readonly rule: RuleId;
  /** Evidence used, e.g. `["error_info=ERRORINFO_UPSTREAM_TIMED_OUT", "httpStatus=504"]`. */
  readonly evidence: readonly string[];
}

/** Options of the classifier (spec R5). */
export interface ClassifyOptions {
  /**
   * Backend request timeout used by the v1 502 rule, seconds.
   * @default 20
   */
  readonly backendTimeoutSeconds?: number;
}

export type CauseId =
  | "success"
  | "l4_session_ok"
  | "internal_traffic"
  | "redirect_permanent"
  | "redirect_found"
  | "redirect_see_other"
  | "redirect_temporary"
  | "no_listener_match"
  | "gateway_internal_error"
  | "service_unavailable"
  | "l4_gateway_error"
  | "l4_connection_limit"
  | "http_to_https_listener"
  | "malformed_request"
  | "invalid_method"
  | "invalid_http_version"
  | "invalid_host"
  | "missing_host_header"
  | "invalid_content_length"
  | "invalid_uri"
  | "trace_method_blocked"
  | "client_request_timeout"
  | "client_closed_connection"
  | "l4_client_data_invalid"
  | "mtls_no_certificate"
  | "mtls_certificate_expired"
  | "mtls_certificate_revoked"
  | "mtls_untrusted_chain"
  | "mtls_dn_mismatch"
  | "mtls_ocsp_failure"
  | "mtls_verification_failed"
  | "waf_block"
  | "request_body_too_large"
  | "backend_redirect"
  | "no_healthy_backend"
  | "backend_connection_failed"
  | "backend_connection_closed"
  | "backend_timeout"
  | "backend_bad_request"
  | "backend_unauthorized"
  | "backend_forbidden"
  | "backend_not_found"
  | "backend_payload_too_large"
  | "backend_rate_limited"
  | "backend_client_error"
  | "backend_internal_error"
  | "backend_bad_gateway"
  | "backend_unavailable"
  | "backend_gateway_timeout"
  | "backend_server_error"
  | "l4_backend_unreachable"
  | "unclassified";
