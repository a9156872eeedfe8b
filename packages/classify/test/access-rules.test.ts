import { describe, expect, it } from "vitest";

import { CATALOG, classifyAccess } from "../src/index.js";
import type { Classification } from "../src/index.js";
import { accessRecord } from "./helpers.js";

function expectResult(c: Classification, cause: string, rule: string): void {
  expect({ cause: c.cause, rule: c.rule }).toEqual({ cause, rule });
  expect(c.origin).toBe(CATALOG.get(c.cause)?.origin);
}

describe("R0 internal", () => {
  it.each([200, 404, 502, 0])("classifies status %d from 127.0.0.1 as internal_traffic", (status) => {
    const c = classifyAccess(
      accessRecord({
        clientIp: "127.0.0.1",
        status,
        backendStatus: 502,
        errorInfo: "ERRORINFO_UPSTREAM_NO_LIVE",
      }),
    );
    expectResult(c, "internal_traffic", "R0");
    expect(c.evidence).toContain("clientIP=127.0.0.1");
  });

  it("does not treat other loopback-looking addresses as internal", () => {
    expectResult(classifyAccess(accessRecord({ clientIp: "127.0.0.2", status: 200 })), "success", "R2");
    expectResult(classifyAccess(accessRecord({ clientIp: null, status: 200 })), "success", "R2");
  });
});

describe("R1 backend passthrough", () => {
  it.each([
    [100, "success"],
    [200, "success"],
    [204, "success"],
    [299, "success"],
    [300, "backend_redirect"],
    [301, "backend_redirect"],
    [304, "backend_redirect"],
    [399, "backend_redirect"],
    [400, "backend_bad_request"],
    [401, "backend_unauthorized"],
    [403, "backend_forbidden"],
    [404, "backend_not_found"],
    [413, "backend_payload_too_large"],
    [429, "backend_rate_limited"],
    [405, "backend_client_error"],
    [409, "backend_client_error"],
    [499, "backend_client_error"],
    [500, "backend_internal_error"],
    [502, "backend_bad_gateway"],
    [503, "backend_unavailable"],
    [504, "backend_gateway_timeout"],
    [501, "backend_server_error"],
    [507, "backend_server_error"],
    [599, "backend_server_error"],
  ])("classifies status %d with the same serverStatus as %s", (status, cause) => {
    const c = classifyAccess(accessRecord({ status, backendStatus: status, backendAddress: "10.0.0.4:443" }));
    expectResult(c, cause, "R1");
    expect(c.evidence).toEqual([`httpStatus=${status}`, `serverStatus=${status}`]);
  });

  it("wins over error_info and mTLS when the backend answered the same status", () => {
    expectResult(
      classifyAccess(
        accessRecord({ status: 504, backendStatus: 504, errorInfo: "ERRORINFO_UPSTREAM_TIMED_OUT" }),
      ),
      "backend_gateway_timeout",
      "R1",
    );
    expectResult(
      classifyAccess(
        accessRecord({ status: 400, backendStatus: 400, sslClientVerify: "FAILED:certificate has expired" }),
      ),
      "backend_bad_request",
      "R1",
    );
  });

  it("does not apply when the backend status differs or is absent", () => {
    expectResult(
      classifyAccess(accessRecord({ status: 502, backendStatus: 504, backendAddress: "10.0.0.4:443" })),
      "backend_connection_failed",
      "R5",
    );
    expectResult(
      classifyAccess(accessRecord({ status: 404, backendStatus: null })),
      "no_listener_match",
      "R5",
    );
  });
});

describe("R2 success", () => {
  it.each([100, 101, 200, 201, 206, 299])("classifies %d without backend status as success", (status) => {
    const c = classifyAccess(accessRecord({ status }));
    expectResult(c, "success", "R2");
    expect(c.evidence).toEqual([`httpStatus=${status}`]);
  });

  it("wins over error_info (the client left after a 200)", () => {
    expectResult(
      classifyAccess(accessRecord({ status: 200, errorInfo: "ERRORINFO_CLIENT_CLOSED_REQUEST" })),
      "success",
      "R2",
    );
  });

  it("covers a 2xx whose backend status differs", () => {
    expectResult(classifyAccess(accessRecord({ status: 200, backendStatus: 206 })), "success", "R2");
  });
});

