/**
 * Scheduled incidents of the demo generator. Each one produces access records shaped the way the
 * gateway logs that failure, so that the rules of spec/causes.md yield {@link DemoIncident.cause}.
 */

/** Ids of the demo incidents, in schedule order. */
export const DemoIncidentId = {
  poolOutage: "pool_outage",
  slowBackend: "slow_backend",
  wafAttack: "waf_attack",
  expiredClientCertificates: "expired_client_certificates",
  abortedDownloads: "aborted_downloads",
  missingListener: "missing_listener",
} as const;
/** One of {@link DemoIncidentId}. */
export type DemoIncidentId = (typeof DemoIncidentId)[keyof typeof DemoIncidentId];

/** A scheduled incident and the signature of the access records it produces. */
export interface DemoIncident {
  readonly id: DemoIncidentId;
  /** Cause id (spec/causes.md) the classifier must give its access records. */
  readonly cause: string;
  /** One line for logs and dashboards. */
  readonly title: string;
  /** Key of the application it hits (see the package README for the estate). */
  readonly app: string;
  /** `properties.httpStatus` of its access records. */
  readonly status: number;
  /** `properties.error_info` of its access records. */
  readonly errorInfo: string;
}

/** Every incident the generator can schedule, in the order the schedule cycles through them. */
export const DEMO_INCIDENTS: readonly DemoIncident[] = [
  {
    id: "pool_outage",
    cause: "no_healthy_backend",
    title: "Orders API pool has no healthy member: 502 with no backend routed",
    app: "orders-api",
    status: 502,
    errorInfo: "ERRORINFO_UPSTREAM_NO_LIVE",
  },
  {
    id: "slow_backend",
    cause: "backend_timeout",
    title: "Catalog API exceeds the 20 s backend timeout: v2 answers 504",
    app: "catalog-api",
    status: 504,
    errorInfo: "ERRORINFO_UPSTREAM_TIMED_OUT",
  },
  {
    id: "waf_attack",
    cause: "waf_block",
    title: "SQL injection burst blocked by the WAF (942100 matched, 949110 blocked)",
    app: "shop-www",
    status: 403,
    errorInfo: "ERRORINFO_NO_ERROR",
  },
  {
    id: "expired_client_certificates",
    cause: "mtls_certificate_expired",
    title: "A partner's client certificate expired: mTLS listener answers 400",
    app: "partner-api",
    status: 400,
    errorInfo: "ERRORINFO_HTTPS_NO_CERT",
  },
  {
    id: "aborted_downloads",
    cause: "client_closed_connection",
    title: "Clients abort large downloads: 499",
    app: "downloads",
    status: 499,
    errorInfo: "ERRORINFO_CLIENT_CLOSED_REQUEST",
  },
  {
    id: "missing_listener",
    cause: "no_listener_match",
    title: "Traffic for a host name with no listener after a DNS change: 404",
    app: "shop-www",
    status: 404,
    errorInfo: "ERRORINFO_INVALID_HOST",
  },
];
