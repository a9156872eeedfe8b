// The peer: ClickHouse doing the same job alone, in the same embedded engine (chdb) on the same
// machine and bodies. One INSERT … SELECT reads the pool file (one body per line), splits each body
// into records, extracts the main fields with JSONExtract*, classifies with a multiIf implementing
// spec/causes.md §2 (R0–R6) and §3 (L4), and writes a MergeTree table. It does less than gatewatch
// (no evidence, rollups, deduplication tokens, dead letters or metrics) and skips the v1-only rules
// (the pool is v2), so it is the bar for "as fast as ClickHouse itself", not an equal workload.
// Writing the file is not timed; the file is read again per INSERT until the record count is
// reached, and the figure is total records / total seconds of the INSERTs.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session } from "chdb";
import { ERROR_INFO, L4_CAUSES, PASSTHROUGH, STATUS_ONLY } from "@gatewatch/classify";
import { sampleRss, scenarioMain } from "../child.js";

const TABLE = `CREATE TABLE peer_requests (
  time DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
  gateway LowCardinality(String),
  kind LowCardinality(String),
  cause LowCardinality(String),
  status UInt16,
  backend_status Nullable(UInt16),
  error_info LowCardinality(String),
  listener LowCardinality(String),
  backend_pool LowCardinality(String),
  backend_address String,
  client_ip String,
  http_method LowCardinality(String),
  request_uri String CODEC(ZSTD(3)),
  host LowCardinality(String),
  user_agent String CODEC(ZSTD(3)),
  received_bytes UInt64,
  sent_bytes UInt64,
  time_taken Nullable(Float64),
  backend_latency Nullable(Float64),
  ssl_client_verify String,
  transaction_id String
) ENGINE = MergeTree PARTITION BY toDate(time) ORDER BY (gateway, toStartOfHour(time), cause, time)`;

const list = (values) => `[${values.map((v) => (typeof v === "number" ? v : `'${v}'`)).join(", ")}]`;
/** `transform(x, [keys], [values], otherwise)` over a table of pairs. */
const lookup = (x, pairs, otherwise) =>
  `transform(${x}, ${list(pairs.map((p) => p[0]))}, ${list(pairs.map((p) => p[1]))}, ${otherwise})`;

// The spec's rule tables (R1 passthrough, R3 error_info, R5 status only, L4), as the classifier has
// them: the peer implements the rules' logic in SQL over the same tables.
const R1 = [...PASSTHROUGH];
const R3 = [...ERROR_INFO];
const R5 = [...STATUS_ONLY];
const L4 = [...L4_CAUSES];

/** Top-level field, or the same name inside properties (spec §1: "either place"). */
const either = (name) =>
  `if(JSONHas(rec, '${name}'), JSONExtractString(rec, '${name}'), JSONExtractString(p, '${name}'))`;

