/**
 * `gatewatch replay`: files or stdin through the same data path as the service, into the store.
 * Batches are cut by count and size only, so replaying the same file cuts the same batches, gets the
 * same deduplication tokens and stores every row once however often it runs.
 */
import type { Readable } from "node:stream";
import type { Logger } from "pino";
import { FileSource } from "@gatewatch/source-file";
import type { Config } from "./config.js";
import { createPipeline, type Totals } from "./pipeline.js";
import { openMigratedStore } from "./store.js";

/** Progress of a replay, reported about every 250 ms. */
export interface ReplayProgress {
  readonly bytesRead: number;
  readonly totalBytes: number | null;
  readonly records: number;
  readonly elapsedSeconds: number;
}

/** Final summary of a replay. */
export interface ReplaySummary extends Totals {
  readonly files: number;
  readonly bytes: number;
  readonly seconds: number;
  /** True when the replay was stopped before the input ended. */
  readonly interrupted: boolean;
}

export interface ReplayOptions {
  readonly paths: readonly string[];
  readonly format?: "auto" | "ndjson" | "json" | "avro";
  readonly stdin?: Readable;
  readonly onProgress?: (p: ReplayProgress) => void;
  readonly signal?: AbortSignal;
}

export async function replay(config: Config, log: Logger, options: ReplayOptions): Promise<ReplaySummary> {
  const source = new FileSource({
    paths: [...options.paths],
    format: options.format ?? "auto",
    limits: {
      maxBodies: config.batchMaxBodies,
      maxBytes: config.batchMaxBytes,
      maxWaitMs: config.batchMaxWaitMs,
    },
    ...(options.stdin ? { stdin: options.stdin } : {}),
  });
  const store = await openMigratedStore(config, log);
  const pipeline = createPipeline(config, store, log);
  const started = performance.now();
  const report = () => {
    const p = source.progress();
    options.onProgress?.({
      bytesRead: p.bytesRead,
      totalBytes: p.totalBytes,
      records: pipeline.totals.records,
      elapsedSeconds: (performance.now() - started) / 1000,
    });
  };
  const ticker = setInterval(report, 250);
  const stop = new AbortController();
  options.signal?.addEventListener("abort", () => stop.abort(), { once: true });
  void pipeline.failed.then(() => stop.abort());
  let sourceError: Error | undefined;
  try {
    await source.run(pipeline.engine.handle, stop.signal).catch((err: unknown) => {
      if (!pipeline.engine.failure) sourceError = err instanceof Error ? err : new Error(String(err));
    });
  } finally {
    await pipeline.close(config.shutdownTimeoutSeconds * 1000);
    clearInterval(ticker);
    await store.close();
  }
  if (sourceError) throw sourceError;
  if (pipeline.engine.failure) throw pipeline.engine.failure;
  report();
  const p = source.progress();
  return {
    ...pipeline.totals,
    files: p.filesTotal,
    bytes: p.bytesRead,
    seconds: (performance.now() - started) / 1000,
    interrupted: stop.signal.aborted,
  };
}
