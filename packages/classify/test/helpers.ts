import type { AccessRecord, L4Record } from "@gatewatch/records";

/** A v2 access record answered by the gateway itself (no backend), overridable field by field. */
export function accessRecord(overrides: Partial<AccessRecord> = {}): AccessRecord {
  return {
    kind: "access",
    index: 0,
    timeMs: Date.UTC(2024, 4, 6, 8, 0, 0),
    gateway: "agw-edge-prod",
    resourceId:
      "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/APPLICATIONGATEWAYS/AGW-EDGE-PROD",
    instanceId: "appgw_2",
    listener: "https-shop",
    rule: "rule-shop",
    backendPool: "pool-shop",
    backendSetting: "setting-shop",
    sku: "v2",
    status: 200,
    backendStatus: null,
    backendAddress: null,
    errorInfo: null,
    timeTakenSeconds: 0.034,
    backendLatencySeconds: null,
    clientIp: "185.42.129.24",
    clientPort: 45057,
    sslClientVerify: "NONE",
    wafMode: "Prevention",
    httpMethod: "GET",
    httpVersion: "HTTP/1.1",
    requestUri: "/",
    requestQuery: null,
    host: "shop.contoso.com",
    originalHost: "shop.contoso.com",
    userAgent: "curl/8.5.0",
    receivedBytes: 184,
    sentBytes: 466,
    transactionId: "592d1649f75a8d480a3c4dc6a975309d",
    sslProtocol: "TLSv1.2",
    sslCipher: "ECDHE-RSA-AES256-GCM-SHA384",
    sslEnabled: "on",
    contentType: null,
    ...overrides,
  };
}

/** An l4 session record, overridable field by field. */
export function l4Record(overrides: Partial<L4Record> = {}): L4Record {
  return {
    kind: "l4",
    index: 0,
    timeMs: Date.UTC(2024, 4, 6, 9, 0, 0),
    gateway: "agw-tcp",
    resourceId: "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/APPLICATIONGATEWAYS/AGW-TCP",
    instanceId: "appgw_0",
    listener: "tls-sql",
    rule: "rule-sql",
    backendPool: "pool-sql",
    backendSetting: "setting-sql",
    sku: "v2",
    backendStatus: 200,
    backendAddress: "10.30.0.4:1433",
    clientIp: "203.0.113.45",
    receivedBytes: 5234,
    sentBytes: 18211,
    upstreamSentBytes: 5234,
    upstreamReceivedBytes: 18211,
    sessionTimeSeconds: 12.4,
    upstreamSessionTimeSeconds: 12.4,
    sslProtocol: "TLSv1.2",
    sslCipher: "ECDHE-RSA-AES256-GCM-SHA384",
    ...overrides,
  };
}
