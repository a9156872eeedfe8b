/**
 * The cause catalog of spec/causes.md §5. Ids and origins are stable API (Prometheus labels,
 * ClickHouse values, alert labels); titles and advice are the project's own words, drawn from the
 * Microsoft troubleshooting material summarised in reference/appgw-logs.md.
 */
import type { CauseId, CauseInfo, Origin, RuleId, Severity } from "./types.js";

type Entry = readonly [
  id: CauseId,
  origin: Origin,
  severity: Severity,
  title: string,
  producedBy: string,
  checkFirst: string,
];

const ENTRIES: readonly Entry[] = [
  // origin none
  [
    "success",
    "none",
    "info",
    "Request served successfully (1xx/2xx)",
    "Normal traffic: the backend, or the gateway itself, answered with an informational or success status.",
    "Nothing to fix; this is the baseline that error ratios are computed against.",
  ],
  [
    "l4_session_ok",
    "none",
    "info",
    "TCP/TLS proxy session completed",
    "A layer-4 listener relayed a session to its backend and the session ended normally.",
    "Nothing to fix; if users report slowness compare session time with upstream session time.",
  ],
  // origin internal
  [
    "internal_traffic",
    "internal",
    "info",
    "Gateway-internal request from 127.0.0.1",
    "A housekeeping/security process inside the gateway instance calling its own listener; Microsoft documents these rows as safe to ignore.",
    "Nothing; such rows are stored but left out of spike detection and default totals.",
  ],
  // origin gateway
  [
    "redirect_permanent",
    "gateway",
    "info",
    "Gateway permanent redirect (301/308)",
    "A redirect configuration on a routing rule (typically HTTP to HTTPS, or an old host to a new one) answered without calling a backend.",
    "Confirm the redirect target and type on the rule are intended; a growing share means clients still use the old scheme or URL.",
  ],
  [
    "redirect_found",
    "gateway",
    "info",
    "Gateway redirect 302 Found",
    "A routing rule's redirect configuration of type Found answered without calling a backend.",
    "Check the redirect target of the matching rule; use a permanent type if the move is not temporary.",
  ],
  [
    "redirect_see_other",
    "gateway",
    "info",
    "Gateway redirect 303 See Other",
    "A routing rule's redirect configuration of type See Other answered without calling a backend.",
    "Check the redirect target of the matching rule and that clients follow it with GET as intended.",
  ],
  [
    "redirect_temporary",
    "gateway",
    "info",
    "Gateway redirect 307 Temporary",
    "A routing rule's redirect configuration of type Temporary answered without calling a backend.",
    "Check the redirect target of the matching rule; a long-lived temporary redirect is usually meant to be permanent.",
  ],
  [
    "no_listener_match",
    "gateway",
    "warning",
    "No listener matches the requested host (404 from the gateway)",
    "A v2 gateway received a Host that no multi-site listener accepts and there is no basic listener to fall back to; scanners hitting the bare IP cause many of these.",
    "Compare the requested host names with the listeners' host names (wildcards included) and DNS records; decide whether a catch-all basic listener is wanted.",
  ],
  [
    "gateway_internal_error",
    "gateway",
    "critical",
    "Gateway internal error (500 not coming from the backend)",
    "A fault inside the gateway itself; Application Gateway is not expected to produce 500 on its own.",
    "Check resource health and recent configuration operations on the gateway; if it persists, open a support case with sample transaction ids.",
  ],
  [
    "service_unavailable",
    "gateway",
    "critical",
    "Gateway answered 503 by itself",
    "The gateway could not serve the request without involving a backend, for example while scaling, updating or at its capacity limit.",
    "Check capacity-unit and instance metrics, the autoscale maximum and any ongoing update or configuration operation on the gateway.",
  ],
  [
    "l4_gateway_error",
    "gateway",
    "critical",
    "TCP/TLS proxy internal error (session status 500)",
    "The gateway's layer-4 proxy failed internally while handling the session.",
    "Check gateway resource health and recent changes to the TCP/TLS listener and backend setting; open a support case if it persists.",
  ],
  [
    "l4_connection_limit",
    "gateway",
    "critical",
    "TCP/TLS proxy refused the session (status 503, connection limit)",
    "The layer-4 proxy had no capacity for another session, typically because a connection limit was reached.",
    "Check current-connection and capacity metrics, the autoscale maximum, and clients that hold many long-lived connections.",
  ],
  // origin client
  [
    "http_to_https_listener",
    "client",
    "warning",
    "Plain HTTP sent to an HTTPS listener",
    "A client or monitor speaking http:// to a port whose listener expects TLS, with no redirect configured for it.",
    "Fix the client's URL scheme or port, or add an HTTP listener with a redirect to the HTTPS listener.",
  ],
  [
    "malformed_request",
    "client",
    "warning",
    "Malformed request rejected by the gateway (400)",
    "A request that breaks HTTP rules: illegal or non-ASCII characters, duplicate or invalid headers, or non-HTTP traffic on an HTTP port.",
    "Look at the user agent and client IPs involved; usually a broken client library, a scanner, or another protocol sent to the listener port.",
  ],
  [
    "invalid_method",
    "client",
    "warning",
    "Unknown or malformed HTTP method",
    "A request line whose method is misspelled or not an HTTP method (e.g. GET123), often from scanners or hand-written clients.",
    "Identify the client from its IP and user agent and fix the request it builds.",
  ],
  [
    "invalid_http_version",
    "client",
    "warning",
    "Invalid or unsupported HTTP version",
    "A request line with a malformed HTTP version, or an HTTP/0.9 request.",
    "Identify the client from its IP and user agent; upgrade or fix it to send HTTP/1.1 or later.",
  ],
  [
    "invalid_host",
    "client",
    "warning",
    "Invalid Host header",
    "A Host header the gateway cannot use, e.g. malformed (two colons) or otherwise unparsable.",
    "Inspect the Host values clients send (proxies that rewrite Host are a common source) and the listener host names.",
  ],
  [
    "missing_host_header",
    "client",
    "warning",
    "Request without a Host header",
    "An HTTP/1.1 request with no Host header, typically from scripts, probes or very old clients.",
    "Make the client send a Host header matching one of the listener host names.",
  ],
  [
    "invalid_content_length",
    "client",
    "warning",
    "Content-Length missing or inconsistent with the body",
    "A request whose Content-Length is invalid, missing where required, or disagrees with the body actually sent.",
    "Check the client library or an intermediate proxy that alters request bodies without fixing Content-Length.",
  ],
  [
    "invalid_uri",
    "client",
    "warning",
    "Invalid request URI",
    "A request target the gateway rejects (bad encoding, illegal characters or length).",
    "Look at the offending URIs and their clients; fix URL encoding in the client or the links that produce them.",
  ],
  [
    "trace_method_blocked",
    "client",
    "warning",
    "TRACE method refused",
    "A client sent an HTTP TRACE request, which Application Gateway does not support; usually a security scanner.",
    "Nothing on the gateway; confirm the source is an expected scanner, otherwise investigate the client.",
  ],
  [
    "client_request_timeout",
    "client",
    "warning",
    "Client too slow to send its request (408)",
    "The client opened a connection but did not finish sending the request in time (the gateway waits about 60 s).",
    "Check the client's network path and upload speed, and look for slow-request scanners coming from the same addresses.",
  ],
  [
    "client_closed_connection",
    "client",
    "warning",
    "Client closed the connection before the response finished (499, or 0 on v1)",
    "A client-side timeout shorter than the request took, users aborting large downloads, or flaky mobile networks.",
    "Compare timeTaken with the client's timeout; if the backend is slow fix that first, otherwise raise the client's timeout.",
  ],
  [
    "l4_client_data_invalid",
    "client",
    "warning",
    "TCP/TLS proxy could not parse the client's data (session status 400)",
    "The client sent data the layer-4 listener could not handle, such as plain TCP to a TLS listener or an unsupported TLS version or cipher.",
    "Check that the client speaks the listener's protocol (TLS or plain TCP, SNI) and meets the listener's SSL policy.",
  ],
  // origin mtls
  [
    "mtls_no_certificate",
    "mtls",
    "warning",
    "No valid client certificate presented (mutual TLS)",
    "The listener's SSL profile requires client authentication and the client sent no certificate, or one that is not correctly configured.",
    "Check the client is configured to send its certificate (with private key) for this host name, and that the listener uses the intended SSL profile.",
  ],
  [
    "mtls_certificate_expired",
    "mtls",
    "warning",
    "Client certificate expired",
    "The client certificate, or a certificate in its chain, is outside its validity period.",
    "Check the validity dates of the client certificate and its intermediates and renew them.",
  ],
  [
    "mtls_certificate_revoked",
    "mtls",
    "warning",
    "Client certificate revoked",
    "OCSP revocation checking is enabled and the responder reports the client certificate as revoked.",
    "Confirm the revocation with the issuing CA and give the client a new certificate.",
  ],
  [
    "mtls_untrusted_chain",
    "mtls",
    "warning",
    "Client certificate chain not trusted",
    "The client certificate's issuer is not among the trusted client CA certificates of the SSL profile, or the client sent its leaf without intermediates.",
    "Compare the client's chain with the trusted client CA certificates uploaded to the SSL profile; upload the full chain and have clients send their intermediates.",
  ],
  [
    "mtls_dn_mismatch",
    "mtls",
    "warning",
    "Client certificate issuer DN does not match",
    "The SSL profile verifies the issuer's distinguished name and the client certificate's issuer differs from the trusted CA's subject.",
    "Compare the issuer DN of the client certificate with the subject of the trusted CA; fix the chain or the issuer-DN verification setting.",
  ],
  [
    "mtls_ocsp_failure",
    "mtls",
    "warning",
    "OCSP check of the client certificate failed",
    "OCSP checking is enabled and the responder was unreachable or unresolvable, or the certificate names no OCSP responder; the first lookup can fail before the cache is warm.",
    "Check the certificate's OCSP URL (AIA), DNS resolution and outbound reachability from the gateway subnet (NSGs, UDRs, firewalls); a client retry often succeeds.",
  ],
  [
    "mtls_verification_failed",
    "mtls",
    "warning",
    "Client certificate verification failed (other reason)",
    "A client certificate failure not covered by a more specific cause, e.g. a certificate without the Client Authentication extended key usage.",
    "Read the full sslClientVerify text; check the certificate's purpose includes Client Authentication (1.3.6.1.5.5.7.3.2).",
  ],
  // origin waf
  [
    "waf_block",
    "waf",
    "warning",
    "Blocked by the web application firewall (403 from the gateway)",
    "A WAF policy in Prevention mode: a custom block rule fired, or managed-rule matches pushed the anomaly score over the threshold (rule 949110).",
    "Find the firewall records with the same transactionId to see which rules matched; for false positives add a narrow exclusion or tune that rule, not the whole WAF.",
  ],
  [
    "request_body_too_large",
    "waf",
    "warning",
    "Request body over the WAF size limit (413)",
    "The WAF is enabled and the request body or file upload exceeded the policy's maximum request body or file upload size.",
    "Compare the WAF policy's body and file-upload limits with legitimate upload sizes; raise the limit or exempt the path if the traffic is expected.",
  ],
  // origin backend
  [
    "backend_redirect",
    "backend",
    "info",
    "Backend answered with a redirect",
    "The application returned a 3xx status (login redirects, trailing slashes, scheme or host changes).",
    "If clients loop or land on the backend's own host name, check the host-name override of the backend setting or rewrite the Location header.",
  ],
  [
    "no_healthy_backend",
    "backend",
    "critical",
    "No healthy backend to send the request to (502)",
    "The backend pool is empty or every member is marked unhealthy by the health probe, often because NSGs, UDRs or custom DNS block the probes, or the app is down.",
    "Open Backend Health: check NSGs/UDRs on the gateway and backend subnets, custom DNS resolution of backend names, and that the probe host/path/port answers 200 within its timeout.",
  ],
  [
    "backend_connection_failed",
    "backend",
    "critical",
    "Request to the chosen backend failed (502)",
    "A backend member was chosen but the connection or TLS handshake failed, or it returned no valid response.",
    "Check the member at serverRouted: is the port listening, do NSGs/firewalls allow the gateway subnet, and for HTTPS do the backend certificate and SNI match the backend setting.",
  ],
  [
    "backend_connection_closed",
    "backend",
    "critical",
    "Backend closed the connection early (502)",
    "The backend reset or closed the connection before the response was complete: overload, crash, restart, or an idle timeout shorter than the gateway's.",
    "Check backend logs and resource usage at that time, and make the backend's keep-alive/idle timeout longer than the gateway's.",
  ],
  [
    "backend_timeout",
    "backend",
    "critical",
    "Backend did not answer within the request timeout",
    "The backend took longer than the backend setting's request timeout (default 20 s); v2 answers 504 and v1 answers 502.",
    "Compare timeTaken with the backend setting's request timeout and find the slow endpoints or dependencies; raise the timeout only for expected long requests.",
  ],
  [
    "backend_bad_request",
    "backend",
    "warning",
    "Backend returned 400",
    "The application rejected the request as invalid, sometimes because of a host-name override or header rewrite on the gateway.",
    "Check the application's logs for the rejection and what host and headers the gateway forwards.",
  ],
  [
    "backend_unauthorized",
    "backend",
    "warning",
    "Backend returned 401",
    "The application's authentication rejected the request; the gateway never produces 401 itself.",
    "Check the application's authentication (tokens, cookies scoped to the backend host name); if health probes get 401, add it to the probe's match conditions.",
  ],
  [
    "backend_forbidden",
    "backend",
    "warning",
    "Backend returned 403",
    "The application or platform in front of it refused the request, e.g. App Service access restrictions or a Storage firewall that does not allow the gateway.",
    "Check that the backend's access restrictions allow the gateway subnet or public IP, and that the forwarded host name is the one the backend expects.",
  ],
  [
    "backend_not_found",
    "backend",
    "warning",
    "Backend returned 404",
    "The application has no resource at the forwarded path, often after a path-based rule or URL rewrite changed it.",
    "Check the path-based rule, URL rewrite and backend path override against the paths the backend actually serves.",
  ],
  [
    "backend_payload_too_large",
    "backend",
    "warning",
    "Backend returned 413",
    "The application or its web server refused a request body over its own size limit.",
    "Check the backend web server's maximum request body size against the uploads clients make.",
  ],
  [
    "backend_rate_limited",
    "backend",
    "warning",
    "Backend returned 429",
    "The application or an API gateway behind Application Gateway throttled the client; all clients may share the gateway's address toward it.",
    "Check the backend's rate limits and whether it keys them on the gateway's address instead of the X-Forwarded-For client address.",
  ],
  [
    "backend_client_error",
    "backend",
    "warning",
    "Backend returned another 4xx",
    "The application rejected the request with a client-error status not listed separately.",
    "Check the application's logs for the status and the requests that produce it.",
  ],
  [
    "backend_internal_error",
    "backend",
    "critical",
    "Backend returned 500",
    "An unhandled error in the application.",
    "Check the application's logs and recent deployments for the failing endpoints.",
  ],
  [
    "backend_bad_gateway",
    "backend",
    "critical",
    "Backend returned its own 502",
    "The backend is itself a proxy (App Service front end, API gateway, reverse proxy) and could not reach its upstream.",
    "Look one hop further: the health of the backend's own upstream and its proxy logs.",
  ],
  [
    "backend_unavailable",
    "backend",
    "critical",
    "Backend returned 503",
    "The application is overloaded, stopped, scaling or in maintenance and said so.",
    "Check backend instance health, scaling limits and deployment slots at that time.",
  ],
  [
    "backend_gateway_timeout",
    "backend",
    "critical",
    "Backend returned its own 504",
    "The backend is itself a proxy and its upstream did not answer in time.",
    "Look one hop further: timeouts and latency between the backend proxy and its upstream.",
  ],
  [
    "backend_server_error",
    "backend",
    "critical",
    "Backend returned another 5xx",
    "The application answered with a server-error status not listed separately.",
    "Check the application's logs for the status and the requests that produce it.",
  ],
  [
    "l4_backend_unreachable",
    "backend",
    "critical",
    "TCP/TLS proxy could not reach the backend (session status 502)",
    "The layer-4 proxy could not connect to any backend member: member down, port closed, or blocked by NSGs/UDRs.",
    "Check the backend members' listening port, NSGs/UDRs between the gateway subnet and the backend, and Backend Health for the TCP setting.",
  ],
  // origin unknown
  [
    "unclassified",
    "unknown",
    "warning",
    "Status not explained by any rule",
    "A status/field combination the rules do not cover, for example an unknown error_info code with an unusual status.",
    "Look at the evidence and sample rows; if it recurs, propose a new cause id in spec/causes.md.",
  ],
];

