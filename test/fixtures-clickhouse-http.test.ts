// The chdb-backed ClickHouse HTTP fixture, exercised through the real @clickhouse/client HTTP transport.
import { existsSync } from "node:fs";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import {
  ClickHouseError,
  ClickHouseLogLevel,
  createClient,
  type ClickHouseClient,
  type ClickHouseSettings,
} from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startClickHouseHttp, type ClickHouseHttpFixture } from "./fixtures/clickhouse-http/index.js";

async function readAll(stream: AsyncIterable<Buffer | string>): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

async function firstRow<T>(
  c: ClickHouseClient,
  query: string,
  clickhouse_settings: ClickHouseSettings = {},
): Promise<T> {
  const [row] = await (await c.query({ query, format: "JSONEachRow", clickhouse_settings })).json<T>();
  if (row === undefined) throw new Error(`no rows from ${query}`);
  return row;
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected the promise to reject");
}

// Several tests provoke errors on purpose; the client would log each one.
const quiet = { log: { level: ClickHouseLogLevel.OFF } };

describe("ClickHouse HTTP fixture over chdb", () => {
  let fx: ClickHouseHttpFixture;
  let client: ClickHouseClient;
  const extraClients: ClickHouseClient[] = [];
  const makeClient = (cfg: Parameters<typeof createClient>[0] = {}): ClickHouseClient => {
    const c = createClient({ url: fx.url, ...quiet, ...cfg });
    extraClients.push(c);
    return c;
  };
  const count = async (table: string, c: ClickHouseClient = client): Promise<number> =>
    Number((await firstRow<{ n: number | string }>(c, `SELECT count() AS n FROM ${table}`)).n);

  beforeAll(async () => {
    fx = await startClickHouseHttp({ user: "gw", password: "s3cret:/@" });
    client = createClient({ url: fx.url, ...quiet });
  });

  afterAll(async () => {
    for (const c of [client, ...extraClients]) await c?.close();
    await fx?.stop();
  });

  it("answers ping and exposes url, port and data dir", async () => {
    expect(fx.url).toBe(`http://gw:${encodeURIComponent("s3cret:/@")}@127.0.0.1:${fx.port}/default`);
    expect(await client.ping()).toEqual({ success: true });
    expect(await (await fetch(`${fx.host}/ping`)).text()).toBe("Ok.\n");
    expect(await (await fetch(`${fx.host}/`)).text()).toBe("Ok.\n");
    expect(existsSync(fx.dataDir)).toBe(true);
  });

  it("creates a MergeTree table and inserts with client.insert and a streamed client.exec", async () => {
    await client.command({
      query: "CREATE TABLE people (id UInt32, name String) ENGINE = MergeTree ORDER BY id",
    });
    const inserted = await client.insert({
      table: "people",
      values: [
        { id: 1, name: "ada" },
        { id: 2, name: "bob" },
      ],
      format: "JSONEachRow",
    });
    // chdb reports 0 written rows; the fixture counts the payload rows itself.
    expect(inserted.summary?.written_rows).toBe("2");

    const ndjson = ['{"id":3,"name":"cy"}', '{"id":4,"name":"di"}', '{"id":5,"name":"ed"}'].join("\n") + "\n";
    const exec = await client.exec({
      query: "INSERT INTO people FORMAT JSONEachRow",
      values: Readable.from([Buffer.from(ndjson)]),
    });
    await readAll(exec.stream);
    expect(exec.summary?.written_rows).toBe("3");

    // The client's default insert format (JSONCompactEachRow) and VALUES through command().
    await client.insert({ table: "people", values: [[6, "fay"]] });
    await client.command({ query: "INSERT INTO people VALUES (7, 'g(u)y'), (8, 'hal')" });
    expect(await count("people")).toBe(8);
    const stats = await fx.stats();
    expect(stats.inserts).toBe(4);
    expect(stats.rowsInserted).toBe(8);
  });

  it("binds query_params and returns JSONEachRow rows", async () => {
    const rs = await client.query({
      query: "SELECT id, name FROM people WHERE name != {name:String} AND id < {n:UInt32} ORDER BY id",
      query_params: { name: "bob", n: 4 },
      format: "JSONEachRow",
    });
    expect(await rs.json()).toEqual([
      { id: 1, name: "ada" },
      { id: 3, name: "cy" },
    ]);
    const tricky = "it's a\ttab, a \\ backslash\nand a newline";
    const rs2 = await client.query({
      query: "SELECT {s:String} AS s, {a:Array(String)} AS a",
      query_params: { s: tricky, a: ["x'y", "z"] },
      format: "JSONEachRow",
    });
    expect(await rs2.json()).toEqual([{ s: tricky, a: ["x'y", "z"] }]);
  });

  it("answers in TabSeparated when the query names no format", async () => {
    const res = await client.exec({ query: "SELECT 1, 'a'" });
    expect(res.response_headers["x-clickhouse-format"]).toBe("TabSeparated");
    expect(await readAll(res.stream)).toBe("1\ta\n");
  });

  it("round-trips gzip request and response compression", async () => {
    const gz = makeClient({ compression: { request: true, response: true } });
    await gz.command({
      query: "CREATE TABLE zipped (id UInt32, name String) ENGINE = MergeTree ORDER BY id",
    });
    const rows = Array.from({ length: 500 }, (_, id) => ({ id, name: `name-${id}`.repeat(10) }));
    const inserted = await gz.insert({ table: "zipped", values: rows, format: "JSONEachRow" });
    expect(inserted.summary?.written_rows).toBe("500");
    const rs = await gz.query({ query: "SELECT id, name FROM zipped ORDER BY id", format: "JSONEachRow" });
    expect(rs.response_headers["content-encoding"]).toBe("gzip");
    expect(await rs.json()).toEqual(rows);
    const err = await caught(gz.query({ query: "SELECT * FROM missing_table" }));
    expect(err).toBeInstanceOf(ClickHouseError);
    expect((err as ClickHouseError).type).toBe("UNKNOWN_TABLE");
  });

  it("rejects a wrong password with AUTHENTICATION_FAILED (516)", async () => {
    const bad = makeClient({ url: `http://gw:wrong@127.0.0.1:${fx.port}` });
    const err = await caught(bad.query({ query: "SELECT 1" }));
    expect(err).toBeInstanceOf(ClickHouseError);
    expect((err as ClickHouseError).code).toBe("516");
    expect((err as ClickHouseError).type).toBe("AUTHENTICATION_FAILED");
    expect(await bad.ping()).toEqual({ success: true }); // /ping needs no credentials, as on a real server
    const res = await fetch(`${fx.host}/?query=SELECT+1`, {
      headers: { "X-ClickHouse-User": "gw", "X-ClickHouse-Key": "nope" },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get("x-clickhouse-exception-code")).toBe("516");
    expect(await res.text()).toContain(
      "Code: 516. DB::Exception: gw: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)",
    );
    const viaParams = await fetch(
      `${fx.host}/?user=gw&password=${encodeURIComponent("s3cret:/@")}&query=SELECT+7`,
    );
    expect(await viaParams.text()).toBe("7\n");
  });

  it("maps engine errors to ClickHouseError with the engine's code and type", async () => {
    const err = await caught(client.query({ query: "SELECT * FROM no_such_table" }));
    expect(err).toBeInstanceOf(ClickHouseError);
    expect((err as ClickHouseError).code).toBe("60");
    expect((err as ClickHouseError).type).toBe("UNKNOWN_TABLE");
    const syntax = await caught(client.command({ query: "SELEC 1" }));
    expect((syntax as ClickHouseError).code).toBe("62");
    expect((syntax as ClickHouseError).type).toBe("SYNTAX_ERROR");
    const setting = await caught(
      client.query({ query: "SELECT 1", clickhouse_settings: { no_such_setting: 1 } }),
    );
    expect((setting as ClickHouseError).type).toBe("UNKNOWN_SETTING");
  });

  it("does not leak settings, params, database or SET statements between requests", async () => {
    const setting = async (name: string, settings: ClickHouseSettings = {}): Promise<string> =>
      (await firstRow<{ v: string }>(client, `SELECT toString(getSetting('${name}')) AS v`, settings)).v;
    const defaultThreads = await setting("max_threads");
    expect(await setting("max_threads", { max_threads: 1 })).toBe("1");
    expect(await setting("max_threads")).toBe(defaultThreads);
    expect(await setting("insert_deduplication_token", { insert_deduplication_token: "tok" })).toBe("tok");
    expect(await setting("insert_deduplication_token")).toBe("");

    await client.query({ query: "SELECT {x:String}", query_params: { x: "a" } });
    const unset = await caught(client.query({ query: "SELECT {x:String}" }));
    expect((unset as ClickHouseError).type).toBe("UNKNOWN_QUERY_PARAMETER");

    // readonly=1 cannot be SET back to DEFAULT; the fixture starts a fresh session instead.
    await client.query({ query: "SELECT 1", clickhouse_settings: { readonly: "1" } });
    await client.command({ query: "CREATE TABLE after_readonly (x UInt8) ENGINE = Memory" });

    await client.command({ query: "SET max_threads = 3" });
    expect(await setting("max_threads")).toBe(defaultThreads);

    await client.command({ query: "CREATE DATABASE other" });
    const other = makeClient({ url: fx.url.replace(/\/default$/, "/other") });
    const db = async (c: ClickHouseClient): Promise<string> =>
      (await firstRow<{ d: string }>(c, "SELECT currentDatabase() AS d")).d;
    expect(await db(other)).toBe("other");
    expect(await db(client)).toBe("default");
  });

  it("deduplicates a repeated insert with the same insert_deduplication_token", async () => {
    await client.command({
      query:
        "CREATE TABLE dedup (id UInt32) ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 100",
    });
    const insert = (id: number, token: string) =>
      client.insert({
        table: "dedup",
        values: [{ id }],
        format: "JSONEachRow",
        clickhouse_settings: { insert_deduplication_token: token, async_insert: 0 },
      });
    await insert(1, "batch-1");
    await insert(1, "batch-1");
    expect(await count("dedup")).toBe(1);
    // The token replaces the block hash: different rows under a used token are dropped too.
    await insert(2, "batch-1");
    expect(await count("dedup")).toBe(1);
    await insert(2, "batch-2");
    expect(await count("dedup")).toBe(2);
  });

  it("returns 64-bit integers quoted or unquoted as output_format_json_quote_64bit_integers says", async () => {
    const query = "SELECT toUInt64('18446744073709551615') AS u, toInt64('-9007199254740993') AS i";
    const quoted = await client.query({
      query,
      format: "JSONEachRow",
      clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
    });
    expect(await quoted.json()).toEqual([{ u: "18446744073709551615", i: "-9007199254740993" }]);
    const bare = await client.query({
      query,
      format: "JSONEachRow",
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    });
    expect(await bare.text()).toBe('{"u":18446744073709551615,"i":-9007199254740993}\n');
  });

  it("injects error, refuse and stall faults, then recovers", async () => {
    await fx.fault("error", 2);
    for (let i = 0; i < 2; i++) {
      const err = await caught(client.query({ query: "SELECT 1" }));
      expect(err).toBeInstanceOf(ClickHouseError);
      expect((err as ClickHouseError).code).toBe("202");
      expect((err as ClickHouseError).type).toBe("TOO_MANY_SIMULTANEOUS_QUERIES");
    }
    expect(await (await client.query({ query: "SELECT 1 AS one", format: "JSONEachRow" })).json()).toEqual([
      { one: 1 },
    ]);

    await fx.fault("error", 1);
    expect((await client.ping()).success).toBe(false);
    expect((await client.ping()).success).toBe(true);

    await fx.fault("refuse", 1);
    const refused = await caught(client.query({ query: "SELECT 1" }));
    expect(refused).not.toBeInstanceOf(ClickHouseError);
    expect(await count("people")).toBe(8);

    // A stalled insert times out on the client but still lands on the server.
    await client.command({ query: "CREATE TABLE stalled (id UInt32) ENGINE = MergeTree ORDER BY id" });
    await fx.fault("stall", 1, 1500);
    const impatient = makeClient({ request_timeout: 300 });
    const timedOut = await caught(
      impatient.insert({ table: "stalled", values: [{ id: 1 }], format: "JSONEachRow" }),
    );
    expect((timedOut as Error).message).toMatch(/timeout/i);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await count("stalled")).toBe(1);

    await fx.fault("error", 5);
    await fx.fault("none");
    expect(await count("people")).toBe(8);
    const stats = await fx.stats();
    expect(stats.faults).toBe(5);
  });

  it("refuses a whole insert with a row matching rejectRowsMatching, gzip bodies included, as ClickHouse does", async () => {
    await client.command({
      query: "CREATE TABLE refused (id UInt32, tag String) ENGINE = MergeTree ORDER BY id",
    });
    const rows = [
      { id: 1, tag: "ok" },
      { id: 2, tag: "poison-2" },
      { id: 3, tag: "ok" },
    ];
    const before = (await fx.stats()).rejected;
    await fx.rejectRowsMatching("poison");
    const gz = makeClient({ compression: { request: true, response: true } });
    for (const c of [client, gz]) {
      const err = await caught(c.insert({ table: "refused", values: rows, format: "JSONEachRow" }));
      expect(err).toBeInstanceOf(ClickHouseError);
      expect((err as ClickHouseError).code).toBe("27");
      expect((err as ClickHouseError).type).toBe("CANNOT_PARSE_INPUT_ASSERTION_FAILED");
      expect((err as ClickHouseError).message).toContain(
        `Cannot parse input: expected ',' before: 'poison-2"}': (at row 2)`,
      );
    }
    // On the wire: ClickHouse's status for code 27, its header and its text.
    const res = await fetch(
      `${fx.host}/?query=${encodeURIComponent("INSERT INTO refused FORMAT JSONEachRow")}`,
      {
        method: "POST",
        headers: { "X-ClickHouse-User": "gw", "X-ClickHouse-Key": "s3cret:/@", "Content-Encoding": "gzip" },
        body: gzipSync(rows.map((r) => JSON.stringify(r)).join("\n") + "\n"),
      },
    );
    expect(res.status).toBe(400);
    expect(res.headers.get("x-clickhouse-exception-code")).toBe("27");
    expect(await res.text()).toMatch(
      /^Code: 27\. DB::Exception: Cannot parse input: expected ',' before: 'poison-2"}': \(at row 2\)\n: While executing ParallelParsingBlockInputFormat: data for INSERT was parsed from query\. \(CANNOT_PARSE_INPUT_ASSERTION_FAILED\) \(version [\d.]+\)\n$/,
    );
    // Nothing of a refused insert was written; rows without the marker and queries naming it pass.
    expect(await count("refused")).toBe(0);
    await gz.insert({ table: "refused", values: [rows[0], rows[2]], format: "JSONEachRow" });
    expect(await firstRow(client, "SELECT 'poison' AS p")).toEqual({ p: "poison" });
    expect(await count("refused")).toBe(2);
    expect((await fx.stats()).rejected - before).toBe(3);

    await fx.rejectRowsMatching(null);
    await client.insert({ table: "refused", values: [rows[1]], format: "JSONEachRow" });
    expect(await count("refused")).toBe(3);
  });

  it("keeps data across restart() and kill() + restart() on the same port", async () => {
    const port = fx.port;
    await fx.restart();
    expect(fx.port).toBe(port);
    expect(await count("people")).toBe(8);
    await client.insert({ table: "people", values: [{ id: 9, name: "ivy" }], format: "JSONEachRow" });
    await fx.kill();
    expect((await client.ping()).success).toBe(false);
    await fx.restart();
    expect(await count("people")).toBe(9);
    expect(await count("dedup")).toBe(2);
  });
});

