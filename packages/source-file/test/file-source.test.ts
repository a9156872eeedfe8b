import { mkdtempSync, realpathSync, rmSync, writeFileSync, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { isGatewatchError, type SourceBatch } from "@gatewatch/pipeline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileSource, type FileSourceOptions } from "../src/index.js";

const decoder = new TextDecoder();
const text = (b: Uint8Array): string => decoder.decode(b);
const never = new AbortController().signal;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "gatewatch-source-file-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

async function collect(opts: FileSourceOptions, signal = never): Promise<SourceBatch[]> {
  const batches: SourceBatch[] = [];
  await new FileSource(opts).run(async (b) => {
    batches.push(b);
    return Promise.resolve();
  }, signal);
  return batches;
}

const lines = (batches: SourceBatch[]): [number, string][] =>
  batches.flatMap((b) => {
    expect(b.lastSeq - b.firstSeq + 1).toBeGreaterThanOrEqual(b.bodies.length);
    return b.bodies.map(
      (x, i) =>
        [i === 0 ? b.firstSeq : i === b.bodies.length - 1 ? b.lastSeq : -1, text(x)] as [number, string],
    );
  });

const envelope = (n: number): string =>
  JSON.stringify({
    records: [
      {
        timeStamp: "2025-03-14T12:00:00+00:00",
        category: "ApplicationGatewayAccessLog",
        properties: { httpStatus: 200, n },
      },
    ],
  });

describe("FileSource NDJSON", () => {
  it("emits one body per line, partition = real path, sequence = line number", async () => {
    const path = file("plain.ndjson", `${envelope(1)}\n${envelope(2)}\n${envelope(3)}\n`);
    const batches = await collect({ paths: [path] });
    expect(batches).toHaveLength(1);
    const [b] = batches;
    expect(b!.source).toBe("file");
    expect(b!.partition).toBe(realpathSync(path));
    expect(b!.ack).toBeUndefined();
    expect([b!.firstSeq, b!.lastSeq]).toEqual([1, 3]);
    expect(b!.bodies.map(text)).toEqual([envelope(1), envelope(2), envelope(3)]);
  });

  it("hands out bodies that own their buffer (safe to transfer to a worker)", async () => {
    const batches = await collect({ paths: [file("own.ndjson", `${envelope(1)}\n${envelope(2)}\n`)] });
    for (const body of batches[0]!.bodies) {
      expect(body.byteOffset).toBe(0);
      expect(body.buffer.byteLength).toBe(body.byteLength);
    }
  });

  it("skips blank and whitespace-only lines but counts them in the sequence", async () => {
    const path = file("blank.ndjson", `\n${envelope(1)}\n\n   \n\t\n${envelope(2)}\n\n`);
    const batches = await collect({ paths: [path] });
    expect(batches).toHaveLength(1);
    expect([batches[0]!.firstSeq, batches[0]!.lastSeq]).toEqual([2, 6]);
    expect(batches[0]!.bodies.map(text)).toEqual([envelope(1), envelope(2)]);
    const perLine = await collect({ paths: [path], limits: { maxBodies: 1 } });
    expect(perLine.map((b) => [b.firstSeq, b.lastSeq])).toEqual([
      [2, 2],
      [6, 6],
    ]);
  });

  it("strips CRLF line endings and a leading byte order mark", async () => {
    const path = file("crlf.log", `\uFEFF${envelope(1)}\r\n${envelope(2)}\r\n\r\n${envelope(3)}`);
    const batches = await collect({ paths: [path] });
    expect(batches[0]!.bodies.map(text)).toEqual([envelope(1), envelope(2), envelope(3)]);
    expect([batches[0]!.firstSeq, batches[0]!.lastSeq]).toEqual([1, 4]);
  });

  it("delivers the last line without a trailing newline", async () => {
    const batches = await collect({ paths: [file("tail.txt", `${envelope(1)}\n${envelope(2)}`)] });
    expect(batches[0]!.bodies.map(text)).toEqual([envelope(1), envelope(2)]);
  });

  it("delivers lines that are not JSON untouched (the decoder dead-letters them)", async () => {
    const bad = ['{"records":[{"properties":{"clientPort":-}}]}', "not json at all", '{"records":[{"time":'];
    const batches = await collect({ paths: [file("bad.jsonl", `${envelope(1)}\n${bad.join("\n")}\n`)] });
    expect(batches[0]!.bodies.map(text)).toEqual([envelope(1), ...bad]);
  });

  it("splits lines that span read chunks", async () => {
    const content = Array.from({ length: 200 }, (_, i) => envelope(i)).join("\n");
    const batches = await collect({ paths: [file("chunks.ndjson", content)], readChunkBytes: 7 });
    expect(lines(batches).map(([, t]) => t)).toEqual(Array.from({ length: 200 }, (_, i) => envelope(i)));
  });

  it("cuts an over-long line to maxLineBytes plus a NUL marker and keeps going", async () => {
    const long = `{"records":[{"x":"${"a".repeat(100_000)}"}]}`;
    const path = file("long.ndjson", `${envelope(1)}\n${long}\n${envelope(3)}\n`);
    const src = new FileSource({ paths: [path], maxLineBytes: 1024, readChunkBytes: 4096 });
    const batches: SourceBatch[] = [];
    await src.run(async (b) => {
      batches.push(b);
      return Promise.resolve();
    }, never);
    const bodies = batches.flatMap((b) => b.bodies);
    expect(bodies).toHaveLength(3);
    expect(bodies[1]!.byteLength).toBe(1025);
    expect(bodies[1]![1024]).toBe(0);
    expect(text(bodies[1]!.subarray(0, 1024))).toBe(long.slice(0, 1024));
    expect(() => JSON.parse(text(bodies[1]!))).toThrow();
    expect(text(bodies[2]!)).toBe(envelope(3));
    expect(src.progress().truncatedLines).toBe(1);
  });
});

describe("FileSource gzip", () => {
  const content = `${envelope(1)}\n\n${envelope(2)}\r\n${envelope(3)}\n`;

  it("gunzips .gz files and yields the same batches as the plain file", async () => {
    const plain = await collect({ paths: [file("same.ndjson", content)], limits: { maxBodies: 2 } });
    const gz = await collect({
      paths: [file("same.ndjson.gz", gzipSync(content))],
      limits: { maxBodies: 2 },
    });
    const shape = (bs: SourceBatch[]): unknown => bs.map((b) => [b.firstSeq, b.lastSeq, b.bodies.map(text)]);
    expect(shape(gz)).toEqual(shape(plain));
    expect(gz[0]!.partition.endsWith("same.ndjson.gz")).toBe(true);
  });

  it("detects gzip by its magic bytes whatever the name", async () => {
    const batches = await collect({ paths: [file("disguised.log", gzipSync(content))] });
    expect(batches[0]!.bodies.map(text)).toEqual([envelope(1), envelope(2), envelope(3)]);
  });

  it("reads concatenated gzip members as one stream", async () => {
    const path = file(
      "members.ndjson.gz",
      Buffer.concat([gzipSync(`${envelope(1)}\n`), gzipSync(`${envelope(2)}\n`)]),
    );
    expect((await collect({ paths: [path] }))[0]!.bodies.map(text)).toEqual([envelope(1), envelope(2)]);
  });

  it("counts compressed bytes in progress", async () => {
    const gz = gzipSync(content.repeat(50));
    const path = file("progress.ndjson.gz", gz);
    const src = new FileSource({ paths: [path] });
    await src.run(async () => Promise.resolve(), never);
    expect(src.progress()).toMatchObject({
      bytesRead: gz.byteLength,
      totalBytes: gz.byteLength,
      filesDone: 1,
      filesTotal: 1,
      path,
    });
  });

  it("rejects a corrupt gzip file with an error naming it", async () => {
    const gz = gzipSync(content.repeat(100));
    const path = file(
      "corrupt.ndjson.gz",
      Buffer.concat([gz.subarray(0, 40), Buffer.from("garbage".repeat(20))]),
    );
    const err = await new FileSource({ paths: [path] })
      .run(async () => Promise.resolve(), never)
      .catch((e: unknown) => e);
    expect(isGatewatchError(err, "source_file_read_failed")).toBe(true);
    expect(String((err as Error).message)).toContain(path);
  });
});

describe("FileSource JSON documents", () => {
  it("emits each element of a top-level array as one body, sequence = index + 1", async () => {
    const path = file(
      "array.json",
      JSON.stringify([{ records: [{ a: 1 }] }, { time: "x", properties: {} }, 42], null, 2),
    );
    const batches = await collect({ paths: [path], limits: { maxBodies: 2 } });
    expect(batches.map((b) => [b.firstSeq, b.lastSeq, b.bodies.map(text)])).toEqual([
      [1, 2, ['{"records":[{"a":1}]}', '{"time":"x","properties":{}}']],
      [3, 3, ["42"]],
    ]);
  });

  it("emits a top-level object as one body, untouched", async () => {
    const doc = JSON.stringify({ records: [{ a: 1 }, { b: 2 }] }, null, 2);
    const batches = await collect({ paths: [file("object.json", doc)] });
    expect(batches.map((b) => [b.firstSeq, b.lastSeq, b.bodies.map(text)])).toEqual([[1, 1, [doc]]]);
  });

  it("reads .json.gz as JSON", async () => {
    const batches = await collect({
      paths: [file("array.json.gz", gzipSync(JSON.stringify([{ a: 1 }, { b: 2 }])))],
    });
    expect(batches[0]!.bodies.map(text)).toEqual(['{"a":1}', '{"b":2}']);
  });

  it("delivers an unparsable document as one body and an empty one as nothing", async () => {
    const broken = '{"records": [ {"a": 1} ';
    expect((await collect({ paths: [file("broken.json", broken)] }))[0]!.bodies.map(text)).toEqual([broken]);
    expect(await collect({ paths: [file("empty.json", "  \n")] })).toEqual([]);
  });

  it("rejects a JSON file over the size limit before reading it", async () => {
    const path = file("big.json", JSON.stringify([envelope(1), envelope(2)]));
    const err = await new FileSource({ paths: [path], maxJsonBytes: 10 })
      .run(async () => Promise.resolve(), never)
      .catch((e: unknown) => e);
    expect(isGatewatchError(err, "source_file_too_large")).toBe(true);
    expect((err as Error).message).toContain(path);
  });

  it("honours an explicit format", async () => {
    const path = file("lines.json", `${envelope(1)}\n${envelope(2)}\n`);
    expect((await collect({ paths: [path], format: "ndjson" }))[0]!.bodies).toHaveLength(2);
  });
});

describe("FileSource stdin", () => {
  it("reads standard input as NDJSON on partition stdin", async () => {
    // The second envelope is split across two chunks.
    const input = Readable.from([
      Buffer.from(`${envelope(1)}\n\n${envelope(2).slice(0, 10)}`),
      Buffer.from(`${envelope(2).slice(10)}\n`),
    ]);
    const src = new FileSource({ paths: ["-"], stdin: input });
    const batches: SourceBatch[] = [];
    await src.run(async (b) => {
      batches.push(b);
      return Promise.resolve();
    }, never);
    expect(batches.map((b) => [b.partition, b.firstSeq, b.lastSeq, b.bodies.map(text)])).toEqual([
      ["stdin", 1, 3, [envelope(1), envelope(2)]],
    ]);
    expect(src.progress().totalBytes).toBeNull();
  });

  it("reads gzip from standard input", async () => {
    const input = Readable.from([gzipSync(`${envelope(1)}\n`)]);
    expect((await collect({ paths: ["-"], stdin: input }))[0]!.bodies.map(text)).toEqual([envelope(1)]);
  });

  it("stops promptly on abort while standard input is idle", async () => {
    const input = new PassThrough();
    input.write(`${envelope(1)}\n`);
    const ac = new AbortController();
    const got: SourceBatch[] = [];
    const run = new FileSource({ paths: ["-"], stdin: input, limits: { maxBodies: 1 } }).run(async (b) => {
      got.push(b);
      return Promise.resolve();
    }, ac.signal);
    await sleep(50);
    const t0 = performance.now();
    ac.abort();
    await run;
    expect(performance.now() - t0).toBeLessThan(100);
    expect(got).toHaveLength(1);
  });
});

describe("FileSource batching", () => {
  const content = Array.from({ length: 1000 }, (_, i) => (i % 17 === 5 ? "" : envelope(i))).join("\n");

  it("cuts batches by count and bytes only, identically on every run", async () => {
    const path = file("cut.ndjson", content);
    const opts: FileSourceOptions = {
      paths: [path],
      limits: { maxBodies: 64, maxBytes: 20_000, maxWaitMs: 1 },
    };
    const ranges = async (): Promise<[string, number, number][]> =>
      (await collect(opts)).map((b) => [b.partition, b.firstSeq, b.lastSeq]);
    const first = await ranges();
    expect(first.length).toBeGreaterThan(5);
    expect(await ranges()).toEqual(first);
    for (const b of await collect(opts)) {
      expect(b.bodies.length).toBeLessThanOrEqual(64);
      expect(b.bodies.reduce((s, x) => s + x.byteLength, 0)).toBeLessThanOrEqual(20_000);
    }
    // Consecutive, non-overlapping ranges.
    for (let i = 1; i < first.length; i += 1) expect(first[i]![1]).toBeGreaterThan(first[i - 1]![2]);
  });

  it("gives a body larger than maxBytes a batch of its own", async () => {
    const big = `{"records":[{"x":"${"b".repeat(5000)}"}]}`;
    const batches = await collect({
      paths: [file("bigbody.ndjson", `${envelope(1)}\n${big}\n${envelope(3)}\n`)],
      limits: { maxBytes: 1000 },
    });
    expect(batches.map((b) => [b.firstSeq, b.lastSeq])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
  });

  it("never lets a batch span two files", async () => {
    const a = file("a.ndjson", `${envelope(1)}\n${envelope(2)}\n`);
    const b = file("b.ndjson", `${envelope(3)}\n`);
    const batches = await collect({ paths: [a, b] });
    expect(batches.map((x) => [x.partition, x.firstSeq, x.lastSeq])).toEqual([
      [realpathSync(a), 1, 2],
      [realpathSync(b), 1, 1],
    ]);
  });

  it("does not read ahead while emit is slow, and keeps one emit in flight", async () => {
    const path = file("slow.ndjson", Array.from({ length: 20_000 }, (_, i) => envelope(i)).join("\n"));
    const src = new FileSource({ paths: [path], limits: { maxBodies: 100 } });
    let inFlight = 0;
    let maxInFlight = 0;
    let consumed = 0;
    let maxAhead = 0;
    const ac = new AbortController();
    await src.run(async (b) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      consumed += b.bodies.reduce((s, x) => s + x.byteLength + 1, 0);
      maxAhead = Math.max(maxAhead, src.progress().bytesRead - consumed);
      await sleep(2);
      inFlight -= 1;
      if (consumed > 1_000_000) ac.abort();
    }, ac.signal);
    expect(maxInFlight).toBe(1);
    // Read-ahead is one stream buffer or so (64 KiB reads), not the file.
    expect(maxAhead).toBeLessThan(256 * 1024);
    expect(src.progress().bytesRead).toBeLessThan(1_500_000);
  });

  it("stops at abort mid-file and emits nothing after", async () => {
    const path = file("abort.ndjson", Array.from({ length: 5000 }, (_, i) => envelope(i)).join("\n"));
    const ac = new AbortController();
    let calls = 0;
    let afterAbort = 0;
    await new FileSource({ paths: [path, path], limits: { maxBodies: 10 } }).run(async () => {
      if (ac.signal.aborted) afterAbort += 1;
      calls += 1;
      if (calls === 3) ac.abort();
      return Promise.resolve();
    }, ac.signal);
    expect(calls).toBe(3);
    expect(afterAbort).toBe(0);
  });

  it("passes an emit failure through unchanged", async () => {
    const boom = new Error("pipeline failed");
    const err = await new FileSource({ paths: [file("emitfail.ndjson", `${envelope(1)}\n`)] })
      .run(async () => Promise.reject(boom), never)
      .catch((e: unknown) => e);
    expect(err).toBe(boom);
  });

  it("resolves when emit rejects because the pipeline shuts down after abort", async () => {
    const ac = new AbortController();
    const run = new FileSource({ paths: [file("shutdown.ndjson", `${envelope(1)}\n`)] }).run(async () => {
      ac.abort();
      return Promise.reject(new Error("shutting down"));
    }, ac.signal);
    await expect(run).resolves.toBeUndefined();
  });
});

describe("FileSource errors and progress", () => {
  it("fails fast on a missing file, naming it and the system reason, before emitting anything", async () => {
    const good = file("good.ndjson", `${envelope(1)}\n`);
    const missing = join(dir, "no-such-file.ndjson");
    let calls = 0;
    const err = await new FileSource({ paths: [good, missing] })
      .run(async () => {
        calls += 1;
        return Promise.resolve();
      }, never)
      .catch((e: unknown) => e);
    expect(isGatewatchError(err, "source_file_unreadable")).toBe(true);
    expect((err as Error).message).toContain(missing);
    expect((err as Error).message).toContain("ENOENT");
    expect(calls).toBe(0);
  });

  it("rejects a directory", async () => {
    const err = await new FileSource({ paths: [dir] })
      .run(async () => Promise.resolve(), never)
      .catch((e: unknown) => e);
    expect(isGatewatchError(err, "source_file_unreadable")).toBe(true);
    expect((err as Error).message).toContain("EISDIR");
  });

  it("rejects nonsense options", () => {
    for (const opts of [
      { paths: [] },
      { paths: ["-", "-"] },
      { paths: ["x"], limits: { maxBodies: 0 } },
      { paths: ["x"], format: "xml" as "json" },
    ]) {
      let err: unknown;
      try {
        new FileSource(opts);
      } catch (e) {
        err = e;
      }
      expect(isGatewatchError(err, "source_options_invalid"), JSON.stringify(opts)).toBe(true);
    }
  });

  it("reports progress across files", async () => {
    const a = file("p1.ndjson", `${envelope(1)}\n`);
    const b = file("p2.ndjson.gz", gzipSync(`${envelope(2)}\n`));
    const src = new FileSource({ paths: [a, b] });
    const seen: [string, number][] = [];
    await src.run(async () => {
      const p = src.progress();
      seen.push([p.path, p.filesDone]);
      return Promise.resolve();
    }, never);
    expect(seen).toEqual([
      [a, 0],
      [b, 1],
    ]);
    const total = Buffer.byteLength(`${envelope(1)}\n`) + gzipSync(`${envelope(2)}\n`).byteLength;
    expect(src.progress()).toEqual({
      bytesRead: total,
      totalBytes: total,
      path: b,
      filesDone: 2,
      filesTotal: 2,
      bodiesEmitted: 2,
      truncatedLines: 0,
    });
  });
});

describe("FileSource replay fixtures", () => {
  const fixtures = fileURLToPath(new URL("../../../test/fixtures/replay/", import.meta.url));

  it("reads sample.ndjson and sample.ndjson.gz into identical batches", async () => {
    const shape = (bs: SourceBatch[]): unknown => bs.map((b) => [b.firstSeq, b.lastSeq, b.bodies.map(text)]);
    const plain = await collect({ paths: [join(fixtures, "sample.ndjson")], limits: { maxBodies: 50 } });
    const gz = await collect({ paths: [join(fixtures, "sample.ndjson.gz")], limits: { maxBodies: 50 } });
    expect(plain.length).toBeGreaterThan(1);
    expect(shape(gz)).toEqual(shape(plain));
  });

  it("reads sample.json as one envelope", async () => {
    const batches = await collect({ paths: [join(fixtures, "sample.json")] });
    expect(batches).toHaveLength(1);
    expect(batches[0]!.bodies).toHaveLength(1);
    expect(Array.isArray(JSON.parse(text(batches[0]!.bodies[0]!)).records)).toBe(true);
  });
});

describe("FileSource memory", () => {
  it("streams a 50 MB file with bounded memory", async () => {
    const path = join(dir, "fifty.ndjson");
    const out = createWriteStream(path);
    const line = `${JSON.stringify({ records: Array.from({ length: 8 }, (_, i) => ({ timeStamp: "2025-03-14T12:00:00+00:00", properties: { i, pad: "x".repeat(100) } })) })}\n`;
    let written = 0;
    while (written < 50 * 1024 * 1024) {
      if (!out.write(line)) await new Promise<void>((r) => out.once("drain", () => r()));
      written += line.length;
    }
    await new Promise<void>((resolve, reject) =>
      out.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );

    const used = (): number => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const base = used();
    let peak = base;
    let bodies = 0;
    const src = new FileSource({ paths: [path] });
    await src.run(async (b) => {
      bodies += b.bodies.length;
      peak = Math.max(peak, used());
      return Promise.resolve();
    }, never);
    rmSync(path);
    expect(src.progress().bytesRead).toBe(written);
    expect(bodies).toBe(Math.ceil(written / line.length));
    expect(peak - base).toBeLessThan(64 * 1024 * 1024);
  });
});
