/**
 * Reads Event Hubs Capture files: Avro object container files (codec `null` or `deflate`) whose
 * records are `Microsoft.ServiceBus.Messaging.EventData`, and yields each record's `SequenceNumber`
 * and `Body`. Other fields (`Offset`, `EnqueuedTimeUtc`, `SystemProperties`, `Properties`) are
 * skipped without being decoded.
 *
 * The container is framed here (header, then blocks of `count`, `size`, data, sync marker) and
 * avsc decodes the header map and the records. avsc's own `BlockDecoder` stream is not used: it
 * ends without an error when a file is cut off (inside the header or inside a block), drops the
 * good blocks that arrived in the same chunk as a bad sync marker, and buffers the rest of the
 * file when a block length is corrupt. Here every one of those is an error that names the block and
 * its byte offset, raised only after the records before it have been yielded.
 *
 * Memory: one block at a time (compressed, plus decompressed for `deflate`), each at most
 * `maxBlockBytes`, plus the read chunk in hand; never the whole file.
 */
import { promisify } from "node:util";
import { inflateRaw } from "node:zlib";
import avro from "avsc";
import type { Schema, Type, types } from "avsc";

/** First four bytes of every Avro object container file: `Obj` and format version 1. */
export const avroMagic: Uint8Array = Uint8Array.of(0x4f, 0x62, 0x6a, 0x01);

/** Does `head` start with the Avro container magic? */
export function hasAvroMagic(head: Uint8Array): boolean {
  return head.length >= avroMagic.length && avroMagic.every((b, i) => head[i] === b);
}

/** One Capture record. */
export interface CaptureEvent {
  /** The record's `SequenceNumber`: the event's sequence number in its Event Hubs partition. */
  readonly seq: number;
  /** The record's `Body`, in its own ArrayBuffer (transferable); empty when `Body` is null. */
  readonly body: Uint8Array;
}

/** Limits of {@link readCaptureEvents}. */
export interface CaptureReaderOptions {
  /** Largest header, block and decompressed block; anything bigger fails the file. */
  readonly maxBlockBytes: number;
}

const SYNC_BYTES = 16;
/** A zig-zag varint of a 64-bit long is at most 10 bytes. */
const MAX_LONG_BYTES = 10;
const longType = avro.Type.forSchema("long");
/** The header after its magic: metadata map and sync marker (Avro 1.x specification, "Object Container Files"). */
const headerType = avro.Type.forSchema({
  type: "record",
  name: "HeaderAfterMagic",
  fields: [
    { name: "meta", type: { type: "map", values: "bytes" } },
    { name: "sync", type: { type: "fixed", name: "Sync", size: SYNC_BYTES } },
  ],
});
const inflateRawAsync = promisify(inflateRaw);

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const hex = (bytes: Uint8Array): string =>
  Buffer.from(bytes)
    .toString("hex")
    .replace(/(..)(?!$)/g, "$1 ");

/**
 * A pull-based view over a chunk stream. `ensure` gathers chunks with one copy per call, so reading
 * a block of n bytes costs O(n) whatever the chunk size.
 */
class ByteCursor {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  /** Bytes of the input before `buf`. */
  private before = 0;
  private ended = false;

  constructor(private readonly chunks: AsyncIterator<Uint8Array>) {}

  /** Offset in the input of the next unread byte. */
  get offset(): number {
    return this.before + this.pos;
  }

  /** Bytes read from the input but not consumed. */
  get available(): number {
    return this.buf.length - this.pos;
  }

