// End to end at full speed: an in-memory source cycling through the pool → the service's pipeline
// (classifier pool, deduplicated synchronous inserts into embedded ClickHouse, metrics) → ack.
// Used for the throughput figure and, in fresh processes at two sizes, for memory growth.
// The clock and the CPU counter start when the source starts and stop when the last batch is
// acknowledged; opening and migrating the store and reading the pool are outside. CPU time is the
// whole process (process.cpuUsage): classifier workers and chdb's threads run in it too.
import { sampleRss, scenarioMain } from "../child.js";
import { RECORDS_PER_BODY, readPool } from "../data.js";
import { openBenchPipeline } from "../harness.js";
import { CyclingSource } from "../sources.js";

await scenarioMain(async ({ poolPath, records }) => {
  const pool = readPool(poolPath);
  const bench = await openBenchPipeline();
  const source = new CyclingSource(pool, Math.ceil(records / RECORDS_PER_BODY), bench.limits);
  const startRss = process.memoryUsage().rss;
  const rss = sampleRss();
  const cpu = process.cpuUsage();
  const started = performance.now();
  try {
    await source.run(bench.pipeline.engine.handle, bench.signal);
  } finally {
    await bench.drain();
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const peakRss = rss.stop();
  const counts = await bench.counts();
  const spent = await bench.timeSpent();
  await bench.close();
  return {
    threads: bench.config.threads,
    batchMaxBodies: bench.limits.maxBodies,
    batchMaxBytes: bench.limits.maxBytes,
    maxInFlight: bench.config.maxInFlight,
    emitted: source.emittedRecords,
    acked: source.ackedRecords,
    stored: counts.requests + counts.firewall,
    deadLetters: counts.dead,
    seconds,
    cpuSeconds: (used.user + used.system) / 1e6,
    spent,
    startRss,
    peakRss,
  };
});