/** Every cause of spec §5, keyed by id. Entries are frozen. */
export const CATALOG: ReadonlyMap<CauseId, CauseInfo> = new Map(
  ENTRIES.map(([id, origin, severity, title, producedBy, checkFirst]) => [
    id,
    Object.freeze({ id, origin, severity, title, producedBy, checkFirst }),
  ]),
);

/** All cause ids, in catalog order (grouped by origin as in spec §5). */
export const CAUSE_IDS: readonly CauseId[] = Object.freeze([...CATALOG.keys()]);

/** All origins of spec §5, in spec order. */
export const ORIGINS: readonly Origin[] = Object.freeze([
  "none",
  "internal",
  "gateway",
  "client",
  "mtls",
  "waf",
  "backend",
  "unknown",
] as const);

/** The catalog entry of `id`. Throws for an id that is not in the catalog (a programming error). */
export function causeInfo(id: CauseId): CauseInfo {
  const info = CATALOG.get(id);
  if (info === undefined) throw new Error(`unknown cause id ${String(id)}`);
  return info;
}

/** True when `value` is a cause id of the catalog. */
export function isCauseId(value: unknown): value is CauseId {
  return typeof value === "string" && CATALOG.has(value as CauseId);
}

/** What each rule of spec §2–3 looks at, in one sentence (for `explain`). */
export const RULES: Readonly<Record<RuleId, string>> = Object.freeze({
  R0: "Internal: the client IP is 127.0.0.1, a gateway-internal request.",
  R1: "Backend passthrough: the backend answered and the gateway relayed its status unchanged.",
  R2: "Success: a 1xx/2xx status.",
  R3: "error_info: the gateway's own error code (errorInfo) names the cause.",
  R4: "mTLS: a 400 with a failed client-certificate verification, by the failure text.",
  R5: "Status only: the gateway answered by itself; the status code (and backend address, timing) decides.",
  R6: "Unclassified: no rule matched.",
  L4: "Layer 4: a TCP/TLS proxy session, by its backend status.",
});
