import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { classifyAccess } from "@gatewatch/classify";
import { decodeBody, type AccessRecord } from "@gatewatch/records";
import { TABLE_COLUMNS, compactRow, encodeAccessRow, rowObject } from "../src/rows.js";

const line = readFileSync(new URL("../../../test/fixtures/records/access-v2.ndjson", import.meta.url), "utf8")
  .split("\n")
  .find((l) => l.includes("backendPoolName"))!;

describe("compact row encoding", () => {
  it("puts every value under its own column (positional rows cannot swap columns silently)", () => {
    const rec = decodeBody(line)[0] as AccessRecord;
    expect(rec.kind).toBe("access");
    const c = classifyAccess(rec);
    const row = rowObject(
      "requests",
      JSON.parse(
        encodeAccessRow(rec, c, { source: "s", partition: "p", batchSeq: 7, bodyIndex: 3 }),
      ) as unknown[],
    );
    expect(row).toMatchObject({
      time: rec.timeMs,
      gateway: rec.gateway,
      kind: "access",
      cause: c.cause,
      rule: c.rule,
      status: rec.status,
      listener: rec.listener,
      rule_name: rec.rule,
      backend_pool: rec.backendPool,
      backend_setting: rec.backendSetting,
      client_ip: rec.clientIp,
      request_uri: rec.requestUri,
      host: rec.host,
      original_host: rec.originalHost ?? "",
      user_agent: rec.userAgent,
      transaction_id: rec.transactionId,
      source: "s",
      partition: "p",
      batch_seq: 7,
      body_index: 3,
      record_index: 0,
    });
    expect(Object.keys(row)).toEqual(TABLE_COLUMNS.requests);
  });

  it("round-trips an object through compactRow and rowObject, absent columns as null", () => {
    const row = JSON.parse(compactRow("dead_letters", { reason: "not_json", raw: "{" })) as unknown[];
    expect(row).toHaveLength(TABLE_COLUMNS.dead_letters.length);
    expect(rowObject("dead_letters", row)).toMatchObject({ reason: "not_json", raw: "{", detail: null });
  });
});
