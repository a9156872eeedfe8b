/**
 * `gatewatch run`: the long-running service. Opens and migrates the store, starts the classifier
 * pool, the HTTP endpoints and the source, logs a throughput summary periodically, and shuts down
 * on SIGTERM/SIGINT: stop reading, drain admitted batches (bounded by the shutdown timeout), flush,
 * close. A second signal exits at once; whatever was not stored was not acknowledged either.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { GatewatchError } from "@gatewatch/pipeline";
import { AlertService } from "./alerts.js";
import type { Config } from "./config.js";
import { startHttpServer } from "./http-server.js";
import { runInsight } from "./insights.js";
import { createPipeline } from "./pipeline.js";
import { createSource } from "./sources.js";
import { openMigratedStore } from "./store.js";

/** Written next to an embedded store while the service holds it, so other commands can find its API. */
export const SERVICE_FILE = "gatewatch-service.json";

/** Runs until shut down; resolves with the process exit code (0 clean, 1 failed). */
export async function runService(config: Config, log: Logger): Promise<number> {
  const store = await openMigratedStore(config, log);
  let alerts: AlertService | undefined;
  const pipeline = createPipeline(config, store, log, (deltas) => alerts?.observe(deltas));
  const stop = new AbortController();
  const source = createSource(config, store, pipeline.metrics, log);
  let storeOk = true;
  let shuttingDown = false;
  const http = await startHttpServer(
    config.listenHost,
    config.listenPort,
    {
      metrics: () => pipeline.metrics.exposition(),
      notReady: () => {
        const reasons: string[] = [];
        if (shuttingDown) reasons.push("shutting down");
        if (pipeline.engine.failure) reasons.push(`pipeline failed: ${pipeline.engine.failure.code}`);
        if (!storeOk) reasons.push("store unreachable");
        if (source.ownedPartitions?.length === 0) reasons.push("no partitions owned yet");
        return reasons;
      },
      query: (sql) => store.queryReadOnly(sql),
      insight: (insight, params) => runInsight(store, insight, params),
      ...(config.apiToken ? { apiToken: config.apiToken } : {}),
    },
    log,
  ).catch(async (err: unknown) => {
    await pipeline.close(1000);
    await store.close();
    throw new GatewatchError(
      "listen_failed",
      `cannot listen on ${config.listenHost}:${config.listenPort}: ${String(err)}`,
      { cause: err },
    );
  });
  const serviceFile = store.target.kind === "embedded" ? join(store.target.dir, SERVICE_FILE) : undefined;
  if (serviceFile) writeFileSync(serviceFile, JSON.stringify({ pid: process.pid, api: http.url }) + "\n");
  if (config.alerts) {
    alerts = new AlertService(config, store, pipeline.metrics, log, http.url);
    await alerts.start();
  }
  log.info(
    { url: http.url, store: store.describe(), source: config.source, threads: config.threads },
    "gatewatch running",
  );

  const pinger = setInterval(() => {
    store.ping().then(
      () => (storeOk = true),
      () => (storeOk = false),
    );
  }, 5000);
  pinger.unref();

  let last = { at: performance.now(), records: 0 };
  const summary =
    config.summaryIntervalSeconds > 0
      ? setInterval(() => {
          const now = performance.now();
          const t = pipeline.totals;
          const seconds = (now - last.at) / 1000;
          log.info(
            {
              recordsPerSecond: Math.round((t.records - last.records) / seconds),
              records: t.records,
              rows: t.rows,
              deadLetters: t.deadLetters,
              batchesInFlight: pipeline.engine.inFlight,
              poolQueue: pipeline.pool.queueSize,
            },
            "throughput",
          );
          last = { at: now, records: t.records };
        }, config.summaryIntervalSeconds * 1000)
      : undefined;
  summary?.unref();

  const shutdown = (why: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ why }, "shutting down: stop reading, drain, flush");
    stop.abort();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      log.warn({ signal }, "second signal: exiting now; unstored batches were not acknowledged");
      process.exit(130);
    }
    shutdown(signal);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  let exitCode = 0;
  const stopped = new Promise<void>((resolve) =>
    stop.signal.addEventListener("abort", () => resolve(), { once: true }),
  );
  const reading = source.run(pipeline.engine.handle, stop.signal).catch((err: unknown) => {
    if (pipeline.engine.failure || stop.signal.aborted) return;
    exitCode = 1;
    log.error(
      { code: (err as { code?: unknown }).code, err: err instanceof Error ? err.message : String(err) },
      "source failed",
    );
  });
  await Promise.race([reading, pipeline.failed, stopped]);
  if (pipeline.engine.failure) exitCode = 1;
  shutdown(exitCode === 0 ? "source ended" : "failure");
  await reading;

  const { drained } = await pipeline.close(config.shutdownTimeoutSeconds * 1000);
  if (!drained) {
    exitCode = 1;
    log.error(
      { timeoutSeconds: config.shutdownTimeoutSeconds },
      "drain timed out: in-flight batches abandoned unacknowledged",
    );
  }
  clearInterval(pinger);
  if (summary) clearInterval(summary);
  await alerts?.stop();
  await http.close();
  await store.close();
  if (serviceFile) rmSync(serviceFile, { force: true });
  process.off("SIGTERM", onSignal);
  process.off("SIGINT", onSignal);
  const t = pipeline.totals;
  log.info({ records: t.records, rows: t.rows, deadLetters: t.deadLetters, exitCode }, "gatewatch stopped");
  return exitCode;
}