describe("R3 error_info", () => {
  it.each([
    ["ERRORINFO_HTTP_TO_HTTPS_PORT", 400, "http_to_https_listener"],
    ["ERRORINFO_INVALID_METHOD", 400, "invalid_method"],
    ["ERRORINFO_INVALID_METHOD_TRACE", 405, "trace_method_blocked"],
    ["ERRORINFO_INVALID_VERSION", 400, "invalid_http_version"],
    ["ERRORINFO_INVALID_09_METHOD", 400, "invalid_http_version"],
    ["ERRORINFO_INVALID_HOST", 404, "no_listener_match"],
    ["ERRORINFO_INVALID_HOST", 400, "invalid_host"],
    ["ERRORINFO_INVALID_HOST", 421, "invalid_host"],
    ["ERRORINFO_HTTP_NO_HOST_HEADER", 400, "missing_host_header"],
    ["ERRORINFO_INVALID_CONTENT_LENGTH", 400, "invalid_content_length"],
    ["ERRORINFO_REQUEST_URI_INVALID", 400, "invalid_uri"],
    ["ERRORINFO_INVALID_REQUEST", 400, "malformed_request"],
    ["ERRORINFO_CLIENT_CLOSED_REQUEST", 499, "client_closed_connection"],
    ["ERRORINFO_CLIENT_TIMED_OUT", 408, "client_request_timeout"],
    ["ERRORINFO_UPSTREAM_NO_LIVE", 502, "no_healthy_backend"],
    ["ERRORINFO_UPSTREAM_CLOSED_CONNECTION", 502, "backend_connection_closed"],
    ["ERRORINFO_UPSTREAM_TIMED_OUT", 504, "backend_timeout"],
    ["ERRORINFO_UPSTREAM_TIMED_OUT", 502, "backend_timeout"],
    ["ERRORINFO_HTTPS_NO_CERT", 400, "mtls_no_certificate"],
  ])("classifies %s with status %d as %s", (errorInfo, status, cause) => {
    const c = classifyAccess(accessRecord({ status, errorInfo, backendAddress: "10.0.0.4:443" }));
    expectResult(c, cause, "R3");
    expect(c.evidence.slice(0, 2)).toEqual([`error_info=${errorInfo}`, `httpStatus=${status}`]);
  });

  it("lets a known error_info win over the mTLS rule and the status table", () => {
    const rec = accessRecord({
      status: 400,
      errorInfo: "ERRORINFO_INVALID_REQUEST",
      sslClientVerify: "FAILED:certificate has expired",
    });
    expectResult(classifyAccess(rec), "malformed_request", "R3");
  });

  describe("ERRORINFO_HTTPS_NO_CERT", () => {
    it.each([
      ["FAILED:certificate has expired", "mtls_certificate_expired"],
      ["FAILED:certificate revoked", "mtls_certificate_revoked"],
      ["FAILED:unable to get local issuer certificate", "mtls_untrusted_chain"],
    ])("uses R4 when it yields a cause (%s)", (verify, cause) => {
      const c = classifyAccess(
        accessRecord({ status: 400, errorInfo: "ERRORINFO_HTTPS_NO_CERT", sslClientVerify: verify }),
      );
      expectResult(c, cause, "R4");
      expect(c.evidence).toEqual([
        "error_info=ERRORINFO_HTTPS_NO_CERT",
        "httpStatus=400",
        `sslClientVerify=${verify}`,
      ]);
    });

    it.each([
      ["NONE", 400],
      ["SUCCESS", 400],
      [null, 400],
      ["FAILED:certificate has expired", 403],
    ])("is mtls_no_certificate when R4 does not yield (sslClientVerify %s, status %d)", (verify, status) => {
      expectResult(
        classifyAccess(
          accessRecord({ status, errorInfo: "ERRORINFO_HTTPS_NO_CERT", sslClientVerify: verify }),
        ),
        "mtls_no_certificate",
        "R3",
      );
    });
  });

  describe("an unknown code", () => {
    it("falls through to R4 and is kept as evidence", () => {
      const c = classifyAccess(
        accessRecord({
          status: 400,
          errorInfo: "ERRORINFO_NEW_THING",
          sslClientVerify: "FAILED:OCSP responder unreachable",
        }),
      );
      expectResult(c, "mtls_ocsp_failure", "R4");
      expect(c.evidence[0]).toBe("error_info=ERRORINFO_NEW_THING");
    });

    it("falls through to R5 and is kept as evidence", () => {
      const c = classifyAccess(
        accessRecord({ status: 502, errorInfo: "ERRORINFO_NEW_THING", backendAddress: null }),
      );
      expectResult(c, "no_healthy_backend", "R5");
      expect(c.evidence).toEqual(["error_info=ERRORINFO_NEW_THING", "httpStatus=502", "serverRouted=none"]);
    });

    it("falls through to R6 and is kept as evidence", () => {
      const c = classifyAccess(accessRecord({ status: 421, errorInfo: "ERRORINFO_NEW_THING" }));
      expectResult(c, "unclassified", "R6");
      expect(c.evidence).toEqual(["error_info=ERRORINFO_NEW_THING", "httpStatus=421"]);
    });

    it("treats a differently cased known code as unknown (codes are exact)", () => {
      expectResult(
        classifyAccess(accessRecord({ status: 504, errorInfo: "errorinfo_upstream_timed_out" })),
        "backend_timeout",
        "R5",
      );
    });
  });
});

