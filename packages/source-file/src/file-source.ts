/**
 * FileSource reads files and standard input for replay and backfill: NDJSON line by line (one
 * line = one body, streamed with bounded memory), `.json` files as one document (an array gives one
 * body per element), Event Hubs Capture Avro files (`.avro` or the Avro magic; one body per record,
 * streamed block by block), gzip by extension or magic bytes. Each input is one partition (its real
 * path, or `stdin`) with sequence number = line number (NDJSON), element index + 1 (JSON array) or
 * the record's Event Hubs `SequenceNumber` (Avro). Batches are cut by count and bytes only, so a
 * replay repeats the same batches and the store's deduplication token drops what was already
 * written. It never acks: files are their own checkpoint, and re-running a replay is safe.
 */
import { constants, createReadStream } from "node:fs";
import { access, realpath, stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import {
  defaultBatchLimits,
  GatewatchError,
  type BatchHandler,
  type BatchLimits,
  type Source,
  type SourceBatch,
} from "@gatewatch/pipeline";
import { hasAvroMagic, avroMagic, readCaptureEvents, type CaptureEvent } from "./avro-capture.js";
import { BatchCutter } from "./batch-cutter.js";
import { gunzipIfNeeded } from "./gunzip.js";
import { LineSplitter } from "./line-splitter.js";
import { peekBytes } from "./peek.js";

/**
 * How to read an input. `auto`: content starting with the Avro magic `Obj\x01` (after gunzip), or a
 * `.avro` name, is Event Hubs Capture Avro; else `.json` (optionally `.json.gz`) is JSON; else NDJSON.
 */
export type FileFormat = "auto" | "ndjson" | "json" | "avro";

/** Options of {@link FileSource}. */
export interface FileSourceOptions {
  /** Inputs, read in order; `-` is standard input (at most once). */
  readonly paths: readonly string[];
  /**
   * Batch cutting by `maxBodies` and `maxBytes`; `maxWaitMs` is ignored (files are cut by size only).
   * @default defaultBatchLimits
   */
  readonly limits?: Partial<BatchLimits>;
  /**
   * Input format for every path.
   * @default "auto"
   */
  readonly format?: FileFormat;
  /**
   * Stream read for `-`.
   * @default process.stdin
   */
  readonly stdin?: Readable;
  /**
   * Longest NDJSON line kept whole; longer lines are cut to this size plus a NUL marker.
   * @default 16777216 (16 MiB)
   */
  readonly maxLineBytes?: number;
  /**
   * Largest `.json` document (decompressed); bigger files are rejected.
   * @default 268435456 (256 MiB)
   */
  readonly maxJsonBytes?: number;
  /**
   * Largest Avro block, compressed and again decompressed (also the largest Avro header). The Avro
   * reader holds one block at a time; a bigger block fails the file rather than the process.
   * @default 67108864 (64 MiB)
   */
  readonly maxAvroBlockBytes?: number;
  /**
   * Read size for files (the stream's highWaterMark).
   * @default 65536
   */
  readonly readChunkBytes?: number;
}

/** Where a replay is, for progress bars and ETAs. */
export interface FileSourceProgress {
  /** On-disk (compressed) bytes read so far, across all inputs. */
  readonly bytesRead: number;
  /** Sum of input sizes when every input is a regular file; null with stdin, pipes or devices. */
  readonly totalBytes: number | null;
  /** Input being read (as given), or the last one once done; `""` before the start. */
  readonly path: string;
  readonly filesDone: number;
  readonly filesTotal: number;
  /** Bodies handed to `emit` so far. */
  readonly bodiesEmitted: number;
  /** NDJSON lines cut because they exceeded `maxLineBytes`. */
  readonly truncatedLines: number;
}

interface Input {
  readonly path: string;
  readonly partition: string;
  readonly stdin: boolean;
  readonly size: number | null;
  readonly format: "ndjson" | "json" | "avro";
  /** Format `auto`: read as Avro if the (gunzipped) content starts with the Avro magic. */
  readonly sniffAvro: boolean;
  readonly gzipByName: boolean;
}

const MiB = 1024 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8");

function optionsError(problems: string[]): GatewatchError {
  return new GatewatchError("source_options_invalid", `invalid file source options: ${problems.join("; ")}`);
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A {@link Source} over files and standard input. */
export class FileSource implements Source {
  /** Source id carried by every batch (part of the store's deduplication token). */
  static readonly sourceId = "file";

  readonly name = "file";
  private readonly paths: readonly string[];
  private readonly limits: BatchLimits;
  private readonly format: FileFormat;
  private readonly stdinStream: Readable | undefined;
  private readonly maxLineBytes: number;
  private readonly maxJsonBytes: number;
  private readonly maxAvroBlockBytes: number;
  private readonly readChunkBytes: number;
  private running = false;
  private state = {
    bytesRead: 0,
    totalBytes: null as number | null,
    path: "",
    filesDone: 0,
    filesTotal: 0,
    bodiesEmitted: 0,
    truncatedLines: 0,
  };

  /** Throws a `GatewatchError` (`source_options_invalid`) listing every bad option. */
  constructor(opts: FileSourceOptions) {
    const problems: string[] = [];
    const paths: unknown = opts.paths;
    if (!Array.isArray(paths) || paths.length === 0)
      problems.push("paths must list at least one file (or - for standard input)");
    else {
      if (paths.some((p) => typeof p !== "string" || p === ""))
        problems.push("every path must be a non-empty string");
      if (paths.filter((p) => p === "-").length > 1)
        problems.push("standard input (-) can be read only once");
    }
    // Unset or explicitly undefined fields take the default.
    this.limits = {
      maxBodies: opts.limits?.maxBodies ?? defaultBatchLimits.maxBodies,
      maxBytes: opts.limits?.maxBytes ?? defaultBatchLimits.maxBytes,
      maxWaitMs: opts.limits?.maxWaitMs ?? defaultBatchLimits.maxWaitMs,
    };
    this.format = opts.format ?? "auto";
    this.maxLineBytes = opts.maxLineBytes ?? 16 * MiB;
    this.maxJsonBytes = opts.maxJsonBytes ?? 256 * MiB;
    this.maxAvroBlockBytes = opts.maxAvroBlockBytes ?? 64 * MiB;
    this.readChunkBytes = opts.readChunkBytes ?? 64 * 1024;
    const posInt = (key: string, v: number): void => {
      if (!Number.isSafeInteger(v) || v < 1)
        problems.push(`${key} must be a positive integer, got ${String(v)}`);
    };
    posInt("limits.maxBodies", this.limits.maxBodies);
    posInt("limits.maxBytes", this.limits.maxBytes);
    posInt("maxLineBytes", this.maxLineBytes);
    posInt("maxJsonBytes", this.maxJsonBytes);
    posInt("maxAvroBlockBytes", this.maxAvroBlockBytes);
    posInt("readChunkBytes", this.readChunkBytes);
    if (!["auto", "ndjson", "json", "avro"].includes(this.format))
      problems.push(`format must be auto, ndjson, json or avro, got ${String(this.format)}`);
    if (problems.length > 0) throw optionsError(problems);
    this.paths = [...opts.paths];
    this.stdinStream = opts.stdin;
    this.state.filesTotal = this.paths.length;
  }

  /** A snapshot of the progress of the current (or last) run. */
  progress(): FileSourceProgress {
    return { ...this.state };
  }

  /**
   * Checks every input up front (a typo fails before anything is ingested), then reads them in
   * order. Resolves when all inputs are read or `signal` aborts (after the in-flight `emit`
   * settles). Rejects with a `GatewatchError`: `source_file_unreadable` (missing, unreadable or a
   * directory; nothing emitted), `source_file_too_large` (JSON over the limit), `source_file_read_failed`
   * (I/O or gzip error mid-file; an Avro file that is not Capture-shaped, truncated or corrupt, after
   * emitting the records read before the damage); or with `emit`'s own error if it rejects while
   * not aborted.
   */
  async run(emit: BatchHandler, signal: AbortSignal): Promise<void> {
    if (this.running) throw new GatewatchError("source_already_running", "FileSource.run is already running");
    this.running = true;
    // Progress describes the current run.
    this.state = {
      ...this.state,
      bytesRead: 0,
      totalBytes: null,
      path: "",
      filesDone: 0,
      bodiesEmitted: 0,
      truncatedLines: 0,
    };
    try {
      const inputs = await this.prepare();
      this.state.totalBytes = inputs.every((i) => i.size !== null)
        ? inputs.reduce((s, i) => s + (i.size ?? 0), 0)
        : null;
      // Errors of emit itself are passed through unchanged, not reported as read failures.
      const emitFailed = { yes: false };
      const guardedEmit = async (batch: SourceBatch): Promise<void> => {
        try {
          await emit(batch);
        } catch (err) {
          emitFailed.yes = true;
          throw err;
        }
        this.state.bodiesEmitted += batch.bodies.length;
      };
      for (const input of inputs) {
        if (signal.aborted) return;
        this.state.path = input.path;
        try {
          const finished = await this.readInput(input, guardedEmit, signal);
          if (!finished) return;
        } catch (err) {
          if (signal.aborted) return;
          if (emitFailed.yes || err instanceof GatewatchError) throw err;
          throw new GatewatchError(
            "source_file_read_failed",
            `cannot read ${JSON.stringify(input.path)}: ${reason(err)}`,
            { cause: err },
          );
        }
        this.state.filesDone += 1;
      }
    } finally {
      this.running = false;
    }
  }

  /** Stats every path; throws `source_file_unreadable` naming the first bad one. */
  private async prepare(): Promise<Input[]> {
    const inputs: Input[] = [];
    for (const path of this.paths) {
      if (path === "-") {
        inputs.push({
          path,
          partition: "stdin",
          stdin: true,
          size: null,
          format: this.format === "auto" ? "ndjson" : this.format,
          sniffAvro: this.format === "auto",
          gzipByName: false,
        });
        continue;
      }
      let real: string;
      let size: number | null;
      try {
        const st = await stat(path);
        if (st.isDirectory()) {
          throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${path}'`), {
            code: "EISDIR",
          });
        }
        await access(path, constants.R_OK);
        real = await realpath(path);
        size = st.isFile() ? st.size : null;
      } catch (err) {
        throw new GatewatchError(
          "source_file_unreadable",
          `cannot read ${JSON.stringify(path)}: ${reason(err)}`,
          { cause: err },
        );
      }
      const gzipByName = /\.gz$/i.test(path);
      const inner = gzipByName ? path.slice(0, -3) : path;
      const format =
        this.format !== "auto"
          ? this.format
          : /\.avro$/i.test(inner)
            ? "avro"
            : /\.json$/i.test(inner)
              ? "json"
              : "ndjson";
      if (format === "json" && !gzipByName && size !== null && size > this.maxJsonBytes) {
        throw new GatewatchError(
          "source_file_too_large",
          `cannot read ${JSON.stringify(path)}: ${size} bytes is over the ${this.maxJsonBytes}-byte limit for a JSON document (use NDJSON for large inputs)`,
        );
      }
      inputs.push({
        path,
        partition: real,
        stdin: false,
        size,
        format,
        sniffAvro: this.format === "auto",
        gzipByName,
      });
    }
    return inputs;
  }

  /** Reads one input; false when stopped by abort. */
  private async readInput(
    input: Input,
    emit: (b: SourceBatch) => Promise<void>,
    signal: AbortSignal,
  ): Promise<boolean> {
    let raw: Readable;
    if (input.stdin) raw = this.stdinStream ?? process.stdin;
    else raw = createReadStream(input.partition, { highWaterMark: this.readChunkBytes });
    // Destroying the stream wakes a read that may otherwise wait forever (an idle stdin).
    const onAbort = (): void => {
      raw.destroy();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      let chunks: AsyncIterable<Uint8Array> = gunzipIfNeeded(this.countBytes(raw), input.gzipByName);
      let format = input.format;
      if (input.sniffAvro && format !== "avro") {
        const peeked = await peekBytes(chunks, avroMagic.length);
        chunks = peeked.rest;
        if (hasAvroMagic(peeked.head)) format = "avro";
      }
      const cutter = new BatchCutter(FileSource.sourceId, input.partition, this.limits, emit, signal);
      switch (format) {
        case "json":
          return await this.readJson(input, chunks, cutter);
        case "avro":
          return await this.readAvro(chunks, cutter, signal);
        case "ndjson":
          return await this.readNdjson(chunks, cutter, signal);
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      raw.destroy();
    }
  }

  private async *countBytes(raw: AsyncIterable<unknown>): AsyncGenerator<Uint8Array> {
    for await (const chunk of raw) {
      const bytes = typeof chunk === "string" ? encoder.encode(chunk) : (chunk as Uint8Array);
      this.state.bytesRead += bytes.byteLength;
      yield bytes;
    }
  }

  private async readNdjson(
    chunks: AsyncIterable<Uint8Array>,
    cutter: BatchCutter,
    signal: AbortSignal,
  ): Promise<boolean> {
    const splitter = new LineSplitter(this.maxLineBytes);
    for await (const chunk of chunks) {
      if (signal.aborted) return false;
      for (const line of splitter.push(chunk)) {
        if (line.truncated) this.state.truncatedLines += 1;
        if (cutter.needsFlushBefore(line.body.byteLength) && !(await cutter.flush())) return false;
        cutter.push(line.seq, line.body);
        if (cutter.full() && !(await cutter.flush())) return false;
      }
    }
    for (const line of splitter.end()) {
      if (line.truncated) this.state.truncatedLines += 1;
      if (cutter.needsFlushBefore(line.body.byteLength) && !(await cutter.flush())) return false;
      cutter.push(line.seq, line.body);
    }
    return cutter.flush();
  }

  /**
   * One body per Capture record, sequence number = its `SequenceNumber`. When the file turns out to
   * be damaged, the bodies read before the damage are emitted (and awaited) before the error.
   */
  private async readAvro(
    chunks: AsyncIterable<Uint8Array>,
    cutter: BatchCutter,
    signal: AbortSignal,
  ): Promise<boolean> {
    const events = readCaptureEvents(chunks, { maxBlockBytes: this.maxAvroBlockBytes });
    try {
      for (;;) {
        let next: IteratorResult<CaptureEvent>;
        try {
          next = await events.next();
        } catch (err) {
          if (!signal.aborted) await cutter.flush();
          throw err;
        }
        if (next.done) return await cutter.flush();
        if (signal.aborted) return false;
        const { seq, body } = next.value;
        if (cutter.needsFlushBefore(body.byteLength) && !(await cutter.flush())) return false;
        cutter.push(seq, body);
        if (cutter.full() && !(await cutter.flush())) return false;
      }
    } finally {
      await events.return(undefined);
    }
  }

  private async readJson(
    input: Input,
    chunks: AsyncIterable<Uint8Array>,
    cutter: BatchCutter,
  ): Promise<boolean> {
    const parts: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of chunks) {
      total += chunk.byteLength;
      if (total > this.maxJsonBytes) {
        throw new GatewatchError(
          "source_file_too_large",
          `cannot read ${JSON.stringify(input.path)}: the JSON document is over the ${this.maxJsonBytes}-byte limit (use NDJSON for large inputs)`,
        );
      }
      parts.push(chunk);
    }
    let bytes: Uint8Array = Buffer.concat(parts, total);
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    const text = decoder.decode(bytes);
    if (text.trim() === "") return cutter.flush();
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      // Not valid JSON: deliver it as one body; the decoder dead-letters it with its reason.
      cutter.push(1, new Uint8Array(bytes));
      return cutter.flush();
    }
    if (!Array.isArray(doc)) {
      cutter.push(1, new Uint8Array(bytes));
      return cutter.flush();
    }
    const elements: unknown[] = doc;
    for (let i = 0; i < elements.length; i += 1) {
      const body = encoder.encode(JSON.stringify(elements[i]));
      if (cutter.needsFlushBefore(body.byteLength) && !(await cutter.flush())) return false;
      cutter.push(i + 1, body);
      if (cutter.full() && !(await cutter.flush())) return false;
    }
    return cutter.flush();
  }
}
