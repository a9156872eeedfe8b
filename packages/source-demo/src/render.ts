/**
 * Renders simulated requests as Application Gateway diagnostic records, field for field as the
 * Microsoft samples show them (key order, strings-as-numbers, v1 milliseconds and `requestQuery`
 * pairs, `clientIP` vs firewall `clientIp`, names beside `properties` on v2).
 */
import type { AppModel, GatewayModel } from "./topology.js";

/** A JSON object as it goes into an envelope. */
export type JsonRecord = Record<string, unknown>;

/** Everything one HTTP request contributes to its access record. */
export interface RequestFields {
  timeMs: number;
  instanceId: string;
  /** The app whose listener matched, or null when no listener matched the host. */
  app: AppModel | null;
  clientIp: string;
  clientPort: number;
  method: string;
  uri: string;
  /** Query string without `?`, `""` when none. */
  query: string;
  userAgent: string;
  host: string;
  httpVersion: string;
  status: number;
  /** Backend status as logged (`"200"`), `""` or `"-"` when no backend answered. */
  serverStatus: string;
  /** Backend `ip:port`, `""` when none was chosen. */
  serverRouted: string;
  /** Seconds, `null` when no backend answered. */
  serverLatency: number | null;
  /** Seconds. */
  timeTaken: number;
  receivedBytes: number;
  sentBytes: number;
  errorInfo: string;
  contentType: string;
  sslClientVerify: string;
  certFingerprint: string;
  certIssuer: string;
  /** 32 hex on v2; a GUID on v1 (the `X-AzureApplicationGateway-LOG-ID` pair). */
  transactionId: string;
  wafEvaluationTime: string;
  upstreamSourcePort: string;
}

/** One WAF rule hit. */
export interface WafHit {
  readonly ruleId: string;
  readonly ruleGroup: string;
  readonly message: string;
  readonly detailsMessage: string;
  readonly data: string;
  readonly file: string;
  readonly line: string;
  readonly action: "Matched" | "Blocked" | "Detected";
}

// Records come in time order, so the formatted second is usually the previous one.
let cachedSecond = NaN;
let cachedIso = "";

function isoSecond(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedIso = new Date(second * 1000).toISOString().slice(0, 19);
  }
  return cachedIso;
}

/** `2021-10-14T22:17:11+00:00`: second precision, explicit offset (v2). */
export function v2Time(ms: number): string {
  return `${isoSecond(ms)}+00:00`;
}