describe("R4 mTLS", () => {
  it.each([
    ["FAILED:certificate revoked", "mtls_certificate_revoked"],
    ["FAILED:certificate has expired", "mtls_certificate_expired"],
    ["FAILED:Certificate EXPIRED", "mtls_certificate_expired"],
    ["FAILED:OCSP responder unreachable", "mtls_ocsp_failure"],
    ["FAILED:ocsp: no responder url in certificate", "mtls_ocsp_failure"],
    ["FAILED:unable to verify the client certificate issuer", "mtls_dn_mismatch"],
    ["FAILED:issuer DN mismatch", "mtls_dn_mismatch"],
    ["FAILED:DN", "mtls_dn_mismatch"],
    ["FAILED:client dn does not match", "mtls_dn_mismatch"],
    ["FAILED:unable to get issuer certificate", "mtls_untrusted_chain"],
    ["FAILED:unable to get local issuer certificate", "mtls_untrusted_chain"],
    ["FAILED:unable to verify the first certificate", "mtls_untrusted_chain"],
    ["FAILED:certificate chain too long", "mtls_untrusted_chain"],
    ["FAILED:self signed certificate in certificate CHAIN", "mtls_untrusted_chain"],
    ["FAILED:unsupported certificate purpose", "mtls_verification_failed"],
    ["FAILED", "mtls_verification_failed"],
    ["FAILED:dns resolution of responder failed", "mtls_verification_failed"],
    ["FAILED:hidden dnsname", "mtls_verification_failed"],
    ["failed:certificate revoked", "mtls_certificate_revoked"],
  ])("classifies %j on a 400 as %s", (verify, cause) => {
    const c = classifyAccess(accessRecord({ status: 400, sslClientVerify: verify }));
    expectResult(c, cause, "R4");
    expect(c.evidence).toEqual(["httpStatus=400", `sslClientVerify=${verify}`]);
  });

  it("takes the first match in the spec's order", () => {
    const cases: [string, string][] = [
      ["FAILED:revoked certificate expired", "mtls_certificate_revoked"],
      ["FAILED:expired OCSP response", "mtls_certificate_expired"],
      ["FAILED:OCSP DN", "mtls_ocsp_failure"],
      ["FAILED:DN of issuer certificate", "mtls_dn_mismatch"],
    ];
    for (const [verify, cause] of cases)
      expect(classifyAccess(accessRecord({ status: 400, sslClientVerify: verify })).cause).toBe(cause);
  });

  it.each([
    [400, "NONE", "malformed_request"],
    [400, "SUCCESS", "malformed_request"],
    [400, null, "malformed_request"],
    [400, "NOT FAILED", "malformed_request"],
    [403, "FAILED:certificate has expired", "waf_block"],
  ])("does not apply to status %d with sslClientVerify %j", (status, verify, cause) => {
    expectResult(classifyAccess(accessRecord({ status, sslClientVerify: verify })), cause, "R5");
  });

  it("keeps evidence short for long verification texts", () => {
    const c = classifyAccess(accessRecord({ status: 400, sslClientVerify: "FAILED:" + "x".repeat(1000) }));
    expect(c.evidence[1]!.length).toBeLessThanOrEqual("sslClientVerify=".length + 200);
  });
});

