/**
 * The ClickHouse store: one `@clickhouse/client` for both modes. Embedded mode plugs chdb in as the
 * client's connection (in-process engine, one per process, data directory locked); server mode uses
 * the client's HTTP transport. Everything above this file is the same code path.
 */
import { mkdirSync } from "node:fs";
import { Readable } from "node:stream";
import {
  ClickHouseLogLevel,
  createClient,
  type ClickHouseClient,
  type ClickHouseSettings,
} from "@clickhouse/client";
import pRetry, { AbortError } from "p-retry";
import { GatewatchError } from "@gatewatch/pipeline";
import { classifyStoreError } from "./errors.js";
import {
  BOOTSTRAP_DDL,
  LATEST_VERSION,
  MIGRATIONS,
  Tables,
  defaultRetention,
  renderStatement,
  type InsertTable,
  type Retention,
  type SchemaStatement,
} from "./schema.js";
import { assertClusterName, clusterStatements, type ClusterStatement } from "./cluster.js";
import { assertReadOnlySql } from "./read-only.js";
import { describeStore, type StoreTarget } from "./store-url.js";
import { TABLE_COLUMNS } from "./rows.js";

/** A dead letter's identity and raw text, as `gatewatch dead-letters replay` reads it. */
export interface DeadLetterRow {
  readonly reason: string;
  readonly source: string;
  readonly partition: string;
  readonly batch_seq: number;
  readonly body_index: number;
  readonly record_index: number;
  readonly raw: string;
  /** Size of the body the dead letter came from. */
  readonly raw_bytes: number;
}

/** One row of the alert history (`alert_events`). Times are epoch milliseconds. */
export interface AlertEventRow {
  readonly at: number;
  readonly alert_id: string;
  readonly state: "firing" | "resolved";
  readonly alertname: string;
  readonly gateway: string;
  readonly cause: string;
  readonly origin: string;
  readonly severity: string;
  readonly started_at: number;
  readonly count: number;
  readonly baseline: number;
  readonly share: number;
  readonly baseline_share: number;
  readonly summary: string;
  readonly description: string;
  readonly runbook_url: string;
  readonly labels: Readonly<Record<string, string>>;
}

type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>["connection"]>;

/** chdb's passthrough insert (embedded stores only). */
type RawInsert = (params: {
  table: string;
  values: Uint8Array;
  format: "JSONCompactEachRow" | "JSONEachRow";
  columns?: readonly string[];
  settings: Record<string, string | number | boolean>;
}) => Promise<void>;

/** Options of {@link ClickHouseStore.open}. */
export interface StoreOptions {
  /** Retention of each table. @default {@link defaultRetention} */
  readonly retention?: Retention;
  /**
   * Timeout of one request to a ClickHouse server, milliseconds.
   * @default 30000
   */
  readonly requestTimeoutMs?: number;
  /**
   * Retries of the first ping when the server is unreachable or busy (backoff 200 ms doubling, capped at 2 s).
   * @default 4
   */
  readonly connectRetries?: number;
  /**
   * ClickHouse cluster (`remote_servers` name) to lay the schema out on: replicated shard-local
   * tables behind Distributed tables (see cluster.ts). Server targets only.
   */
  readonly cluster?: string;
  /** Password for a server, instead of the URL's (e.g. read from a mounted secret file). */
  readonly password?: string;
  /** PEM of the CA(s) that signed an https server's certificate, instead of the system CAs. */
  readonly caCert?: Buffer;
}

/** Result of {@link ClickHouseStore.migrate}. */
export interface MigrationReport {
  readonly applied: { version: number; name: string }[];
  readonly version: number;
  /** With `dryRun`: what would be applied, with its statements; nothing was changed. */
  readonly pending?: { version: number; name: string; statements: string[] }[];
  /**
   * Cluster mode: statements to run on one replica of every other shard (backfills; INSERT has no
   * ON CLUSTER). They were run on the node gatewatch is connected to.
   */
  readonly perShard?: string[];
}

/** Options of {@link ClickHouseStore.migrate}. */
export interface MigrateOptions {
  /** Only report what would be applied. @default false */
  readonly dryRun?: boolean;
  /** How long to wait for another process's migration to finish, ms. @default 120000 */
  readonly lockTimeoutMs?: number;
  /**
   * A migration lock its holder has not touched for this long (the holder touches it six times as
   * often) is left over from a crashed process and is taken over, seconds.
   * @default 60
   */
  readonly staleLockSeconds?: number;
}

