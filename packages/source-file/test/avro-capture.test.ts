import {
  createWriteStream,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { gzipSync } from "node:zlib";
import { isGatewatchError, type SourceBatch } from "@gatewatch/pipeline";
import avro from "avsc";
import type { Schema } from "avsc";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileSource, type FileSourceOptions } from "../src/index.js";

const decoder = new TextDecoder();
const text = (b: Uint8Array): string => decoder.decode(b);
const never = new AbortController().signal;
const fixtures = fileURLToPath(new URL("../../../test/fixtures/capture/", import.meta.url));
const sample = join(fixtures, "sample.avro");

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "gatewatch-source-file-avro-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The record schema in the header of Event Hubs Capture files. */
const captureSchema = {
  type: "record",
  name: "EventData",
  namespace: "Microsoft.ServiceBus.Messaging",
  fields: [
    { name: "SequenceNumber", type: "long" },
    { name: "Offset", type: "string" },
    { name: "EnqueuedTimeUtc", type: "string" },
    { name: "SystemProperties", type: { type: "map", values: ["long", "double", "string", "bytes"] } },
    { name: "Properties", type: { type: "map", values: ["long", "double", "string", "bytes", "null"] } },
    { name: "Body", type: ["null", "bytes"] },
  ],
};

const asSchema = (schema: object): Schema => schema as Schema;

interface EventData {
  SequenceNumber: number;
  Offset: string;
  EnqueuedTimeUtc: string;
  SystemProperties: Record<string, unknown>;
  Properties: Record<string, unknown>;
  Body: Buffer | null;
}

const envelope = (n: number, pad = 0): string =>
  JSON.stringify({
    records: [
      {
        timeStamp: "2025-03-14T12:00:00+00:00",
        category: "ApplicationGatewayAccessLog",
        operationName: "ApplicationGatewayAccess",
        properties: { httpStatus: 200, n, pad: "x".repeat(pad) },
      },
    ],
  });

function event(seq: number, body: string | Buffer | null): EventData {
  return {
    SequenceNumber: seq,
    Offset: String(4294967296 + seq * 1024),
    EnqueuedTimeUtc: "3/14/2025 12:02:05 PM",
    SystemProperties: { "x-opt-sequence-number": { long: seq } },
    Properties: {},
    Body: typeof body === "string" ? Buffer.from(body) : body,
  };
}

/** Every file written here uses this sync marker, so tests can find block ends. */
const syncMarker = Buffer.from("5c1d2e3f405162738495a6b7c8d9eafb", "hex");

/** An Avro container file of `events` (in memory), header written even when there are none. */
async function encode(
  events: readonly object[],
  opts: { codec?: string; blockSize?: number; schema?: object; codecs?: Record<string, unknown> } = {},
): Promise<Buffer> {
  const encoder = new avro.streams.BlockEncoder(asSchema(opts.schema ?? captureSchema), {
    codec: opts.codec ?? "deflate",
    blockSize: opts.blockSize ?? 4096,
    syncMarker,
    writeHeader: "always",
    ...(opts.codecs ? { codecs: opts.codecs as never } : {}),
  });
  const parts: Buffer[] = [];
  encoder.on("data", (b: Buffer) => parts.push(b));
  const done = new Promise<void>((resolve, reject) => {
    encoder.on("end", () => resolve());
    encoder.on("error", reject);
  });
  for (const e of events) encoder.write(e);
  encoder.end();
  await done;
  return Buffer.concat(parts);
}

