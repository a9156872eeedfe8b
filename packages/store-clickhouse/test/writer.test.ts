import { describe, expect, it } from "vitest";
import { GatewatchError } from "@gatewatch/pipeline";
import {
  StoreWriter,
  type ClickHouseStore,
  type EncodedTable,
  type InsertTable,
  type WriterObserver,
} from "../src/index.js";
import { compactRow, rowObject } from "../src/rows.js";

interface Insert {
  table: InsertTable;
  token: string;
  rows: string[];
}

/**
 * A store that refuses, as a whole, any insert with a row containing `BAD` (the way ClickHouse
 * refuses a batch for one row's content), and can fail the next inserts with a retriable error.
 * A repeated token is dropped, as ClickHouse's deduplication does.
 */
class FakeStore {
  readonly inserts: Insert[] = [];
  readonly stored = new Map<string, Insert>();
  failNext = 0;
  refuseDeadLetters = false;

  insertEncoded(table: InsertTable, data: Uint8Array, token: string): Promise<void> {
    const rows = Buffer.from(data)
      .toString("utf8")
      .split("\n")
      .filter((l) => l.trim() !== "");
    this.inserts.push({ table, token, rows });
    if (this.failNext > 0) {
      this.failNext--;
      return Promise.reject(new GatewatchError("store_unavailable", "connection reset", { retriable: true }));
    }
    // Dead letters quote the refused rows (BAD included): those are refused only when asked.
    const bad =
      table === "dead_letters" ? (this.refuseDeadLetters ? 0 : -1) : rows.findIndex((r) => r.includes("BAD"));
    if (bad >= 0) {
      return Promise.reject(
        new GatewatchError(
          "store_rejected_data",
          `inserting into ${table}: ClickHouse rejected the data 27 CANNOT_PARSE_INPUT_ASSERTION_FAILED: Cannot parse input (at row ${bad + 1})`,
        ),
      );
    }
    if (!this.stored.has(token)) this.stored.set(token, { table, token, rows });
    return Promise.resolve();
  }

  rowsOf(table: InsertTable): string[] {
    return [...this.stored.values()].filter((i) => i.table === table).flatMap((i) => i.rows);
  }
}

const fast = { retries: Infinity, minDelayMs: 1, maxDelayMs: 5 };

const request = (i: number, bad = false) =>
  compactRow("requests", {
    status: bad ? "BAD" : 200,
    transaction_id: `tx-${i}`,
    source: "file:a.ndjson",
    partition: "0",
    batch_seq: 40,
    body_index: i,
    record_index: 2,
  });

/** The dead letters the fake store kept, as objects. */
const deadLetters = (store: FakeStore) =>
  store.rowsOf("dead_letters").map((r) => rowObject("dead_letters", JSON.parse(r) as unknown[]));

const table = (t: InsertTable, rows: string[]): EncodedTable => ({
  table: t,
  data: Buffer.from(rows.join("\n") + "\n"),
  rows: rows.length,
});

function writer(store: FakeStore, observer: WriterObserver = {}, rawChars?: number) {
  return new StoreWriter(
    store as unknown as ClickHouseStore,
    fast,
    observer,
    rawChars === undefined ? {} : { deadLetterRawChars: rawChars },
  );
}

