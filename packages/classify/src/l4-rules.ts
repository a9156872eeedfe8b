/** Rule "L4" of spec/causes.md §3: TCP/TLS proxy sessions, by their session outcome code. */
import type { L4Record } from "@gatewatch/records";

import { CATALOG } from "./catalog.js";
import type { CauseId, Classification } from "./types.js";

export const L4_CAUSES: ReadonlyMap<number, CauseId> = new Map([
  [200, "l4_session_ok"],
  [400, "l4_client_data_invalid"],
  [500, "l4_gateway_error"],
  [502, "l4_backend_unreachable"],
  [503, "l4_connection_limit"],
]);

/**
 * Classifies a layer-4 session by its `serverStatus` outcome code (spec §3); anything else is
 * `unclassified`. The 127.0.0.1 rule (R0) applies to access records only.
 */
export function classifyL4(rec: L4Record): Classification {
  const code = rec.backendStatus;
  const cause = (code === null ? undefined : L4_CAUSES.get(code)) ?? "unclassified";
  return {
    cause,
    origin: CATALOG.get(cause)?.origin ?? "unknown",
    rule: "L4",
    evidence: [code === null ? "serverStatus=none" : `serverStatus=${code}`],
  };
}