// Settings every insert relies on, set explicitly because engine defaults differ between versions
// (chdb 26.x defaults to async inserts) and because the embedded connection applies settings with
// SET, which persists in the session: each insert sets all of them, including its own token.
const INSERT_SETTINGS: ClickHouseSettings = {
  async_insert: 0,
  deduplicate_blocks_in_dependent_materialized_views: 1,
  input_format_skip_unknown_fields: 0,
  date_time_input_format: "best_effort",
};

/** An open store. Not safe to share across processes in embedded mode (chdb locks its directory). */
export class ClickHouseStore {
  readonly #client: ClickHouseClient;
  readonly target: StoreTarget;
  readonly database: string;
  readonly #retention: Retention;
  readonly #cluster: string | undefined;
  readonly #insertSettings: ClickHouseSettings;
  readonly #rawInsert: RawInsert | undefined;

  private constructor(
    client: ClickHouseClient,
    target: StoreTarget,
    retention: Retention,
    cluster?: string,
    rawInsert?: RawInsert,
  ) {
    this.#client = client;
    this.#rawInsert = rawInsert;
    this.target = target;
    this.database = target.database;
    this.#retention = retention;
    this.#cluster = cluster;
    // On a cluster, inserts go through Distributed tables: a foreground insert returns only once the
    // shard has stored the block, so an acknowledged batch is really stored.
    this.#insertSettings = cluster
      ? { ...INSERT_SETTINGS, distributed_foreground_insert: 1 }
      : INSERT_SETTINGS;
  }

  /** Opens the store (does not create the schema: see {@link migrate}). */
  static async open(target: StoreTarget, options: StoreOptions = {}): Promise<ClickHouseStore> {
    const retention = options.retention ?? defaultRetention;
    if (options.cluster !== undefined) {
      if (target.kind === "embedded")
        throw new GatewatchError("config_invalid", "a cluster needs a ClickHouse server store, not embedded");
      assertClusterName(options.cluster);
    }
    let client: ClickHouseClient;
    let rawInsert: RawInsert | undefined;
    if (target.kind === "embedded") {
      mkdirSync(target.dir, { recursive: true });
      const { createChdbConnection } = await import("chdb/connection").catch((err: unknown) => {
        // The server image leaves the embedded engine out unless built WITH_EMBEDDED=true.
        if ((err as { code?: unknown }).code !== "ERR_MODULE_NOT_FOUND") throw err;
        throw new GatewatchError(
          "config_invalid",
          "the embedded store needs the package chdb, which this installation leaves out (an image built without WITH_EMBEDDED=true): use --store http(s)://… for a ClickHouse server",
          { cause: err },
        );
      });
      try {
        const chdb = createChdbConnection({ path: target.dir });
        rawInsert = (params) => chdb.chdb.rawInsert(params).then(() => undefined);
        // chdb types its connection against @clickhouse/client-common, which the client now bundles
        // under another path; the runtime contract is the same (chdb/connection README).
        client = createClient({ connection: chdb as unknown as ClientConnection });
      } catch (err) {
        throw classifyStoreError(err, `opening embedded store ${target.dir}`);
      }
    } else {
      client = createClient({
        url: target.url,
        username: target.username,
        password: options.password ?? target.password,
        request_timeout: options.requestTimeoutMs ?? 30_000,
        ...(options.caCert ? { tls: { ca_cert: options.caCert } } : {}),
        compression: { request: true, response: true },
        // Failures surface as classified errors that gatewatch logs itself, with context.
        log: { level: ClickHouseLogLevel.OFF },
        clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
      });
    }
    const store = new ClickHouseStore(client, target, retention, options.cluster, rawInsert);
    try {
      // A server that is restarting or busy gets a few seconds; anything else fails at once.
      await pRetry(
        () =>
          store.ping().catch((err: unknown) => {
            throw err instanceof GatewatchError && !err.retriable ? new AbortError(err) : err;
          }),
        { retries: options.connectRetries ?? 4, minTimeout: 200, maxTimeout: 2000, randomize: true },
      );
    } catch (err) {
      await client.close().catch(() => undefined);
      throw err;
    }
    return store;
  }

  /** Log-safe description of the target. */
  describe(): string {
    return describeStore(this.target);
  }

  /** Throws `store_unavailable` (retriable) when the store does not answer. */
  async ping(): Promise<void> {
    try {
      const res = await this.#client.ping();
      if (!res.success) throw res.error;
    } catch (err) {
      throw classifyStoreError(err, `pinging ${this.describe()}`);
    }
  }

