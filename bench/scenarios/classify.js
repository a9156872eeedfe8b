// The CPU-bound steps on one core, against the baseline every ratio divides by:
// - baseline: JSON.parse(new TextDecoder().decode(body)) over the pool, the least any consumer of
//   these bodies must do;
// - classify: decode + normalise + classify + row encoding on ONE classifier worker
//   (ClassifyPool threads 1), fed batches of 10 bodies with several queued so it never idles; the
//   main thread only packs bodies and receives results, as in the service;
// - inline: the same classifyBatch on the main thread, so classify vs inline is the hand-off cost.
// Each is the best of 3 passes over the pool after a warm-up over a fifth of it (JIT, worker start).
import { ClassifyPool, classifyBatch, packBodies } from "@gatewatch/classify-pool";
import { scenarioMain } from "../child.js";
import { RECORDS_PER_BODY, readPool } from "../data.js";

const BODIES_PER_BATCH = 10;
/** Tasks queued on the single worker: enough that the next is always waiting when one finishes. */
const IN_FLIGHT = 4;

/** Best (shortest) seconds of `rounds` runs of `fn(batches)` over all batches, after a warm-up. */
async function best(rounds, batches, fn) {
  await fn(batches.slice(0, Math.ceil(batches.length / 5)));
  let min = Infinity;
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    await fn(batches);
    min = Math.min(min, (performance.now() - started) / 1000);
  }
  return min;
}

await scenarioMain(async ({ poolPath }) => {
  const pool = readPool(poolPath);
  const records = pool.length * RECORDS_PER_BODY;
  const batches = [];
  for (let i = 0; i < pool.length; i += BODIES_PER_BATCH) batches.push(pool.slice(i, i + BODIES_PER_BATCH));

  const decoder = new TextDecoder();
  let parsed = 0;
  const baseline = await best(3, pool, (bodies) => {
    parsed = 0;
    for (const body of bodies) parsed += JSON.parse(decoder.decode(body)).records.length;
  });
  if (parsed !== records) throw new Error(`baseline parsed ${parsed} records, expected ${records}`);

  const workers = new ClassifyPool({ threads: 1, maxQueue: 8 });
  let classified = 0;
  const causes = new Map();
  const single = await best(3, batches, async (some) => {
    classified = 0;
    causes.clear();
    const inFlight = new Set();
    for (const [i, bodies] of some.entries()) {
      while (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
      const p = workers.classify({ source: "bench", partition: "0", firstSeq: i * BODIES_PER_BATCH, bodies });
      const tracked = p
        .then((r) => {
          classified += r.records;
          for (const [, cause, , , n] of r.deltas.requests) causes.set(cause, (causes.get(cause) ?? 0) + n);
        })
        .finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    }
    await Promise.all(inFlight);
  });
  await workers.close();
  if (classified !== records)
    throw new Error(`the worker classified ${classified} records, expected ${records}`);

  const inline = await best(3, batches, (some) => {
    for (const [i, bodies] of some.entries()) {
      const { data, ends } = packBodies(bodies);
      classifyBatch({
        source: "bench",
        partition: "0",
        firstSeq: i * BODIES_PER_BATCH,
        data,
        ends,
        decode: {},
        classify: {},
        nowMs: Date.now(),
      });
    }
  });

  return {
    records,
    baselineSeconds: baseline,
    classifySeconds: single,
    inlineSeconds: inline,
    causes: [...causes.entries()].sort((a, b) => b[1] - a[1]),
  };
});