describe("R5 status only", () => {
  it.each([
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
  ])("classifies status %d as %s", (status, cause) => {
    const c = classifyAccess(accessRecord({ status }));
    expectResult(c, cause, "R5");
    expect(c.evidence).toEqual([`httpStatus=${status}`]);
  });

  describe("502", () => {
    const v1 = (timeTakenSeconds: number | null, backendAddress: string | null = "10.4.0.4") =>
      accessRecord({
        sku: "v1",
        status: 502,
        timeTakenSeconds,
        backendAddress,
        instanceId: "ApplicationGatewayRole_IN_0",
      });

    it("is backend_timeout on v1 when timeTaken reaches 98% of the default 20 s timeout", () => {
      const c = classifyAccess(v1(20.012));
      expectResult(c, "backend_timeout", "R5");
      expect(c.evidence).toEqual(["httpStatus=502", "sku=v1", "timeTaken=20.012s", "backendTimeout=20s"]);
      expectResult(classifyAccess(v1(19.6)), "backend_timeout", "R5");
      expectResult(classifyAccess(v1(19.6, null)), "backend_timeout", "R5");
    });

    it("is not a timeout on v1 just below 98% of the timeout", () => {
      expectResult(classifyAccess(v1(19.599)), "backend_connection_failed", "R5");
      expectResult(classifyAccess(v1(19.599, null)), "no_healthy_backend", "R5");
    });

    it("uses the configured backend timeout", () => {
      expectResult(classifyAccess(v1(25), { backendTimeoutSeconds: 30 }), "backend_connection_failed", "R5");
      const c = classifyAccess(v1(29.4), { backendTimeoutSeconds: 30 });
      expectResult(c, "backend_timeout", "R5");
      expect(c.evidence).toContain("backendTimeout=30s");
    });

    it("never uses timeTaken on v2", () => {
      expectResult(
        classifyAccess(accessRecord({ status: 502, timeTakenSeconds: 25, backendAddress: "10.0.0.4:443" })),
        "backend_connection_failed",
        "R5",
      );
    });

    it("falls back to the address check on v1 without timeTaken", () => {
      expectResult(classifyAccess(v1(null)), "backend_connection_failed", "R5");
    });

    it("is no_healthy_backend without a backend address", () => {
      const c = classifyAccess(accessRecord({ status: 502, backendAddress: null }));
      expectResult(c, "no_healthy_backend", "R5");
      expect(c.evidence).toEqual(["httpStatus=502", "serverRouted=none"]);
    });

    it("is backend_connection_failed with a backend address", () => {
      const c = classifyAccess(accessRecord({ status: 502, backendAddress: "10.0.0.4:443" }));
      expectResult(c, "backend_connection_failed", "R5");
      expect(c.evidence).toEqual(["httpStatus=502", "serverRouted=10.0.0.4:443"]);
    });
  });
});

describe("R6", () => {
  it.each([1, 99, 305, 401, 405, 406, 418, 421, 429, 451, 501, 505, 511, 600, 999])(
    "classifies status %d as unclassified",
    (status) => {
      const c = classifyAccess(accessRecord({ status }));
      expectResult(c, "unclassified", "R6");
      expect(c.evidence[0]).toBe(`httpStatus=${status}`);
    },
  );

  it("keeps a differing backend status as evidence", () => {
    expect(classifyAccess(accessRecord({ status: 501, backendStatus: 500 })).evidence).toEqual([
      "httpStatus=501",
      "serverStatus=500",
    ]);
  });
});
