/**
 * Cuts one partition's bodies into batches by count and bytes only, never by time, so the same
 * input always yields the same (firstSeq, lastSeq) ranges and hence the same deduplication tokens.
 */
import type { BatchHandler, BatchLimits, SourceBatch } from "@gatewatch/pipeline";

/** Accumulates at most one batch; the caller awaits {@link flush} when told to. */
export class BatchCutter {
  private bodies: Uint8Array[] = [];
  private bytes = 0;
  private firstSeq = 0;
  private lastSeq = 0;

  constructor(
    private readonly source: string,
    private readonly partition: string,
    private readonly limits: Pick<BatchLimits, "maxBodies" | "maxBytes">,
    private readonly emit: (batch: SourceBatch) => ReturnType<BatchHandler>,
    private readonly signal: AbortSignal,
  ) {}

  /** Must the pending batch be flushed before a body of `bytes` bytes is added? */
  needsFlushBefore(bytes: number): boolean {
    return this.bodies.length > 0 && this.bytes + bytes > this.limits.maxBytes;
  }

  /** Adds a body; call {@link full} afterwards. */
  push(seq: number, body: Uint8Array): void {
    if (this.bodies.length === 0) this.firstSeq = seq;
    this.bodies.push(body);
    this.bytes += body.byteLength;
    this.lastSeq = seq;
  }

  /** The pending batch has reached a limit. */
  full(): boolean {
    return this.bodies.length >= this.limits.maxBodies || this.bytes >= this.limits.maxBytes;
  }

  /** Emits the pending batch (if any) and waits for it; false when aborted (nothing more may be emitted). */
  async flush(): Promise<boolean> {
    if (this.signal.aborted) return false;
    if (this.bodies.length === 0) return true;
    const batch: SourceBatch = {
      source: this.source,
      partition: this.partition,
      firstSeq: this.firstSeq,
      lastSeq: this.lastSeq,
      bodies: this.bodies,
    };
    this.bodies = [];
    this.bytes = 0;
    await this.emit(batch);
    return !this.signal.aborted;
  }
}
