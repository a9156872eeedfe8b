/**
 * The per-batch work of a classifier worker: decode every body, normalise, classify, encode rows
 * for each table and pre-aggregate metric deltas. Pure apart from the clock used to stamp dead
 * letters, so the pool and the single-threaded path give identical output for identical input.
 */
import { createHash } from "node:crypto";
import { classifyAccess, classifyL4, statusClass, type ClassifyOptions } from "@gatewatch/classify";
import { decodeBody, type DecodeOptions } from "@gatewatch/records";
import {
  encodeAccessRow,
  encodeDeadLetterRow,
  encodeFirewallRow,
  encodeL4Row,
  type RowPosition,
} from "@gatewatch/store-clickhouse/rows";
import { DeltaBuilder, type MetricDeltas } from "./deltas.js";

/** Input of one classification task. Bodies are packed into one buffer to transfer it in one move. */
export interface ClassifyTask {
  readonly source: string;
  readonly partition: string;
  readonly firstSeq: number;
  /** All bodies back to back. */
  readonly data: Uint8Array;
  /** End offset of each body in `data` (body i spans ends[i-1]..ends[i]). */
  readonly ends: Uint32Array;
  readonly decode: DecodeOptions;
  readonly classify: ClassifyOptions;
  /** Clock for dead-letter `received_at`, epoch ms (passed in so results are reproducible). */
  readonly nowMs: number;
}

/** Encoded rows of one table. */
export interface TableRows {
  readonly table: "requests" | "firewall_events" | "dead_letters";
  readonly data: Uint8Array;
  readonly rows: number;
}

/** Output of one classification task. */
export interface ClassifyResult {
  readonly tables: TableRows[];
  readonly deltas: MetricDeltas;
  /** sha256 of the bodies, hex: part of the deduplication token so a position never masks other content. */
  readonly contentHash: string;
  /** Records decoded from all bodies. */
  readonly records: number;
}

const encoder = new TextEncoder();

/** Packs bodies into a {@link ClassifyTask}'s `data` and `ends`. */
export function packBodies(bodies: readonly Uint8Array[]): { data: Uint8Array; ends: Uint32Array } {
  let total = 0;
  for (const b of bodies) total += b.byteLength;
  const data = new Uint8Array(total);
  const ends = new Uint32Array(bodies.length);
  let at = 0;
  bodies.forEach((b, i) => {
    data.set(b, at);
    at += b.byteLength;
    ends[i] = at;
  });
  return { data, ends };
}

/** Classifies one batch. Never throws for bad input: bad bodies and records become dead letters. */
export function classifyBatch(task: ClassifyTask): ClassifyResult {
  const requests: string[] = [];
  const firewall: string[] = [];
  const dead: string[] = [];
  const deltas = new DeltaBuilder();
  let records = 0;
  let start = 0;
  for (let bodyIndex = 0; bodyIndex < task.ends.length; bodyIndex++) {
    const end = task.ends[bodyIndex]!;
    const body = task.data.subarray(start, end);
    start = end;
    const pos: RowPosition = {
      source: task.source,
      partition: task.partition,
      batchSeq: task.firstSeq,
      bodyIndex,
    };
    for (const rec of decodeBody(body, task.decode)) {
      records++;
      switch (rec.kind) {
        case "access": {
          const c = classifyAccess(rec, task.classify);
          requests.push(encodeAccessRow(rec, c, pos));
          deltas.count("requests", rec.gateway, c.cause, c.origin, statusClass(rec.status));
          deltas.count("records", "access", "stored");
          if (c.cause !== "internal_traffic") {
            if (rec.timeTakenSeconds !== null)
              deltas.observe("duration", rec.gateway, rec.listener ?? "", rec.timeTakenSeconds);
            if (rec.backendLatencySeconds !== null) {
              deltas.observe("backendLatency", rec.gateway, rec.backendPool ?? "", rec.backendLatencySeconds);
            }
          }
          break;
        }
        case "l4": {
          const c = classifyL4(rec);
          requests.push(encodeL4Row(rec, c, pos));
          deltas.count("requests", rec.gateway, c.cause, c.origin, statusClass(rec.backendStatus ?? 0));
          deltas.count("records", "l4", "stored");
          break;
        }
        case "firewall":
          firewall.push(encodeFirewallRow(rec, pos));
          deltas.count("firewall", rec.gateway, rec.action);
          deltas.count("records", "firewall", "stored");
          break;
        case "invalid":
          dead.push(encodeDeadLetterRow(rec, pos, task.nowMs, body.byteLength));
          deltas.count("deadLetters", rec.reason);
          deltas.count("records", "invalid", "dead_lettered");
          break;
        case "performance":
        case "unsupported":
          deltas.count("records", rec.kind, "skipped");
          break;
      }
    }
  }
  const hash = createHash("sha256");
  hash.update(task.ends);
  hash.update(task.data);
  return {
    tables: [table("requests", requests), table("firewall_events", firewall), table("dead_letters", dead)],
    deltas: deltas.build(),
    contentHash: hash.digest("hex"),
    records,
  };
}

function table(name: TableRows["table"], rows: string[]): TableRows {
  return {
    table: name,
    data: rows.length === 0 ? new Uint8Array(0) : encoder.encode(rows.join("\n") + "\n"),
    rows: rows.length,
  };
}
