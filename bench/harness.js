// The service's own data path, opened the way `gatewatch run` opens it: loadConfig defaults (threads =
// cores, batch limits, in-flight bound), a migrated embedded store and createPipeline. The bench must
// measure what users get, so the only knobs are the BENCH_* variables below, mapped onto config keys.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, createPipeline, loadConfig, openMigratedStore } from "@gatewatch/ingestor";
import { MetricNames } from "@gatewatch/metrics";

/** BENCH_* variable -> config key it overrides (validated by loadConfig like the real flags). */
export const PIPELINE_OVERRIDES = {
  BENCH_THREADS: "threads",
  BENCH_MAX_IN_FLIGHT: "maxInFlight",
  BENCH_BATCH_MAX_BODIES: "batchMaxBodies",
  BENCH_BATCH_MAX_BYTES: "batchMaxBytes",
  BENCH_BATCH_MAX_WAIT_MS: "batchMaxWaitMs",
};

/** The configuration the bench runs with: defaults, a temporary embedded store, BENCH_* overrides. */
export function benchConfig(storeDir) {
  const flags = { store: `embedded:${storeDir}`, logLevel: "warn" };
  for (const [env, key] of Object.entries(PIPELINE_OVERRIDES)) {
    if (process.env[env] !== undefined) flags[key] = process.env[env];
  }
  // Empty environment: a GATEWATCH_* variable of the shell must not change what is measured.
  return loadConfig({}, flags);
}

/**
 * Opens a fresh store in a temporary directory and the pipeline on it. `close()` drains the
 * pipeline (throwing if it failed), then `verify()` can compare stored rows with what was emitted.
 */
export async function openBenchPipeline() {
  const dir = mkdtempSync(join(tmpdir(), "gw-bench-store-"));
  const config = benchConfig(dir);
  const log = createLogger("warn", 2);
  const store = await openMigratedStore(config, log);
  const pipeline = createPipeline(config, store, log);
  const stop = new AbortController();
  void pipeline.failed.then(() => stop.abort());
  return {
    config,
    pipeline,
    signal: stop.signal,
    limits: {
      maxBodies: config.batchMaxBodies,
      maxBytes: config.batchMaxBytes,
      maxWaitMs: config.batchMaxWaitMs,
    },
    /** Waits for every admitted batch to be stored and acknowledged. */
    async drain() {
      const { drained } = await pipeline.close(config.shutdownTimeoutSeconds * 1000);
      if (pipeline.engine.failure) throw pipeline.engine.failure;
      if (!drained) throw new Error("the pipeline did not drain within the shutdown timeout");
    },
    /** Rows stored per table. */
    async counts() {
      const [row] = await store.queryReadOnly(
        "SELECT (SELECT count() FROM gatewatch.requests) AS requests, " +
          "(SELECT count() FROM gatewatch.firewall_events) AS firewall, " +
          "(SELECT count() FROM gatewatch.dead_letters) AS dead",
      );
      return { requests: Number(row.requests), firewall: Number(row.firewall), dead: Number(row.dead) };
    },
    /**
     * Where the time went, from the pipeline's own histograms: seconds spent in inserts per table
     * (and how many), and in classification (batch admitted → rows back from the pool).
     */
    async timeSpent() {
      const sums = async (name, label) => {
        const out = {};
        for (const v of (await pipeline.metrics.registry.getSingleMetric(name).get()).values) {
          const key = v.labels[label] ?? "all";
          const kind = v.metricName.endsWith("_sum")
            ? "seconds"
            : v.metricName.endsWith("_count")
              ? "count"
              : null;
          if (kind) (out[key] ??= { seconds: 0, count: 0 })[kind] += v.value;
        }
        return out;
      };
      return {
        inserts: await sums(MetricNames.insertDuration, "table"),
        classify: (await sums(MetricNames.batchDuration, "none")).all,
      };
    },
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