  /**
   * Applies missing migrations in order, under a lock so that replicas starting together never run a
   * migration twice or interleave them. Refuses a schema newer than this build.
   */
  async migrate(options: MigrateOptions = {}): Promise<MigrationReport> {
    const db = this.database;
    if (options.dryRun) {
      const current = await this.schemaVersion().catch(() => 0);
      this.#refuseNewer(current);
      const pending = MIGRATIONS.filter((m) => m.version > current).map((m) => ({
        version: m.version,
        name: m.name,
        statements: this.#render(m.ddl(this.#retention)).map((st) =>
          st.runOn === "each_shard" ? `-- on one replica of every shard:\n${st.sql}` : st.sql,
        ),
      }));
      return { applied: [], version: current, pending };
    }
    for (const st of this.#render(BOOTSTRAP_DDL)) await this.#command(st.sql);
    if ((await this.schemaVersion()) === LATEST_VERSION) return { applied: [], version: LATEST_VERSION };
    // The embedded engine is one process per directory already (chdb locks it): no lock table needed,
    // and none can be left behind by a crash.
    const locked =
      this.target.kind === "embedded"
        ? <T>(fn: () => Promise<T>) => fn()
        : <T>(fn: () => Promise<T>) =>
            this.#withMigrationLock(options.lockTimeoutMs ?? 120_000, options.staleLockSeconds ?? 60, fn);
    return locked(async () => {
      // Read again under the lock: another process may just have applied everything.
      const current = await this.schemaVersion();
      this.#refuseNewer(current);
      const applied: { version: number; name: string }[] = [];
      const perShard: string[] = [];
      for (const m of MIGRATIONS) {
        if (m.version <= current) continue;
        for (const st of this.#render(m.ddl(this.#retention))) {
          await this.#command(st.sql);
          if (st.runOn === "each_shard") perShard.push(st.sql);
        }
        await this.#insertRows(`${db}.${Tables.migrations}`, [{ version: m.version, name: m.name }]);
        applied.push({ version: m.version, name: m.name });
      }
      return {
        applied,
        version: Math.max(current, LATEST_VERSION),
        ...(perShard.length > 0 ? { perShard } : {}),
      };
    });
  }

  /** Schema statements as this store runs them: single-server SQL, or the cluster layout. */
  #render(ddl: readonly SchemaStatement[]): ClusterStatement[] {
    return this.#cluster
      ? clusterStatements(ddl, this.database, this.#cluster)
      : ddl.map((st) => ({ runOn: "any_node" as const, sql: renderStatement(st, this.database) }));
  }