function file(name: string, content: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** What avsc's own decoder reads from a file (reference; it stops silently at a cut). */
async function reference(path: string): Promise<EventData[]> {
  const out: EventData[] = [];
  for await (const e of avro.createFileDecoder(path)) out.push(e as EventData);
  return out;
}

interface Run {
  batches: SourceBatch[];
  error: unknown;
  source: FileSource;
}

async function run(opts: FileSourceOptions, signal = never): Promise<Run> {
  const batches: SourceBatch[] = [];
  const source = new FileSource(opts);
  const error = await source
    .run(async (b) => {
      batches.push(b);
      return Promise.resolve();
    }, signal)
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  return { batches, error, source };
}

async function collect(opts: FileSourceOptions): Promise<SourceBatch[]> {
  const r = await run(opts);
  if (r.error !== undefined) throw r.error as Error;
  return r.batches;
}

const bodies = (bs: readonly SourceBatch[]): string[] => bs.flatMap((b) => b.bodies.map(text));
const shape = (bs: readonly SourceBatch[]): unknown =>
  bs.map((b) => [b.source, b.partition, b.firstSeq, b.lastSeq, b.bodies.map(text)]);

describe("FileSource Avro (Event Hubs Capture)", () => {
  it("reads sample.avro: one body per record, in file order, sequence numbers = SequenceNumber", async () => {
    const expected = await reference(sample);
    expect(expected).toHaveLength(27);
    const { batches, source } = await run({ paths: [sample], limits: { maxBodies: 10 } });
    expect(batches.map((b) => b.bodies.length)).toEqual([10, 10, 7]);
    expect(bodies(batches)).toEqual(expected.map((e) => e.Body!.toString("utf8")));
    let i = 0;
    for (const b of batches) {
      expect(b.source).toBe("file");
      expect(b.partition).toBe(realpathSync(sample));
      expect(b.ack).toBeUndefined();
      expect(b.firstSeq).toBe(expected[i]!.SequenceNumber);
      i += b.bodies.length;
      expect(b.lastSeq).toBe(expected[i - 1]!.SequenceNumber);
      for (const body of b.bodies) {
        expect(body.byteOffset).toBe(0);
        expect(body.buffer.byteLength).toBe(body.byteLength);
      }
    }
    expect([batches[0]!.firstSeq, batches[2]!.lastSeq]).toEqual([48213, 48239]);
    const size = statSync(sample).size;
    expect(source.progress()).toMatchObject({
      bytesRead: size,
      totalBytes: size,
      bodiesEmitted: 27,
      filesDone: 1,
    });
  });

  it("delivers the fixture's bodies untouched, the invalid-JSON one included", async () => {
    const ndjson = readFileSync(join(fixtures, "../replay/sample.ndjson"), "utf8").split("\n");
    const got = bodies(await collect({ paths: [sample] }));
    expect(got[7]).toBe(ndjson[40]);
    expect(() => JSON.parse(got[7]!) as unknown).toThrow();
    expect(got.filter((b) => b.startsWith('{"records":['))).toHaveLength(27);
  });

  it("reads the deflate and null codecs into identical batches", async () => {
    const events = Array.from({ length: 300 }, (_, i) => event(7_000 + i, envelope(i, i % 40)));
    const deflate = file("codec-deflate.avro", await encode(events, { codec: "deflate", blockSize: 2048 }));
    const plain = file("codec-null.avro", await encode(events, { codec: "null", blockSize: 2048 }));
    const a = await collect({ paths: [deflate], limits: { maxBodies: 64 } });
    const b = await collect({ paths: [plain], limits: { maxBodies: 64 } });
    expect(a.map((x) => [x.firstSeq, x.lastSeq, x.bodies.map(text)])).toEqual(
      b.map((x) => [x.firstSeq, x.lastSeq, x.bodies.map(text)]),
    );
    expect(bodies(a)).toEqual(events.map((e) => e.Body!.toString()));
    expect(a.map((x) => [x.firstSeq, x.lastSeq])).toEqual([
      [7000, 7063],
      [7064, 7127],
      [7128, 7191],
      [7192, 7255],
      [7256, 7299],
    ]);
  });

  it("cuts the same batches on every run, by count and bytes only, whatever the read size", async () => {
    const limits = { maxBodies: 4, maxBytes: 6000 };
    const first = await collect({ paths: [sample], limits });
    const again = await collect({ paths: [sample], limits });
    const tinyReads = await collect({ paths: [sample], limits, readChunkBytes: 7 });
    expect(shape(again)).toEqual(shape(first));
    expect(shape(tinyReads)).toEqual(shape(first));
    expect(first.length).toBeGreaterThan(7);
    for (const b of first) {
      const bytes = b.bodies.reduce((s, x) => s + x.byteLength, 0);
      expect(b.bodies.length).toBeLessThanOrEqual(4);
      // A batch is full at 4 bodies or once it reaches maxBytes; a body that would overflow starts the next one.
      if (b.bodies.length > 1) expect(bytes - b.bodies.at(-1)!.byteLength).toBeLessThan(6000);
      expect(b.lastSeq - b.firstSeq + 1).toBe(b.bodies.length);
    }
  });

  it("delivers a null or empty Body as an empty body (the decoder dead-letters it)", async () => {
    const path = file(
      "empty-bodies.avro",
      await encode([event(1, envelope(1)), event(2, null), event(3, ""), event(4, envelope(4))]),
    );
    const [b, ...more] = await collect({ paths: [path] });
    expect(more).toHaveLength(0);
    expect([b!.firstSeq, b!.lastSeq]).toEqual([1, 4]);
    expect(b!.bodies.map((x) => x.byteLength)).toEqual([envelope(1).length, 0, 0, envelope(4).length]);
  });

  it("accepts a Body of plain bytes and starts sequence numbers at 0 when the partition does", async () => {
    const schema = {
      ...captureSchema,
      fields: captureSchema.fields.map((f) => (f.name === "Body" ? { name: "Body", type: "bytes" } : f)),
    };
    const path = file(
      "plain-bytes.avro",
      await encode([event(0, envelope(0)), event(1, envelope(1))], { schema }),
    );
    const [b] = await collect({ paths: [path] });
    expect([b!.firstSeq, b!.lastSeq]).toEqual([0, 1]);
    expect(b!.bodies.map(text)).toEqual([envelope(0), envelope(1)]);
  });

  it("reads an empty Capture file (header only) as no bodies", async () => {
    const path = file("header-only.avro", await encode([]));
    expect(readFileSync(path).length).toBeGreaterThan(4);
    expect(await collect({ paths: [path] })).toEqual([]);
  });

  it("detects Avro by its magic bytes whatever the name, gzipped too, and on standard input", async () => {
    const expected = shape(await collect({ paths: [sample] })) as unknown[][];
    const strip = (s: unknown): unknown => (s as unknown[][]).map((b) => b.slice(2));
    const bin = file("capture.bin", readFileSync(sample));
    const gz = file("capture.avro.gz", gzipSync(readFileSync(sample)));
    const gzNoName = file("capture.data", gzipSync(readFileSync(sample)));
    expect(strip(shape(await collect({ paths: [bin] })))).toEqual(strip(expected));
    expect(strip(shape(await collect({ paths: [gz] })))).toEqual(strip(expected));
    expect(strip(shape(await collect({ paths: [gzNoName] })))).toEqual(strip(expected));
    const stdin = Readable.from([readFileSync(sample)]);
    const fromStdin = await collect({ paths: ["-"], stdin });
    expect(fromStdin[0]!.partition).toBe("stdin");
    expect(strip(shape(fromStdin))).toEqual(strip(expected));
    // An explicit format wins over the content.
    const asLines = await collect({ paths: [bin], format: "ndjson" });
    expect(asLines[0]!.firstSeq).toBe(1);
  });

  it("rejects an Avro file that is not Capture-shaped, naming the file and the missing field, before emitting", async () => {
    const schema = {
      type: "record",
      name: "Reading",
      namespace: "com.contoso.telemetry",
      fields: [
        { name: "DeviceId", type: "string" },
        { name: "Body", type: "bytes" },
      ],
    };
    const path = file(
      "not-capture.avro",
      await encode([{ DeviceId: "d1", Body: Buffer.from("{}") }], { schema }),
    );
    const { batches, error } = await run({ paths: [path] });
    expect(batches).toHaveLength(0);
    expect(isGatewatchError(error, "source_file_read_failed")).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain(path);
    expect(message).toContain("not an Event Hubs Capture file");
    expect(message).toContain("com.contoso.telemetry.Reading");
    expect(message).toContain("no SequenceNumber field");
  });

  it("rejects a .avro file that is not Avro at all, before emitting", async () => {
    const path = file("lines.avro", Buffer.from(`${envelope(1)}\n`));
    const { batches, error } = await run({ paths: [path] });
    expect(batches).toHaveLength(0);
    expect(isGatewatchError(error, "source_file_read_failed")).toBe(true);
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toContain("not an Avro object container file");
  });

  it("rejects a codec other than null and deflate", async () => {
    const snappy = (buf: Buffer, cb: (err: null, out: Buffer) => void): void => cb(null, buf);
    const path = file(
      "snappy.avro",
      await encode([event(1, envelope(1))], { codec: "snappy", codecs: { snappy } }),
    );
    const { batches, error } = await run({ paths: [path] });
    expect(batches).toHaveLength(0);
    expect(isGatewatchError(error, "source_file_read_failed")).toBe(true);
    expect((error as Error).message).toContain('unsupported Avro codec "snappy"');
  });

  it("rejects a truncated file after emitting every body before the cut", async () => {
    const events = Array.from({ length: 200 }, (_, i) => event(500 + i, envelope(i, 50)));
    const whole = await encode(events, { codec: "deflate", blockSize: 2048 });
    for (const cut of [20, 300, Math.floor(whole.length / 2), whole.length - 5]) {
      const path = file(`cut-${cut}.avro`, whole.subarray(0, cut));
      // avsc's own decoder reads the complete blocks and then stops without an error.
      const complete = await reference(path).catch(() => [] as EventData[]);
      const { batches, error } = await run({ paths: [path], limits: { maxBodies: 7 } });
      expect(isGatewatchError(error, "source_file_read_failed"), `cut at ${cut}`).toBe(true);
      expect((error as Error).message).toContain(path);
      expect((error as Error).message).toContain("the file ends inside");
      expect(bodies(batches)).toEqual(complete.map((e) => e.Body!.toString()));
      expect(bodies(batches)).toEqual(events.slice(0, complete.length).map((e) => e.Body!.toString()));
      if (cut > whole.length / 2) expect(complete.length).toBeGreaterThan(50);
    }
  });

  it("rejects a block with a damaged sync marker after emitting the blocks before it", async () => {
    const events = Array.from({ length: 120 }, (_, i) => event(900 + i, envelope(i, 30)));
    const whole = await encode(events, { codec: "null", blockSize: 2048 });
    // The header ends with the sync marker; each block repeats it at its end.
    const ends: number[] = [];
    for (let at = whole.indexOf(syncMarker); at !== -1; at = whole.indexOf(syncMarker, at + 1))
      ends.push(at + 16);
    expect(ends.length).toBeGreaterThan(5);
    const damaged = Buffer.from(whole);
    const last = ends[4]! - 1; // the last byte of the sync marker closing block 4
    damaged.writeUInt8(damaged.readUInt8(last) ^ 0xff, last);
    const path = file("bad-sync.avro", damaged);
    const before = await reference(file("before-block-4.avro", whole.subarray(0, ends[3])));
    const { batches, error } = await run({ paths: [path] });
    expect(isGatewatchError(error, "source_file_read_failed")).toBe(true);
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toContain(`block 4 (at byte ${ends[3]!})`);
    expect((error as Error).message).toContain("sync marker");
    expect(before.length).toBeGreaterThan(10);
    expect(bodies(batches)).toEqual(before.map((e) => e.Body!.toString()));
  });

  it("rejects damaged deflate data after emitting what came before it", async () => {
    const events = Array.from({ length: 120 }, (_, i) => event(i, envelope(i, 30)));
    const whole = await encode(events, { codec: "deflate", blockSize: 2048 });
    const damaged = Buffer.from(whole);
    for (let i = 0; i < 40; i += 1) damaged[Math.floor(whole.length * 0.6) + i] = 0xff;
    const { batches, error } = await run({ paths: [file("bad-deflate.avro", damaged)] });
    expect(isGatewatchError(error, "source_file_read_failed")).toBe(true);
    expect((error as Error).message).toMatch(/block \d+ \(at byte \d+\)/);
    const got = bodies(batches);
    expect(got.length).toBeGreaterThan(0);
    expect(got).toEqual(events.slice(0, got.length).map((e) => e.Body!.toString()));
  });

  it("rejects a block over maxAvroBlockBytes instead of buffering it", async () => {
    const path = file("big-block.avro", await encode([event(1, envelope(1, 5000))], { codec: "null" }));
    const { error } = await run({ paths: [path], maxAvroBlockBytes: 1024 });
    expect(isGatewatchError(error, "source_file_read_failed")).toBe(true);
    expect((error as Error).message).toContain("over the 1024-byte block limit");
    expect(() => new FileSource({ paths: [path], maxAvroBlockBytes: 0 })).toThrow(/maxAvroBlockBytes/);
  });

  it("stops at abort mid-file, reads little past it and emits nothing after", async () => {
    const path = join(dir, "abort.avro");
    const events = (function* () {
      for (let i = 0; i < 20_000; i += 1) yield event(i, envelope(i, 200));
    })();
    await pipeline(
      Readable.from(events),
      new avro.streams.BlockEncoder(asSchema(captureSchema), { codec: "null" }),
      createWriteStream(path),
    );
    const size = statSync(path).size;
    const stop = new AbortController();
    let calls = 0;
    const source = new FileSource({ paths: [path], limits: { maxBodies: 100 } });
    await source.run(async () => {
      calls += 1;
      if (calls === 3) stop.abort();
      return Promise.resolve();
    }, stop.signal);
    expect(calls).toBe(3);
    expect(source.progress().bodiesEmitted).toBe(300);
    expect(source.progress().bytesRead).toBeLessThan(size / 10);
  });

  it("streams a 20 MB Capture file with bounded memory", async ({ annotate }) => {
    const path = join(tmpdir(), `gatewatch-capture-20mb-${process.pid}.avro`);
    try {
      const pad = "0123456789abcdef".repeat(96);
      const events = (function* () {
        for (let i = 0; i < 12_000; i += 1)
          yield event(1_000_000 + i, envelope(i, 0).replace('"pad":""', `"pad":"${pad}"`));
      })();
      await pipeline(
        Readable.from(events),
        new avro.streams.BlockEncoder(asSchema(captureSchema), { codec: "null" }),
        createWriteStream(path),
      );
      const size = statSync(path).size;
      expect(size).toBeGreaterThan(20 * 1000 * 1000);

      // Live memory, not garbage awaiting collection: force a GC before sampling. vitest's forks run
      // without --expose-gc, so enable it at runtime.
      setFlagsFromString("--expose-gc");
      const gc = runInNewContext("gc") as () => void;
      const used = async (): Promise<number> => {
        // ArrayBuffer backing stores are freed by a concurrent sweeper after the GC: let it run.
        gc();
        await new Promise((resolve) => setImmediate(resolve));
        gc();
        const m = process.memoryUsage();
        return m.heapUsed + m.arrayBuffers;
      };
      const base = await used();
      let peak = base;
      let count = 0;
      let lastSeq = 0;
      const source = new FileSource({ paths: [path], limits: { maxBodies: 250 } });
      await source.run(async (b) => {
        count += b.bodies.length;
        lastSeq = b.lastSeq;
        // The batch is still referenced here, as it would be while the pipeline admits it.
        if (count % 1000 === 0) peak = Math.max(peak, await used());
        return Promise.resolve();
      }, never);
      expect(count).toBe(12_000);
      expect(lastSeq).toBe(1_011_999);
      expect(source.progress().bytesRead).toBe(size);
      const growth = peak - base;
      await annotate(
        `${(size / 1e6).toFixed(1)} MB Capture file: peak live heap + ArrayBuffer growth ${(growth / 1e6).toFixed(1)} MB`,
      );
      expect(growth).toBeLessThan(size / 4);
    } finally {
      rmSync(path, { force: true });
    }
  });
});
