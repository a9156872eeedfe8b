// Throughput and memory of the classifier path on this machine, as ratios against a baseline
// measured in the same run (machines here are noisy): the baseline is bare JSON.parse of the same
// bodies on one thread. Run with `npm run bench` (builds first). Prints one JSON object.
import { availableParallelism } from "node:os";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClassifyPool, classifyBatch, packBodies } from "@gatewatch/classify-pool";
import { createDemoGenerator } from "@gatewatch/source-demo";
import { createLogger, loadConfig, replay } from "@gatewatch/ingestor";

const TICKS = Number(process.env.BENCH_TICKS ?? 60);
const gen = createDemoGenerator({ seed: 11, ratePerSecond: 8000, startTimeMs: Date.UTC(2026, 10, 1, 12) });
const bodies = [];
for (let t = 0; t < TICKS; t++) bodies.push(...gen.bodiesAt(t));
const bytes = bodies.reduce((n, b) => n + b.byteLength, 0);
const decoder = new TextDecoder();
let records = 0;
for (const b of bodies) records += JSON.parse(decoder.decode(b)).records.length;

function time(fn) {
  const start = performance.now();
  fn();
  return (performance.now() - start) / 1000;
}
function best(n, fn) {
  let min = Infinity;
  for (let i = 0; i < n; i++) min = Math.min(min, time(fn));
  return min;
}
const batches = [];
for (let i = 0; i < bodies.length; i += 200) batches.push(bodies.slice(i, i + 200));

const baseline = best(3, () => {
  for (const b of bodies) JSON.parse(decoder.decode(b));
});
const single = best(3, () => {
  for (const batch of batches) {
    const { data, ends } = packBodies(batch);
    classifyBatch({
      source: "bench",
      partition: "0",
      firstSeq: 0,
      data,
      ends,
      decode: {},
      classify: {},
      nowMs: 0,
    });
  }
});

const threads = availableParallelism();
const pool = new ClassifyPool({ threads, maxQueue: threads * 4 });
await pool.classify({ source: "bench", partition: "0", firstSeq: 0, bodies: batches[0] }); // warm the workers
let poolSeconds = Infinity;
for (let round = 0; round < 3; round++) {
  const start = performance.now();
  const inFlight = new Set();
  for (const batch of batches) {
    while (inFlight.size >= threads * 2) await Promise.race(inFlight);
    const p = pool
      .classify({ source: "bench", partition: "0", firstSeq: 0, bodies: batch })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  poolSeconds = Math.min(poolSeconds, (performance.now() - start) / 1000);
}
await pool.close();

// End to end: replay the same bodies from a file into a fresh embedded store.
const dir = mkdtempSync(join(tmpdir(), "gw-bench-"));
const file = join(dir, "bench.ndjson");
const fd = openSync(file, "w");
for (const b of bodies) writeSync(fd, decoder.decode(b) + "\n");
closeSync(fd);
const config = loadConfig({}, { store: `embedded:${join(dir, "store")}`, logLevel: "warn" });
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
const summary = await replay(config, createLogger("warn", 2), { paths: [file] });
clearInterval(sampler);
rmSync(dir, { recursive: true, force: true });

const rate = (s) => Math.round(records / s);
console.log(
  JSON.stringify(
    {
      machine: { cores: threads, node: process.version },
      input: { bodies: bodies.length, records, megabytes: +(bytes / 1e6).toFixed(1) },
      baselineJsonParse: { recordsPerSecond: rate(baseline) },
      classifySingleThread: {
        recordsPerSecond: rate(single),
        ratioToBaseline: +(baseline / single).toFixed(3),
      },
      classifyPool: {
        threads,
        recordsPerSecond: rate(poolSeconds),
        ratioToBaseline: +(baseline / poolSeconds).toFixed(3),
      },
      replayEmbedded: {
        recordsPerSecond: Math.round(summary.records / summary.seconds),
        ratioToBaseline: +(baseline / summary.seconds).toFixed(3),
        peakRssMegabytes: Math.round(peakRss / 1e6),
        rows: summary.rows,
      },
    },
    null,
    2,
  ),
);
