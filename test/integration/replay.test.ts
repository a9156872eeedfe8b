/**
 * `gatewatch replay` end to end, in both store modes: the built CLI ingests the fixture files, and
 * the rows in ClickHouse must match, table by table and cause by cause, what `classifyLine` (the
 * spec's reference path) says the files contain — once, however often they are replayed.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyLine } from "@gatewatch/classify";
import { decodeBody } from "@gatewatch/records";
import { readCaptureEvents } from "@gatewatch/source-file";
import { createReadStream } from "node:fs";
import { startClickHouseHttp, type ClickHouseHttpFixture } from "../fixtures/clickhouse-http/index.js";
import { ROOT, runCli } from "../helpers/cli.js";

const NDJSON = join(ROOT, "test/fixtures/replay/sample.ndjson");
const GZ = join(ROOT, "test/fixtures/replay/sample.ndjson.gz");
const JSON_DOC = join(ROOT, "test/fixtures/replay/sample.json");
const AVRO = join(ROOT, "test/fixtures/capture/sample.avro");

interface Expected {
  requests: number;
  firewall: number;
  deadLetters: number;
  causes: Record<string, number>;
}

function expectedFor(text: string): Expected {
  const e: Expected = { requests: 0, firewall: 0, deadLetters: 0, causes: {} };
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    for (const out of classifyLine(line)) {
      if (out.kind === "access" || out.kind === "l4") {
        e.requests++;
        const cause = String(out.cause);
        e.causes[cause] = (e.causes[cause] ?? 0) + 1;
      } else if (out.kind === "firewall") e.firewall++;
      else if (out.kind === "invalid") e.deadLetters++;
    }
  }
  return e;
}

async function query(store: string, sql: string): Promise<Record<string, unknown>[]> {
  const r = await runCli(["query", sql, "--store", store]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r.stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function stored(store: string, db: string): Promise<Expected> {
  const [counts] = await query(
    store,
    `SELECT (SELECT count() FROM ${db}.requests) AS requests, (SELECT count() FROM ${db}.firewall_events) AS firewall, (SELECT count() FROM ${db}.dead_letters) AS deadLetters`,
  );
  const causes: Record<string, number> = {};
  for (const r of await query(store, `SELECT cause, count() AS n FROM ${db}.requests GROUP BY cause`))
    causes[String(r.cause)] = Number(r.n);
  return {
    requests: Number(counts!.requests),
    firewall: Number(counts!.firewall),
    deadLetters: Number(counts!.deadLetters),
    causes,
  };
}

function sum(a: Expected, b: Expected): Expected {
  const causes = { ...a.causes };
  for (const [k, v] of Object.entries(b.causes)) causes[k] = (causes[k] ?? 0) + v;
  return {
    requests: a.requests + b.requests,
    firewall: a.firewall + b.firewall,
    deadLetters: a.deadLetters + b.deadLetters,
    causes,
  };
}

const ndjsonExpected = expectedFor(readFileSync(NDJSON, "utf8"));
const gzExpected = expectedFor(gunzipSync(readFileSync(GZ)).toString("utf8"));

describe.each(["embedded", "http"] as const)("gatewatch replay into the %s store", (mode) => {
  let store = "";
  let db = "gatewatch";
  let dir = "";
  let server: ClickHouseHttpFixture | undefined;

  beforeAll(async () => {
    if (mode === "embedded") {
      dir = mkdtempSync(join(tmpdir(), "gw-replay-"));
      store = `embedded:${dir}`;
    } else {
      server = await startClickHouseHttp({ user: "gw", password: "s3cret" });
      store = `${server.host.replace("//", "//gw:s3cret@")}/gwtest`;
      db = "gwtest";
    }
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("stores exactly what the file holds, by table and by cause", async () => {
    expect(ndjsonExpected.requests).toBeGreaterThan(50);
    expect(ndjsonExpected.deadLetters).toBeGreaterThan(0);
    const r = await runCli(["replay", NDJSON, "--store", store, "--batch-max-bodies", "16"]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stderr.trim().split("\n").pop()!) as Record<string, unknown>;
    expect(summary).toMatchObject({
      replay: "done",
      files: 1,
      rows: {
        requests: ndjsonExpected.requests,
        firewall_events: ndjsonExpected.firewall,
        dead_letters: ndjsonExpected.deadLetters,
      },
    });
    expect(await stored(store, db)).toEqual(ndjsonExpected);
  });

  it("stores nothing twice when the same file is replayed again", async () => {
    const r = await runCli(["replay", NDJSON, "--store", store, "--batch-max-bodies", "16"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await stored(store, db)).toEqual(ndjsonExpected);
  });

  it("reads gzip files and keeps the per-minute rollup consistent with the rows", async () => {
    const r = await runCli(["replay", GZ, GZ, "--store", store, "--batch-max-bodies", "16"]);
    expect(r.code, r.stderr).toBe(0);
    const total = sum(ndjsonExpected, gzExpected);
    expect(await stored(store, db)).toEqual(total);
    const [rollup] = await query(store, `SELECT sum(requests) AS n FROM ${db}.requests_1m`);
    expect(Number(rollup!.n)).toBe(total.requests);
  });

  it("reads a JSON document", async () => {
    const records = decodeBody(readFileSync(JSON_DOC));
    const requests = records.filter((r) => r.kind === "access" || r.kind === "l4").length;
    expect(requests).toBeGreaterThan(0);
    const before = await stored(store, db);
    const r = await runCli(["replay", JSON_DOC, "--store", store]);
    expect(r.code, r.stderr).toBe(0);
    expect((await stored(store, db)).requests).toBe(before.requests + requests);
  });

  it("reads an Event Hubs Capture Avro file, once however often it is replayed", async () => {
    const lines: string[] = [];
    for await (const e of readCaptureEvents(createReadStream(AVRO), { maxBlockBytes: 1 << 26 })) {
      lines.push(Buffer.from(e.body).toString("utf8"));
    }
    const capture = expectedFor(lines.join("\n"));
    expect(capture.requests).toBeGreaterThan(0);
    expect(capture.deadLetters).toBeGreaterThan(0);
    const before = await stored(store, db);
    for (let i = 0; i < 2; i++) {
      const r = await runCli(["replay", AVRO, "--store", store]);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(await stored(store, db)).toEqual(sum(before, capture));
  });

  it("reads stdin", async () => {
    const line = readFileSync(NDJSON, "utf8")
      .split("\n")
      .find((l) => l.includes('"records"'))!;
    const one = expectedFor(line);
    const before = await stored(store, db);
    const r = await runCli(["replay", "-", "--store", store], { input: line + "\n" });
    expect(r.code, r.stderr).toBe(0);
    expect((await stored(store, db)).requests).toBe(before.requests + one.requests);
  });

  it("fails before storing anything when a file is missing", async () => {
    const before = await stored(store, db);
    const r = await runCli(["replay", NDJSON, "/nonexistent/file.ndjson", "--store", store]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("/nonexistent/file.ndjson");
    expect(await stored(store, db)).toEqual(before);
  });
});
