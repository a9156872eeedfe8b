/**
 * v1 gateways put routing metadata into `requestQuery` as query pairs (reference §1.4):
 * `X-AzureApplicationGateway-CACHE-HIT=0&SERVER-ROUTED=10.4.0.4&X-AzureApplicationGateway-LOG-ID=<guid>&SERVER-STATUS=404`.
 *
 * The client's own query string comes first, so a client could send `?SERVER-STATUS=200` itself.
 * The gateway appends its pairs after the client's, so the LAST occurrence of each key wins.
 */

/** Marker substrings that identify a v1 `requestQuery` (spec §1 `sku`). */
export const V1_QUERY_MARKERS = ["SERVER-ROUTED=", "X-AzureApplicationGateway-LOG-ID="] as const;

/** The metadata pairs of a v1 `requestQuery`, URL-decoded; absent pairs are undefined. */
export interface V1QueryPairs {
  routed?: string;
  status?: string;
  logId?: string;
}

function decode(value: string): string {
  if (!value.includes("%")) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** True when `query` carries one of the v1 markers. */
export function hasV1Markers(query: string): boolean {
  return query.includes(V1_QUERY_MARKERS[0]) || query.includes(V1_QUERY_MARKERS[1]);
}

/** Reads the v1 metadata pairs from a `requestQuery` string. */
export function readV1Pairs(query: string): V1QueryPairs {
  const out: V1QueryPairs = {};
  const q = query.startsWith("?") ? query.slice(1) : query;
  for (const pair of q.split("&")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) continue;
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (key === "SERVER-ROUTED") out.routed = decode(value);
    else if (key === "SERVER-STATUS") out.status = decode(value);
    else if (key === "X-AzureApplicationGateway-LOG-ID") out.logId = decode(value);
  }
  return out;
}
