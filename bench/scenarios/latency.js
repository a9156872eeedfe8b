// Latency under a steady live load: bodies are released on a timer at a fixed rate (half the
// measured end-to-end throughput, so the pipeline has headroom as a sized deployment would), cut into
// batches like a live source (count, bytes, or maxWaitMs after the oldest waiting body), and each
// body's latency is ack time − release time: batching wait + queueing + classify + durable insert.
// The service's default batch limits apply (BENCH_BATCH_* override them), since they set the wait.
import { scenarioMain } from "../child.js";
import { RECORDS_PER_BODY, readPool } from "../data.js";
import { openBenchPipeline } from "../harness.js";
import { PacedSource } from "../sources.js";

/** The q-quantile (0..1) of ascending `sorted`, nearest rank. */
function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

await scenarioMain(async ({ poolPath, recordsPerSecond, seconds }) => {
  const pool = readPool(poolPath);
  const bench = await openBenchPipeline();
  const source = new PacedSource(pool, recordsPerSecond / RECORDS_PER_BODY, seconds * 1000, bench.limits);
  const started = performance.now();
  try {
    await source.run(bench.pipeline.engine.handle, bench.signal);
  } finally {
    await bench.drain();
  }
  const elapsed = (performance.now() - started) / 1000;
  const counts = await bench.counts();
  await bench.close();
  const sorted = Float64Array.from(source.latencies).sort();
  return {
    bodies: sorted.length,
    released: source.releasedBodies,
    acked: source.ackedRecords,
    stored: counts.requests + counts.firewall,
    seconds: elapsed,
    achievedRecordsPerSecond: source.ackedRecords / elapsed,
    maxWaitMs: bench.limits.maxWaitMs,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1],
  };
});