describe("ClickHouse HTTP fixture lifecycle", () => {
  it("stops gracefully and removes the temp data dir it created", async () => {
    const fx = await startClickHouseHttp();
    expect(fx.url).toBe(`http://default:@127.0.0.1:${fx.port}/default`);
    const c = createClient({ url: fx.url, ...quiet });
    expect(await c.ping()).toEqual({ success: true });
    await c.close();
    await fx.stop();
    expect(existsSync(fx.dataDir)).toBe(false);
    await expect(fetch(`${fx.host}/ping`)).rejects.toThrow();
  });

  it("finishes the request in flight on stop()", async () => {
    const fx = await startClickHouseHttp();
    const c = createClient({ url: fx.url, ...quiet });
    await fx.fault("stall", 1, 400);
    const pending = c.query({ query: "SELECT 42 AS answer", format: "JSONEachRow" });
    await new Promise((r) => setTimeout(r, 100));
    await fx.stop();
    expect(await (await pending).json()).toEqual([{ answer: 42 }]);
    await c.close();
  });

  it("rejects with the child's stderr when the server cannot start", async () => {
    const first = await startClickHouseHttp();
    try {
      const err = await caught(startClickHouseHttp({ dataDir: first.dataDir }));
      expect((err as Error).message).toMatch(/exited early[\s\S]*Cannot lock file/);
    } finally {
      await first.stop();
    }
  });
});