describe("StoreWriter with rows the server refuses", () => {
  it("stores the good rows and dead-letters exactly the refused ones, with the server's error and position", async () => {
    const store = new FakeStore();
    const rows = Array.from({ length: 10 }, (_, i) => request(i, i === 3 || i === 7));
    const rejected: [InsertTable, number, string][] = [];
    const inserted: [InsertTable, number][] = [];
    const report = await writer(store, {
      onRejectedRows: (t, n, e) => rejected.push([t, n, e.code]),
      onInsert: (t, n) => inserted.push([t, n]),
    }).write([table("requests", rows)], "src:0:40-49:abc");

    expect(store.rowsOf("requests")).toEqual(rows.filter((_, i) => i !== 3 && i !== 7));
    const letters = deadLetters(store);
    expect(letters).toHaveLength(2);
    expect(letters.map((l) => l.raw)).toEqual([rows[3], rows[7]]);
    expect(letters[0]).toMatchObject({
      reason: "store_rejected",
      raw_bytes: Buffer.byteLength(rows[3]!),
      source: "file:a.ndjson",
      partition: "0",
      batch_seq: 40,
      body_index: 3,
      record_index: 2,
    });
    expect(letters[0]!.detail).toBe(
      "requests: inserting into requests: ClickHouse rejected the data 27 CANNOT_PARSE_INPUT_ASSERTION_FAILED: Cannot parse input (at row 1)",
    );
    expect(typeof letters[0]!.received_at).toBe("number");
    expect(report.rejected).toEqual(new Map([["requests", 2]]));
    expect(rejected).toEqual([["requests", 2, "store_rejected_data"]]);
    expect(inserted).toEqual([
      ["requests", 8],
      ["dead_letters", 2],
    ]);
  });

  it("derives every split insert's token from the batch token, the table and the row range", async () => {
    const store = new FakeStore();
    const rows = Array.from({ length: 5 }, (_, i) => request(i, i === 1));
    await writer(store).write([table("requests", rows)], "tok");
    expect(store.inserts.map((i) => i.token)).toEqual([
      "tok:requests",
      "tok:requests:0-3",
      "tok:requests:0-2",
      "tok:requests:0-1",
      "tok:requests:1-2",
      "tok:requests:2-3",
      "tok:requests:3-5",
      "tok:dead_letters:rejected",
    ]);
  });

  it("splits a replay of the same batch identically, so deduplication drops every repeated insert", async () => {
    const store = new FakeStore();
    const rows = Array.from({ length: 40 }, (_, i) => request(i, i % 13 === 5));
    const batch = [table("requests", rows), table("firewall_events", [request(100), request(101, true)])];
    await writer(store).write(batch, "tok");
    const first = store.inserts.map((i) => i.token);
    const stored = new Map(store.stored);
    store.inserts.length = 0;
    await writer(store).write(batch, "tok");
    expect(store.inserts.map((i) => i.token)).toEqual(first);
    expect(store.stored).toEqual(stored);
    expect(store.rowsOf("requests")).toHaveLength(37);
    expect(store.rowsOf("firewall_events")).toEqual([request(100)]);
    // The dead letters of one batch go in one insert, whatever table their rows were meant for.
    expect(deadLetters(store).map((l) => String(l.detail).split(":")[0])).toEqual([
      "requests",
      "requests",
      "requests",
      "firewall_events",
    ]);
  });

  it("needs O(bad rows × log rows) inserts", async () => {
    const store = new FakeStore();
    const rows = Array.from({ length: 1024 }, (_, i) => request(i, i === 700));
    await writer(store).write([table("requests", rows)], "tok");
    // The whole batch, two halves per level below it (10 levels), the dead letters.
    expect(store.inserts).toHaveLength(1 + 2 * 10 + 1);
    expect(store.rowsOf("requests")).toHaveLength(1023);
  });

  it("retries retriable errors during the split", async () => {
    const store = new FakeStore();
    const rows = Array.from({ length: 4 }, (_, i) => request(i, i === 0));
    const retries: string[] = [];
    const w = writer(store, { onRetry: (t, e) => retries.push(`${t} ${e.code}`) });
    const original = store.insertEncoded.bind(store);
    let calls = 0;
    store.insertEncoded = (t, d, tok) => {
      // Fail the second and third calls (the first halves) with a dropped connection.
      if (++calls === 2 || calls === 3) store.failNext = 1;
      return original(t, d, tok);
    };
    await w.write([table("requests", rows)], "tok");
    expect(retries).toEqual(["requests store_unavailable", "requests store_unavailable"]);
    expect(store.rowsOf("requests")).toEqual(rows.slice(1));
    expect(store.rowsOf("dead_letters")).toHaveLength(1);
  });

  it("gives up with the error when a dead letter itself is refused", async () => {
    const store = new FakeStore();
    store.refuseDeadLetters = true;
    await expect(
      writer(store).write([table("requests", [request(0), request(1, true)])], "tok"),
    ).rejects.toMatchObject({ code: "store_rejected_data" });
    // The good row landed; the refused dead letters were tried once, not split.
    expect(store.rowsOf("requests")).toEqual([request(0)]);
    expect(store.inserts.filter((i) => i.table === "dead_letters")).toHaveLength(1);

    const direct = new FakeStore();
    direct.refuseDeadLetters = true;
    await expect(
      writer(direct).write([table("dead_letters", [JSON.stringify({ reason: "BAD" })])], "tok"),
    ).rejects.toMatchObject({ code: "store_rejected_data" });
    expect(direct.inserts).toHaveLength(1);
  });

  it("keeps a refused row's raw bounded and copies only position values the columns accept", async () => {
    const store = new FakeStore();
    const long = compactRow("requests", {
      user_agent: `BAD ${"é".repeat(100)}`,
      batch_seq: -1,
      body_index: "x",
      record_index: 1.5,
    });
    const notJson = "BAD {oops";
    await writer(store, {}, 20).write([table("requests", [long, notJson])], "tok");
    const letters = deadLetters(store);
    expect(letters.map((l) => l.raw)).toEqual([long.slice(0, 20), notJson]);
    expect(letters[0]).toMatchObject({
      raw_bytes: Buffer.byteLength(long),
      source: "",
      partition: "",
      batch_seq: 0,
      body_index: 0,
      record_index: 0,
    });
    expect(letters[1]).toMatchObject({ raw_bytes: 9, source: "", batch_seq: 0 });
  });

  it("stops splitting when the signal aborts", async () => {
    const store = new FakeStore();
    const ac = new AbortController();
    const rows = Array.from({ length: 64 }, (_, i) => request(i, i === 60));
    const original = store.insertEncoded.bind(store);
    store.insertEncoded = (t, d, tok) => {
      if (store.inserts.length === 2) ac.abort(new GatewatchError("aborted", "shutting down"));
      return original(t, d, tok);
    };
    await expect(writer(store).write([table("requests", rows)], "tok", ac.signal)).rejects.toMatchObject({
      code: "aborted",
    });
    expect(store.inserts.length).toBeLessThanOrEqual(3);
    expect(store.rowsOf("dead_letters")).toEqual([]);
  });

  it("fails on other errors without splitting", async () => {
    const store = new FakeStore();
    store.insertEncoded = (t, _d, token) => {
      store.inserts.push({ table: t, token, rows: [] });
      return Promise.reject(new GatewatchError("store_error", "UNKNOWN_TABLE"));
    };
    await expect(writer(store).write([table("requests", [request(0, true)])], "tok")).rejects.toMatchObject({
      code: "store_error",
    });
    expect(store.inserts).toHaveLength(1);
  });
});