/** `2017-04-26T19:27:38Z` (v1, performance log). */
export function v1Time(ms: number): string {
  return `${isoSecond(ms)}Z`;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** v2 access record (Standard_v2 / WAF_v2). */
export function renderV2Access(g: GatewayModel, f: RequestFields): JsonRecord {
  const app = f.app;
  const tls = app ? app.tls : true;
  return {
    timeStamp: v2Time(f.timeMs),
    resourceId: g.resourceId,
    listenerName: app?.listener ?? "",
    ruleName: app?.rule ?? "",
    backendPoolName: app?.pool ?? "",
    backendSettingName: app?.setting ?? "",
    operationName: "ApplicationGatewayAccess",
    category: "ApplicationGatewayAccessLog",
    properties: {
      instanceId: f.instanceId,
      clientIP: f.clientIp,
      clientPort: f.clientPort,
      httpMethod: f.method,
      originalRequestUriWithArgs: f.query === "" ? f.uri : `${f.uri}?${f.query}`,
      requestUri: f.uri,
      requestQuery: f.query,
      userAgent: f.userAgent,
      httpStatus: f.status,
      httpVersion: f.httpVersion,
      receivedBytes: f.receivedBytes,
      sentBytes: f.sentBytes,
      clientResponseTime: round3(Math.min(f.timeTaken, f.sentBytes > 200_000 ? f.timeTaken * 0.9 : 0)),
      timeTaken: round3(f.timeTaken),
      WAFEvaluationTime: f.wafEvaluationTime,
      WAFMode: g.wafMode ?? "",
      transactionId: f.transactionId,
      sslEnabled: tls ? "on" : "off",
      sslCipher: tls ? "ECDHE-RSA-AES256-GCM-SHA384" : "",
      sslProtocol: tls ? "TLSv1.2" : "",
      sslClientVerify: f.sslClientVerify,
      sslClientCertificateFingerprint: f.certFingerprint,
      sslClientCertificateIssuerName: f.certIssuer,
      serverRouted: f.serverRouted,
      serverStatus: f.serverStatus,
      serverResponseLatency: f.serverLatency === null ? "" : f.serverLatency.toFixed(3),
      upstreamSourcePort: f.upstreamSourcePort,
      originalHost: f.host,
      host: f.host,
      error_info: f.errorInfo,
      contentType: f.contentType,
    },
  };
}

/**
 * v1 access record (Standard / WAF, legacy SKU): `time`, `timeTaken` in integer milliseconds, and the
 * backend outcome only as `requestQuery` pairs.
 */
export function renderV1Access(g: GatewayModel, f: RequestFields): JsonRecord {
  const routed = f.serverRouted === "" ? "-" : f.serverRouted;
  const status = f.serverStatus === "" ? "-" : f.serverStatus;
  const meta = `X-AzureApplicationGateway-CACHE-HIT=0&SERVER-ROUTED=${routed}&X-AzureApplicationGateway-LOG-ID=${f.transactionId}&SERVER-STATUS=${status}`;
  return {
    resourceId: g.resourceId,
    operationName: "ApplicationGatewayAccess",
    time: v1Time(f.timeMs),
    category: "ApplicationGatewayAccessLog",
    properties: {
      instanceId: f.instanceId,
      clientIP: f.clientIp,
      clientPort: f.clientPort,
      httpMethod: f.method,
      requestUri: f.uri,
      requestQuery: f.query === "" ? meta : `${f.query}&${meta}`,
      userAgent: f.userAgent,
      httpStatus: f.status,
      httpVersion: f.httpVersion,
      receivedBytes: f.receivedBytes,
      sentBytes: f.sentBytes,
      timeTaken: Math.round(f.timeTaken * 1000),
      sslEnabled: f.app?.tls === false ? "off" : "on",
      host: f.host,
      originalHost: f.host,
    },
  };
}

/** Fields of one TCP/TLS proxy session. */
export interface SessionFields {
  timeMs: number;
  instanceId: string;
  app: AppModel;
  clientIp: string;
  clientPort: number;
  receivedBytes: number;
  sentBytes: number;
  sessionTime: number;
  upstreamSessionTime: number;
  serverRouted: string;
  /** `200` completed, `400` client data unparsable, `500`, `502` upstream unreachable, `503`. */
  serverStatus: string;
}

/** Layer-4 record: access-log category, `protocol: TCP`, no `httpStatus`, names inside `properties`. */
export function renderL4(g: GatewayModel, f: SessionFields): JsonRecord {
  return {
    timeStamp: v2Time(f.timeMs),
    resourceId: g.resourceId,
    operationName: "ApplicationGatewayAccess",
    category: "ApplicationGatewayAccessLog",
    properties: {
      instanceId: f.instanceId,
      clientIP: f.clientIp,
      clientPort: f.clientPort,
      receivedBytes: f.receivedBytes,
      sentBytes: f.sentBytes,
      listenerName: f.app.listener,
      ruleName: f.app.rule,
      backendSettingName: f.app.setting,
      backendPoolName: f.app.pool,
      protocol: "TCP",
      sessionTime: round3(f.sessionTime),
      upstreamSentBytes: f.receivedBytes,
      upstreamReceivedBytes: f.sentBytes,
      upstreamSessionTime: round3(f.upstreamSessionTime),
      sslCipher: "ECDHE-RSA-AES256-GCM-SHA384",
      sslProtocol: "TLSv1.3",
      serverRouted: f.serverRouted,
      serverStatus: f.serverStatus,
      ResourceGroup: g.resourceGroup,
      SubscriptionId: g.subscriptionId.toUpperCase(),
      ResourceProvider: "MICROSOFT.NETWORK",
      Resource: g.name.toUpperCase(),
      ResourceType: "APPLICATIONGATEWAYS",
      ResourceId: g.resourceId,
    },
  };
}

/** Firewall record (note `clientIp` with a lower-case `p`, `clientPort` and `details.line` as strings). */
export function renderFirewall(
  g: GatewayModel,
  timeMs: number,
  instanceId: string,
  clientIp: string,
  requestUri: string,
  hostname: string,
  transactionId: string,
  hit: WafHit,
): JsonRecord {
  return {
    timeStamp: v2Time(timeMs),
    resourceId: g.resourceId,
    operationName: "ApplicationGatewayFirewall",
    category: "ApplicationGatewayFirewallLog",
    properties: {
      instanceId,
      clientIp,
      clientPort: "",
      requestUri,
      ruleSetType: "OWASP_CRS",
      ruleSetVersion: "3.2.0",
      ruleId: hit.ruleId,
      ruleGroup: hit.ruleGroup,
      message: hit.message,
      action: hit.action,
      site: "Global",
      details: { message: hit.detailsMessage, data: hit.data, file: hit.file, line: hit.line },
      hostname,
      transactionId,
      policyId: g.policyId,
      policyScope: "Global",
      policyScopeName: g.name,
    },
  };
}

/** Performance record (v1 only, one per instance per minute, every value a string). */
export function renderPerformance(
  g: GatewayModel,
  timeMs: number,
  instanceId: string,
  v: {
    healthy: number;
    unhealthy: number;
    requests: number;
    latencyMs: number;
    failed: number;
    throughput: number;
  },
): JsonRecord {
  return {
    resourceId: g.resourceId,
    operationName: "ApplicationGatewayPerformance",
    time: v1Time(timeMs),
    category: "ApplicationGatewayPerformanceLog",
    properties: {
      instanceId,
      healthyHostCount: String(v.healthy),
      unHealthyHostCount: String(v.unhealthy),
      requestCount: String(v.requests),
      latency: String(v.latencyMs),
      failedRequestCount: String(v.failed),
      throughput: String(v.throughput),
    },
  };
}