/** The INSERT … SELECT over `files` (a file() path, globs allowed). */
function insertSql(path) {
  // Inner query: extraction and the pieces of the rules (aliases); outer query: the table's columns.
  return `INSERT INTO peer_requests
SELECT time, gateway, kind,
  multiIf(
    kind = 'firewall', '',
    kind = 'l4', ${lookup("srv", L4, "'unclassified'")},
    client_ip = '127.0.0.1', 'internal_traffic',
    srv != 0 AND srv = status, multiIf(
      status BETWEEN 100 AND 299, 'success',
      status BETWEEN 300 AND 399, 'backend_redirect',
      ${lookup("status", R1, "if(status >= 500, 'backend_server_error', 'backend_client_error')")}),
    status BETWEEN 100 AND 299, 'success',
    err = 'ERRORINFO_HTTPS_NO_CERT', if(mtls != '', mtls, 'mtls_no_certificate'),
    err = 'ERRORINFO_INVALID_HOST', if(status = 404, 'no_listener_match', 'invalid_host'),
    err_cause != '', err_cause,
    mtls != '', mtls,
    status = 502, if(backend_address = '', 'no_healthy_backend', 'backend_connection_failed'),
    ${lookup("status", R5, "'unclassified'")}) AS cause,
  status, if(srv = 0, NULL, srv), err, listener, backend_pool, backend_address, client_ip, http_method,
  request_uri, host, user_agent, received_bytes, sent_bytes, time_taken, backend_latency, verify,
  transaction_id
FROM (
  SELECT
    JSONExtractRaw(rec, 'properties') AS p,
    JSONExtractString(rec, 'category') AS category,
    parseDateTime64BestEffort(
      if(JSONHas(rec, 'timeStamp'), JSONExtractString(rec, 'timeStamp'), JSONExtractString(rec, 'time')), 3, 'UTC') AS time,
    lower(splitByChar('/', JSONExtractString(rec, 'resourceId'))[-1]) AS gateway,
    multiIf(category = 'ApplicationGatewayFirewallLog', 'firewall',
      JSONExtractString(p, 'protocol') = 'TCP'
        OR (NOT JSONHas(p, 'httpStatus') AND (JSONHas(p, 'sessionTime') OR JSONHas(p, 'upstreamSessionTime'))), 'l4',
      'access') AS kind,
    toUInt16(JSONExtractUInt(p, 'httpStatus')) AS status,
    toUInt16(JSONExtractUInt(p, 'serverStatus')) AS raw_srv,
    if(raw_srv BETWEEN 100 AND 599, raw_srv, 0) AS srv,
    if(JSONExtractString(p, 'error_info') = 'ERRORINFO_NO_ERROR', '', JSONExtractString(p, 'error_info')) AS err,
    ${lookup("err", R3, "''")} AS err_cause,
    JSONExtractString(p, 'sslClientVerify') AS verify,
    if(status = 400 AND startsWith(lower(trim(verify)), 'failed'), multiIf(
      positionCaseInsensitive(verify, 'revoked') > 0, 'mtls_certificate_revoked',
      positionCaseInsensitive(verify, 'expired') > 0, 'mtls_certificate_expired',
      positionCaseInsensitive(verify, 'ocsp') > 0, 'mtls_ocsp_failure',
      positionCaseInsensitive(verify, 'verify the client certificate issuer') > 0
        OR match(lower(verify), '\\\\bdn\\\\b'), 'mtls_dn_mismatch',
      positionCaseInsensitive(verify, 'issuer certificate') > 0 OR positionCaseInsensitive(verify, 'first certificate') > 0
        OR positionCaseInsensitive(verify, 'chain') > 0, 'mtls_untrusted_chain',
      'mtls_verification_failed'), '') AS mtls,
    ${either("listenerName")} AS listener,
    ${either("backendPoolName")} AS backend_pool,
    if(JSONExtractString(p, 'serverRouted') IN ('', '-'), '', JSONExtractString(p, 'serverRouted')) AS backend_address,
    if(kind = 'firewall', JSONExtractString(p, 'clientIp'), JSONExtractString(p, 'clientIP')) AS client_ip,
    JSONExtractString(p, 'httpMethod') AS http_method,
    JSONExtractString(p, 'requestUri') AS request_uri,
    if(kind = 'firewall', JSONExtractString(p, 'hostname'), JSONExtractString(p, 'host')) AS host,
    JSONExtractString(p, 'userAgent') AS user_agent,
    JSONExtractUInt(p, 'receivedBytes') AS received_bytes,
    JSONExtractUInt(p, 'sentBytes') AS sent_bytes,
    if(JSONHas(p, 'timeTaken'), JSONExtractFloat(p, 'timeTaken'), NULL) AS time_taken,
    toFloat64OrNull(JSONExtractString(p, 'serverResponseLatency')) AS backend_latency,
    JSONExtractString(p, 'transactionId') AS transaction_id
  FROM file('${path}', 'LineAsString')
  ARRAY JOIN JSONExtractArrayRaw(line, 'records') AS rec
)`;
}

await scenarioMain(async ({ poolPath, poolRecords, records }) => {
  const dir = mkdtempSync(join(tmpdir(), "gw-bench-peer-"));
  const session = new Session(dir);
  try {
    session.query(TABLE);
    const sql = insertSql(poolPath);
    const inserts = Math.ceil(records / poolRecords);
    const rss = sampleRss();
    const cpu = process.cpuUsage();
    const started = performance.now();
    // Async, so the RSS sampler keeps running while the engine works.
    for (let i = 0; i < inserts; i++) await session.queryAsync(sql);
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const stored = Number(session.query("SELECT count() FROM peer_requests", "CSV").trim());
    // The causes it found, so a reader can compare the mix with gatewatch's (one pass of the pool).
    const causes = session.query(
      `SELECT cause, count() AS n FROM peer_requests WHERE kind != 'firewall' GROUP BY cause ORDER BY n DESC`,
      "JSONCompactEachRow",
    );
    return {
      records: inserts * poolRecords,
      stored,
      seconds,
      cpuSeconds: (used.user + used.system) / 1e6,
      peakRss: rss.stop(),
      causes: causes
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
        .map(([cause, n]) => [cause, Number(n) / inserts]),
    };
  } finally {
    session.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
