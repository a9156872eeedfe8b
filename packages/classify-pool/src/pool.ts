/**
 * The classifier pool: piscina worker threads running {@link classifyBatch}. Bodies go in as one
 * transferred buffer and rows come back transferred; the main thread never touches records.
 */
import { availableParallelism } from "node:os";
import { Piscina } from "piscina";
import type { ClassifyOptions } from "@gatewatch/classify";
import type { DecodeOptions } from "@gatewatch/records";
import { packBodies, type ClassifyResult, type ClassifyTask } from "./classify-batch.js";

/** Options of {@link ClassifyPool}. */
export interface ClassifyPoolOptions {
  /**
   * Worker threads.
   * @default availableParallelism() (one per core)
   */
  readonly threads?: number;
  /**
   * Tasks allowed to wait for a worker; a full queue rejects, so callers bound what they submit
   * (the engine does) rather than relying on it.
   * @default 4 × threads
   */
  readonly maxQueue?: number;
  readonly decode?: DecodeOptions;
  readonly classify?: ClassifyOptions;
}

/** One batch to classify. */
export interface PoolBatch {
  readonly source: string;
  readonly partition: string;
  readonly firstSeq: number;
  readonly bodies: readonly Uint8Array[];
}

export class ClassifyPool {
  readonly #pool: Piscina;
  readonly #decode: DecodeOptions;
  readonly #classify: ClassifyOptions;
  readonly threads: number;

  constructor(options: ClassifyPoolOptions = {}) {
    this.threads = options.threads ?? availableParallelism();
    this.#decode = options.decode ?? {};
    this.#classify = options.classify ?? {};
    this.#pool = new Piscina({
      // Resolves to dist/worker.js from dist/ and from src/ (tests run sources; workers need JavaScript).
      filename: new URL("../dist/worker.js", import.meta.url).href,
      minThreads: this.threads,
      maxThreads: this.threads,
      maxQueue: options.maxQueue ?? this.threads * 4,
      idleTimeout: Infinity,
    });
  }

  /** Classifies one batch on a worker. */
  async classify(batch: PoolBatch): Promise<ClassifyResult> {
    const { data, ends } = packBodies(batch.bodies);
    const task: ClassifyTask = {
      source: batch.source,
      partition: batch.partition,
      firstSeq: batch.firstSeq,
      data,
      ends,
      decode: this.#decode,
      classify: this.#classify,
      nowMs: Date.now(),
    };
    return (await this.#pool.run(task, {
      transferList: [data.buffer as ArrayBuffer, ends.buffer as ArrayBuffer],
    })) as ClassifyResult;
  }

  /** Tasks waiting for a worker. */
  get queueSize(): number {
    return this.#pool.queueSize;
  }

  /** Waits for running tasks and stops the workers. */
  async close(): Promise<void> {
    await this.#pool.close();
  }
}