  /** Makes at least `n` bytes available in one buffer; false when the input ends first. */
  async ensure(n: number): Promise<boolean> {
    if (this.available >= n) return true;
    const parts: Buffer[] = [this.buf.subarray(this.pos)];
    let have = this.available;
    while (have < n && !this.ended) {
      const r = await this.chunks.next();
      if (r.done) this.ended = true;
      else if (r.value.byteLength > 0) {
        parts.push(Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength));
        have += r.value.byteLength;
      }
    }
    this.before += this.pos;
    this.buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts, have);
    this.pos = 0;
    return have >= n;
  }

  /** True when every byte of the input has been consumed. */
  async atEnd(): Promise<boolean> {
    return !(await this.ensure(1));
  }

  /** The next `n` bytes (a view, valid until the next call), or null when the input ends first. */
  async take(n: number): Promise<Buffer | null> {
    if (!(await this.ensure(n))) return null;
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /**
   * Decodes one value of `type` whose encoded length is not known in advance, reading more input
   * until it is complete. avsc reports an incomplete value either as offset -1 or (inside a union)
   * as an error, so both mean "read more" until `limit` bytes are in hand or the input ends.
   */
  async decode(type: Type, limit: number, what: string): Promise<unknown> {
    let eof = false;
    for (;;) {
      let failure: unknown = null;
      if (this.available > 0) {
        try {
          const decoded: { value: unknown; offset: number } = type.decode(this.buf, this.pos);
          if (decoded.offset >= 0) {
            this.pos = decoded.offset;
            return decoded.value;
          }
        } catch (err) {
          failure = err;
        }
      }
      if (eof) throw new Error(`the file ends inside ${what}`);
      if (this.available >= limit) {
        throw new Error(
          failure === null
            ? `${what} is larger than ${limit} bytes`
            : `${what} is corrupt: ${reason(failure)}`,
        );
      }
      eof = !(await this.ensure(Math.min(limit, Math.max(2 * this.available, this.available + 1))));
    }
  }
}

interface Header {
  readonly sync: Buffer;
  readonly codec: "null" | "deflate";
  readonly reader: Type;
  readonly resolver: ReturnType<Type["createResolver"]>;
}

function notCapture(problem: string): Error {
  return new Error(`not an Event Hubs Capture file: ${problem}`);
}

/**
 * Checks the writer schema has the two fields gatewatch needs, with the types Capture writes, and
 * builds a reader schema of just those two (avsc then skips the others while decoding).
 */
function captureReader(writer: Type): Pick<Header, "reader" | "resolver"> {
  if (writer.typeName !== "record") {
    throw notCapture(`its Avro schema is a ${writer.typeName}, not the EventData record`);
  }
  const record = writer as types.RecordType;
  const label = `record ${record.name ?? "(anonymous)"}`;
  const field = (name: string): types.Field => {
    const f = record.fields.find((x) => x.name === name);
    if (!f) throw notCapture(`its Avro schema (${label}) has no ${name} field`);
    return f;
  };
  const seq = field("SequenceNumber");
  if (seq.type.typeName !== "long" && seq.type.typeName !== "int") {
    throw notCapture(`SequenceNumber in its Avro schema (${label}) is ${seq.type.typeName}, not long`);
  }
  const body = field("Body");
  const branches =
    body.type.typeName === "bytes"
      ? ["bytes"]
      : body.type.typeName.startsWith("union")
        ? (body.type as types.UnwrappedUnionType).types.map((t) => t.typeName)
        : [body.type.typeName];
  if (!branches.includes("bytes") || branches.some((b) => b !== "bytes" && b !== "null")) {
    throw notCapture(
      `Body in its Avro schema (${label}) is ${JSON.stringify(body.type.schema())}, not bytes`,
    );
  }
  const reader = avro.Type.forSchema({
    type: "record",
    ...(record.name === undefined ? {} : { name: record.name }),
    fields: [
      { name: "SequenceNumber", type: seq.type.schema() },
      { name: "Body", type: body.type.schema() },
    ],
  } as Schema);
  return { reader, resolver: reader.createResolver(writer) };
}

