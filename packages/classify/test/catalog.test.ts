import { describe, expect, it } from "vitest";

import { CATALOG, CAUSE_IDS, ORIGINS, causeInfo, isCauseId } from "../src/index.js";
import type { CauseId } from "../src/index.js";

/** spec/causes.md §5, copied by hand. */
const SPEC_ORIGINS: Record<string, readonly string[]> = {
  none: ["success", "l4_session_ok"],
  internal: ["internal_traffic"],
  gateway: [
    "redirect_permanent",
    "redirect_found",
    "redirect_see_other",
    "redirect_temporary",
    "no_listener_match",
    "gateway_internal_error",
    "service_unavailable",
    "l4_gateway_error",
    "l4_connection_limit",
  ],
  client: [
    "http_to_https_listener",
    "malformed_request",
    "invalid_method",
    "invalid_http_version",
    "invalid_host",
    "missing_host_header",
    "invalid_content_length",
    "invalid_uri",
    "trace_method_blocked",
    "client_request_timeout",
    "client_closed_connection",
    "l4_client_data_invalid",
  ],
  mtls: [
    "mtls_no_certificate",
    "mtls_certificate_expired",
    "mtls_certificate_revoked",
    "mtls_untrusted_chain",
    "mtls_dn_mismatch",
    "mtls_ocsp_failure",
    "mtls_verification_failed",
  ],
  waf: ["waf_block", "request_body_too_large"],
  backend: [
    "backend_redirect",
    "no_healthy_backend",
    "backend_connection_failed",
    "backend_connection_closed",
    "backend_timeout",
    "backend_bad_request",
    "backend_unauthorized",
    "backend_forbidden",
    "backend_not_found",
    "backend_payload_too_large",
    "backend_rate_limited",
    "backend_client_error",
    "backend_internal_error",
    "backend_bad_gateway",
    "backend_unavailable",
    "backend_gateway_timeout",
    "backend_server_error",
    "l4_backend_unreachable",
  ],
  unknown: ["unclassified"],
};
const SPEC_PAIRS = Object.entries(SPEC_ORIGINS).flatMap(([origin, ids]) =>
  ids.map((id) => [id, origin] as const),
);

describe("CATALOG", () => {
  it("holds exactly the 52 ids of spec §5", () => {
    expect(SPEC_PAIRS).toHaveLength(52);
    expect([...CATALOG.keys()].sort()).toEqual(SPEC_PAIRS.map(([id]) => id).sort());
    expect([...CAUSE_IDS].sort()).toEqual(SPEC_PAIRS.map(([id]) => id).sort());
    expect(new Set(CAUSE_IDS).size).toBe(CAUSE_IDS.length);
  });

  it.each(SPEC_PAIRS)("gives %s the origin %s", (id, origin) => {
    expect(causeInfo(id as CauseId).origin).toBe(origin);
  });

  it("lists the spec's origins", () => {
    expect([...ORIGINS]).toEqual(Object.keys(SPEC_ORIGINS));
  });

  it.each([...CATALOG.values()])("describes $id completely", (info) => {
    expect(info.id).toMatch(/^[a-z0-9_]+$/);
    expect(["info", "warning", "critical"]).toContain(info.severity);
    for (const text of [info.title, info.producedBy, info.checkFirst]) {
      expect(text.trim().length).toBeGreaterThan(10);
      expect(text).not.toMatch(/\n/);
    }
    expect(Object.isFrozen(info)).toBe(true);
  });

  it("rates success and redirects info, client errors warning, backend 5xx critical", () => {
    for (const id of [
      "success",
      "l4_session_ok",
      "internal_traffic",
      "redirect_found",
      "backend_redirect",
    ] as const) {
      expect(causeInfo(id).severity).toBe("info");
    }
    for (const id of [
      "malformed_request",
      "client_closed_connection",
      "mtls_dn_mismatch",
      "waf_block",
      "backend_not_found",
    ] as const) {
      expect(causeInfo(id).severity).toBe("warning");
    }
    for (const id of [
      "no_healthy_backend",
      "backend_timeout",
      "backend_internal_error",
      "gateway_internal_error",
      "l4_backend_unreachable",
    ] as const) {
      expect(causeInfo(id).severity).toBe("critical");
    }
  });

  it("throws for an id outside the catalog and tells ids apart", () => {
    expect(() => causeInfo("nope" as CauseId)).toThrow();
    expect(isCauseId("backend_timeout")).toBe(true);
    expect(isCauseId("constructor")).toBe(false);
    expect(isCauseId(1)).toBe(false);
  });
});
