import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pRetry, { AbortError } from "p-retry";
import type { Logger } from "pino";
import { GatewatchError, isGatewatchError } from "@gatewatch/pipeline";
import { ClickHouseStore, type StoreTarget } from "@gatewatch/store-clickhouse";
import { readSettingFile, type Config } from "./config.js";

/** The running service that holds an embedded store, as recorded in its service file. */
export interface StoreHolder {
  readonly pid: number;
  readonly api: string;
}

/** Reads the service file of an embedded store; undefined when no live service holds it. */
export function findStoreHolder(target: StoreTarget): StoreHolder | undefined {
  if (target.kind !== "embedded") return undefined;
  const file = join(target.dir, "gatewatch-service.json");
  if (!existsSync(file)) return undefined;
  try {
    const holder = JSON.parse(readFileSync(file, "utf8")) as StoreHolder;
    process.kill(holder.pid, 0);
    return holder;
  } catch {
    return undefined;
  }
}

/**
 * Opens the store. When another process holds an embedded store, the error says which one and what
 * to do instead.
 */
export async function openStore(config: Config): Promise<ClickHouseStore> {
  // A secret file usually ends with a newline that is not part of the password.
  const password = readSettingFile(config.storePasswordFile, "GATEWATCH_STORE_PASSWORD_FILE")
    ?.toString("utf8")
    .replace(/\r?\n$/, "");
  const caCert = readSettingFile(config.storeCaFile, "GATEWATCH_STORE_CA_FILE");
  try {
    return await ClickHouseStore.open(config.storeTarget, {
      requestTimeoutMs: config.storeRequestTimeoutMs,
      ...(config.storeCluster ? { cluster: config.storeCluster } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(caCert ? { caCert } : {}),
      retention: {
        requestsDays: config.retentionRequestsDays,
        firewallDays: config.retentionFirewallDays,
        rollupDays: config.retentionRollupDays,
        rollupHourDays: config.retentionRollupHourDays,
        deadLetterDays: config.retentionDeadLetterDays,
      },
    });
  } catch (err) {
    if (isGatewatchError(err, "store_locked")) {
      const holder = findStoreHolder(config.storeTarget);
      const held = holder
        ? `is held by gatewatch (pid ${holder.pid}, API ${holder.api})`
        : "could not be opened: another process probably holds it, or the directory is not writable";
      throw new GatewatchError(
        "store_locked",
        `the embedded store ${config.store} ${held}; the embedded engine allows one process per directory. ` +
          `Stop that process, use another --store directory, or query the running service (gatewatch query forwards to it).`,
        { cause: err },
      );
    }
    throw err;
  }
}

/**
 * Opens the store and applies missing migrations. A slow or restarting server gets a few retries
 * (migrations are idempotent and run under a lock); anything else fails at once.
 */
export async function openMigratedStore(config: Config, log: Logger): Promise<ClickHouseStore> {
  const store = await openStore(config);
  try {
    const report = await pRetry(
      () =>
        store.migrate().catch((err: unknown) => {
          throw isGatewatchError(err) && err.retriable ? err : new AbortError(err as Error);
        }),
      {
        retries: 5,
        minTimeout: 500,
        maxTimeout: 5000,
        randomize: true,
        onFailedAttempt: (e) =>
          log.warn({ attempt: e.attemptNumber, err: e.message }, "schema migration failed, retrying"),
      },
    );
    if (report.applied.length > 0)
      log.info({ applied: report.applied, version: report.version }, "schema migrated");
    if (report.perShard)
      log.warn(
        { statements: report.perShard },
        "cluster: run these statements on one replica of every other shard (backfills of existing data)",
      );
    return store;
  } catch (err) {
    await store.close();
    throw err;
  }
}
