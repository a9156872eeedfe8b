import type { BatchLimits } from "./contracts.js";

/**
 * Splits items, in order, into runs of at most `maxBodies` items and `maxBytes` bytes (a single
 * larger item forms a run of its own). Deterministic: the same items always split the same way.
 */
export function splitBatches<T>(
  items: readonly T[],
  bytesOf: (item: T) => number,
  limits: Pick<BatchLimits, "maxBodies" | "maxBytes">,
): T[][] {
  const out: T[][] = [];
  let run: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const n = bytesOf(item);
    if (run.length > 0 && (run.length >= limits.maxBodies || bytes + n > limits.maxBytes)) {
      out.push(run);
      run = [];
      bytes = 0;
    }
    run.push(item);
    bytes += n;
  }
  if (run.length > 0) out.push(run);
  return out;
}