  #refuseNewer(current: number): void {
    if (current > LATEST_VERSION) {
      throw new GatewatchError(
        "schema_too_new",
        `the store ${this.describe()} has schema version ${current}, newer than this gatewatch knows (${LATEST_VERSION}); upgrade gatewatch`,
      );
    }
  }

  /**
   * Runs `fn` holding the migration lock: a table whose creation succeeds for exactly one process
   * (CREATE TABLE without IF NOT EXISTS is atomic on a server). The holder touches it (a comment
   * change moves its metadata time) while it works; a lock untouched for `staleSeconds` is left over from
   * a crashed process and is taken over.
   */
  async #withMigrationLock<T>(timeoutMs: number, staleSeconds: number, fn: () => Promise<T>): Promise<T> {
    const lock = `${this.database}.${Tables.migrationLock}`;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.#client.command({ query: `CREATE TABLE ${lock} (holder String) ENGINE = Memory` });
        break;
      } catch (err) {
        if (!/already exists|TABLE_ALREADY_EXISTS|\b57\b/.test(String((err as Error).message ?? err)))
          throw classifyStoreError(err, "taking the migration lock");
      }
      const [age] = await this.#select<{ age: number }>(
        `SELECT dateDiff('second', metadata_modification_time, now()) AS age FROM system.tables
         WHERE database = {db:String} AND name = {name:String}`,
        { db: this.database, name: Tables.migrationLock },
      );
      if (age && Number(age.age) > staleSeconds) {
        await this.#command(`DROP TABLE IF EXISTS ${lock}`);
        continue;
      }
      if (Date.now() > deadline)
        throw new GatewatchError(
          "migration_locked",
          `another process has been migrating ${this.describe()} for ${age ? Number(age.age) : "?"} s (lock table ${lock}); if none is running, drop that table`,
        );
      await new Promise((r) => setTimeout(r, 250 + Math.random() * 250));
    }
    const heartbeat = setInterval(
      () => {
        this.#client.command({ query: `ALTER TABLE ${lock} MODIFY COMMENT 'alive'` }).catch(() => undefined);
      },
      (staleSeconds * 1000) / 6,
    );
    try {
      return await fn();
    } finally {
      clearInterval(heartbeat);
      await this.#command(`DROP TABLE IF EXISTS ${lock}`).catch(() => undefined);
    }
  }

  /** Highest applied migration, 0 when none. */
  async schemaVersion(): Promise<number> {
    const rows = await this.#select<{ v: number }>(
      `SELECT toUInt32(max(version)) AS v FROM ${this.database}.${Tables.migrations}`,
    );
    return Number(rows[0]?.v ?? 0);
  }

  /**
   * Inserts pre-encoded rows synchronously: JSONCompactEachRow lines in the order of
   * {@link TABLE_COLUMNS} (what the row encoders write), or JSONEachRow objects. A repeated call
   * with the same `token` writes nothing (within the deduplication window). Throws a classified
   * {@link GatewatchError}. Embedded, the bytes go to the engine as they are (chdb's passthrough
   * insert) rather than through the client, which would copy them into the SQL text.
   */
  async insertEncoded(
    table: InsertTable,
    rows: Uint8Array,
    token: string,
    format: "JSONCompactEachRow" | "JSONEachRow" = "JSONCompactEachRow",
  ): Promise<void> {
    const columns = format === "JSONCompactEachRow" ? TABLE_COLUMNS[table] : undefined;
    const settings = { ...this.#insertSettings, insert_deduplication_token: token };
    try {
      if (this.#rawInsert) {
        await this.#rawInsert({
          table: `${this.database}.${table}`,
          values: rows,
          format,
          ...(columns ? { columns } : {}),
          settings: settings as unknown as Record<string, string | number | boolean>,
        });
        return;
      }
      const res = await this.#client.exec({
        query: `INSERT INTO ${this.database}.${table}${columns ? ` (${columns.join(", ")})` : ""} FORMAT ${format}`,
        values: Readable.from([Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength)]),
        clickhouse_settings: settings,
      });
      res.stream.resume();
    } catch (err) {
      throw classifyStoreError(err, `inserting into ${table}`);
    }
  }

  /** Records that the rows of `source`/`partition` range first..last are about to be written. */
  async logBatch(source: string, partition: string, firstSeq: number, lastSeq: number): Promise<void> {
    // One tiny insert per live batch and partition: let the server gather them into few parts
    // (async insert), but wait until it is written, since the rows follow only after.
    await this.#insertRows(
      `${this.database}.${Tables.batchLog}`,
      [{ source, partition, first_seq: firstSeq, last_seq: lastSeq }],
      { async_insert: 1, wait_for_async_insert: 1 },
    );
  }

  /**
   * Dead letters received in the last `sinceSeconds` that were never replayed, oldest first
   * (optionally of one reason), for `gatewatch dead-letters replay`.
   */
  async deadLettersForReplay(
    sinceSeconds: number,
    reason: string | undefined,
    limit: number,
  ): Promise<DeadLetterRow[]> {
    const d = `${this.database}.${Tables.deadLetters}`;
    const r = `${this.database}.${Tables.deadLetterReplays}`;
    const rows = await this.#select<DeadLetterRow>(
      `SELECT reason, source, partition, batch_seq, body_index, record_index, raw, raw_bytes
       FROM ${d}
       WHERE received_at >= now64(3) - toIntervalSecond({since:UInt32})
         AND ({reason:String} = '' OR reason = {reason:String})
         AND (source, partition, batch_seq, body_index, record_index, reason) NOT IN (
           SELECT source, partition, batch_seq, body_index, record_index, reason FROM ${r})
       ORDER BY received_at, source, partition, batch_seq, body_index, record_index
       LIMIT {limit:UInt32}`,
      { since: sinceSeconds, reason: reason ?? "", limit },
    );
    return rows.map((row) => ({
      ...row,
      batch_seq: Number(row.batch_seq),
      body_index: Number(row.body_index),
      record_index: Number(row.record_index),
      raw_bytes: Number(row.raw_bytes),
    }));
  }

  /** Marks dead letters as replayed (they are no longer listed or replayed). */
  async markDeadLettersReplayed(rows: readonly DeadLetterRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.#insertRows(
      `${this.database}.${Tables.deadLetterReplays}`,
      rows.map(({ raw: _raw, raw_bytes: _bytes, ...id }) => id),
    );
  }

  /** Appends alert transitions to the alert history. */
  async recordAlertEvents(events: readonly AlertEventRow[]): Promise<void> {
    if (events.length === 0) return;
    await this.#insertRows(`${this.database}.${Tables.alertEvents}`, [...events]);
  }

  /**
   * Requests per minute, gateway and cause over the last `minutes` minutes (from the rollup), to seed
   * the spike detector after a start.
   */
  async recentCauseCounts(
    minutes: number,
  ): Promise<{ minute: number; gateway: string; cause: string; requests: number }[]> {
    const rows = await this.#select<{ minute: number; gateway: string; cause: string; requests: number }>(
      `SELECT toUnixTimestamp(minute) AS minute, gateway, cause, sum(requests) AS requests
       FROM ${this.database}.${Tables.requests1m}
       WHERE minute >= now() - toIntervalMinute({minutes:UInt32})
       GROUP BY minute, gateway, cause`,
      { minutes },
    );
    return rows.map((r) => ({ ...r, minute: Number(r.minute), requests: Number(r.requests) }));
  }

  /**
   * The largest contributors to `cause` at `gateway` over the last `seconds`: backend pools, backend
   * addresses, listeners and hosts (and firewall rules for `waf_block`), three each, with counts.
   */
  async topContributors(
    gateway: string,
    cause: string,
    seconds: number,
  ): Promise<{ dimension: string; value: string; requests: number }[]> {
    const dims = ["backend_pool", "backend_address", "listener", "host"];
    const parts = dims.map(
      (d) => `SELECT '${d}' AS dimension, toString(${d}) AS value, count() AS requests
       FROM ${this.database}.${Tables.requests}
       WHERE gateway = {gateway:String} AND cause = {cause:String} AND ${d} != ''
         AND time >= now64(3) - toIntervalSecond({seconds:UInt32})
       GROUP BY value ORDER BY requests DESC LIMIT 3`,
    );
    if (cause === "waf_block")
      parts.push(`SELECT 'waf_rule' AS dimension, concat(rule_id, ' ', rule_group) AS value, count() AS requests
       FROM ${this.database}.${Tables.firewallEvents}
       WHERE gateway = {gateway:String} AND action = 'blocked' AND rule_id != ''
         AND time >= now64(3) - toIntervalSecond({seconds:UInt32})
       GROUP BY value ORDER BY requests DESC LIMIT 3`);
    const rows = await this.#select<{ dimension: string; value: string; requests: number }>(
      parts.map((p) => `(${p})`).join("\nUNION ALL\n"),
      { gateway, cause, seconds },
    );
    return rows.map((r) => ({ ...r, requests: Number(r.requests) }));
  }

  /** The last range logged for a partition, or null. */
  async lastLoggedBatch(
    source: string,
    partition: string,
  ): Promise<{ firstSeq: number; lastSeq: number } | null> {
    const rows = await this.#select<{ first: number; last: number }>(
      `SELECT first_seq AS first, last_seq AS last FROM ${this.database}.${Tables.batchLog}
       WHERE source = {source:String} AND partition = {partition:String} ORDER BY first_seq DESC LIMIT 1`,
      { source, partition },
    );
    const row = rows[0];
    return row ? { firstSeq: Number(row.first), lastSeq: Number(row.last) } : null;
  }

  /**
   * Runs one read-only statement and returns its rows. Anything but a single SELECT/WITH/SHOW/
   * DESCRIBE/EXPLAIN/EXISTS statement is refused with `query_not_read_only`.
   */
  async queryReadOnly(sql: string, params?: Record<string, unknown>): Promise<Record<string, unknown>[]> {
    const statement = assertReadOnlySql(sql);
    return this.#select(statement, params);
  }

  /** Closes the client (and the embedded engine's session). */
  async close(): Promise<void> {
    await this.#client.close();
  }

  async #select<T>(query: string, params?: Record<string, unknown>): Promise<T[]> {
    try {
      const rs = await this.#client.query({
        query,
        format: "JSONEachRow",
        ...(params ? { query_params: params } : {}),
        clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
      });
      return await rs.json<T>();
    } catch (err) {
      throw classifyStoreError(err, "querying");
    }
  }

  async #command(query: string): Promise<void> {
    try {
      await this.#client.command({ query });
    } catch (err) {
      throw classifyStoreError(err, "applying the schema");
    }
  }

  async #insertRows(
    table: string,
    rows: object[],
    settings: ClickHouseSettings = { async_insert: 0 },
  ): Promise<void> {
    try {
      await this.#client.insert({
        table,
        values: rows,
        format: "JSONEachRow",
        clickhouse_settings: { ...settings, insert_deduplication_token: "" },
      });
    } catch (err) {
      throw classifyStoreError(err, `inserting into ${table}`);
    }
  }
}