async function readHeader(cursor: ByteCursor, limit: number): Promise<Header> {
  const magic = await cursor.take(avroMagic.length);
  if (magic === null) {
    throw new Error(
      cursor.available === 0
        ? "the file is empty, not an Avro object container file"
        : "the file ends inside the Avro header",
    );
  }
  if (!hasAvroMagic(magic)) {
    throw new Error(
      `not an Avro object container file: it starts with ${hex(magic)}, not ${hex(avroMagic)} ("Obj" 1)`,
    );
  }
  const { meta, sync } = (await cursor.decode(headerType, limit, "the Avro header")) as {
    meta: Record<string, Buffer>;
    sync: Buffer;
  };
  const codec = meta["avro.codec"]?.toString("utf8") ?? "null";
  if (codec !== "null" && codec !== "deflate") {
    throw new Error(`unsupported Avro codec ${JSON.stringify(codec)} (supported: null, deflate)`);
  }
  const schemaText = meta["avro.schema"]?.toString("utf8");
  if (schemaText === undefined) throw new Error("the Avro header has no avro.schema");
  let writer: Type;
  try {
    writer = avro.Type.forSchema(JSON.parse(schemaText) as Schema);
  } catch (err) {
    throw new Error(`the Avro header's schema is not valid: ${reason(err)}`, { cause: err });
  }
  return { sync: Buffer.from(sync), codec, ...captureReader(writer) };
}

async function inflateBlock(data: Buffer, limit: number, what: string): Promise<Buffer> {
  try {
    return await inflateRawAsync(data, { maxOutputLength: limit });
  } catch (err) {
    if ((err as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
      throw new Error(`${what} inflates to more than ${limit} bytes`, { cause: err });
    }
    throw new Error(`${what} is corrupt: deflate: ${reason(err)}`, { cause: err });
  }
}

/**
 * Yields the records of one Capture file in file order. Throws an `Error` saying what is wrong and
 * where (block number and byte offset) for a bad header, a schema without `SequenceNumber` or
 * `Body`, an unsupported codec, a truncated or corrupt block; records before the damage have been
 * yielded by then. A file cut exactly at a block boundary cannot be told from a complete one: the
 * container format has no end marker or record count.
 */
export async function* readCaptureEvents(
  chunks: AsyncIterable<Uint8Array>,
  opts: CaptureReaderOptions,
): AsyncGenerator<CaptureEvent> {
  const limit = opts.maxBlockBytes;
  const cursor = new ByteCursor(chunks[Symbol.asyncIterator]());
  const header = await readHeader(cursor, limit);
  for (let n = 1; !(await cursor.atEnd()); n += 1) {
    const what = `block ${n} (at byte ${cursor.offset})`;
    const count = (await cursor.decode(longType, MAX_LONG_BYTES, `the record count of ${what}`)) as number;
    const size = (await cursor.decode(longType, MAX_LONG_BYTES, `the byte size of ${what}`)) as number;
    if (count < 0 || size < 0)
      throw new Error(`${what} is corrupt: it declares ${count} records in ${size} bytes`);
    if (size > limit) {
      throw new Error(
        `${what} declares ${size} bytes, over the ${limit}-byte block limit (maxAvroBlockBytes)`,
      );
    }
    const framed = await cursor.take(size + SYNC_BYTES);
    if (framed === null) {
      throw new Error(
        `the file ends inside ${what}: ${size + SYNC_BYTES} bytes of data and sync marker expected, ${cursor.available} left`,
      );
    }
    if (!header.sync.equals(framed.subarray(size))) {
      throw new Error(`${what} does not end with the file's sync marker: the block is corrupt`);
    }
    const raw = framed.subarray(0, size);
    const data = header.codec === "deflate" ? await inflateBlock(raw, limit, what) : raw;
    let pos = 0;
    for (let i = 1; i <= count; i += 1) {
      let decoded: { value: unknown; offset: number };
      try {
        decoded = header.reader.decode(data, pos, header.resolver);
      } catch (err) {
        throw new Error(`record ${i} of ${count} in ${what} is corrupt: ${reason(err)}`, { cause: err });
      }
      if (decoded.offset < 0)
        throw new Error(`record ${i} of ${count} in ${what} runs past the end of the block`);
      pos = decoded.offset;
      const { SequenceNumber, Body } = decoded.value as { SequenceNumber: number; Body: Uint8Array | null };
      // avsc hands out Body as a slice of a shared pool: copy it into a buffer of its own.
      yield { seq: SequenceNumber, body: Body === null ? new Uint8Array(0) : new Uint8Array(Body) };
    }
    if (pos !== data.length) {
      throw new Error(`${what} is corrupt: ${data.length - pos} bytes follow its ${count} records`);
    }
  }
}
