// The bench's input: a fixed, seeded pool of realistic Event Hubs bodies of exactly 100 records each.
// The demo generator makes bodies of 1..40 records of one gateway; we regroup its records per gateway
// into bodies of 100 so every scenario divides by the same, round number of records per body, and
// keep the generator's quirks (the partner gateway escapes "/" as "\/"). Only the two v2 gateways
// are generated (v2 access, their firewall and L4/TCP records): today's deployments, and the record
// sizes Event Hubs captures show. The pool is generated once per run by the parent and handed to the
// scenario children as an NDJSON file (one body per line), which the peer scenario also reads.
import { readFileSync, writeFileSync } from "node:fs";
import { createDemoGenerator } from "@gatewatch/source-demo";

/** Records in every body of the pool. */
export const RECORDS_PER_BODY = 100;

// Fixed so every run (and every machine) measures the same bytes.
const SEED = 11;
const START_MS = Date.UTC(2026, 10, 1, 12);

/**
 * Generates `bodies` bodies of {@link RECORDS_PER_BODY} records each, as UTF-8 JSON
 * `{"records":[...]}`. 2000 records per simulated second with an incident every 8 simulated seconds
 * (lasting 2), so the 100k records of the default pool cover ~50 s of traffic and every demo incident
 * (pool outage, slow backend, WAF attack, expired client certificates, ...) shows up in the mix.
 */
export function generatePool(bodies) {
  const gen = createDemoGenerator({
    seed: SEED,
    gateways: 2,
    ratePerSecond: 2000,
    tickMs: 250,
    startTimeMs: START_MS,
    incidentPeriodSeconds: 8,
    incidentDurationSeconds: 2,
  });
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const pending = new Map(); // resourceId -> { escaped, records }
  const out = [];
  for (let tick = 0; out.length < bodies; tick++) {
    for (const raw of gen.bodiesAt(tick)) {
      const text = decoder.decode(raw);
      for (const rec of JSON.parse(text).records) {
        let group = pending.get(rec.resourceId);
        if (!group) pending.set(rec.resourceId, (group = { escaped: text.includes("\\/"), records: [] }));
        group.records.push(rec);
        if (group.records.length < RECORDS_PER_BODY) continue;
        let json = JSON.stringify({ records: group.records });
        if (group.escaped) json = json.replaceAll("/", "\\/");
        group.records = [];
        if (out.length < bodies) out.push(encoder.encode(json));
      }
    }
  }
  return out;
}

/** Writes bodies as NDJSON, one body per line (JSON.stringify output has no raw newline). */
export function writePool(path, bodies) {
  const lines = bodies.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  const parts = lines.flatMap((l) => [l, Buffer.from("\n")]);
  writeFileSync(path, Buffer.concat(parts));
}

/**
 * Reads a pool file back. Each body gets its own ArrayBuffer, as bodies from Event Hubs do, so nothing
 * in a scenario depends on bodies sharing one allocation.
 */
export function readPool(path) {
  const data = readFileSync(path);
  const bodies = [];
  let start = 0;
  for (let i = data.indexOf(10); i !== -1; i = data.indexOf(10, start)) {
    bodies.push(new Uint8Array(data.subarray(start, i)));
    start = i + 1;
  }
  return bodies;
}

/** Total bytes of some bodies. */
export function poolBytes(bodies) {
  return bodies.reduce((n, b) => n + b.byteLength, 0);
}
