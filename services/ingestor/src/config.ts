/**
 * Configuration: the only reader of the environment. Every setting has an environment variable
 * (`GATEWATCH_UPPER_SNAKE`) and a command-line flag; flags win over the environment, which wins
 * over defaults. `loadConfig` checks everything and fails once with every problem, each naming the
 * variable or flag, the value and what was expected.
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { z } from "zod";
import { GatewatchError } from "@gatewatch/pipeline";
import { parsePolicyOverrides, type PolicyOverrides } from "@gatewatch/alerting";
import { parseStoreUrl, type StoreTarget } from "@gatewatch/store-clickhouse";

const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().nonnegative();
const positiveNumber = z.coerce.number().positive().finite();
const port = z.coerce.number().int().min(0).max(65535);

interface Setting<T> {
  readonly env: string;
  readonly flag: string;
  readonly schema: z.ZodType<T>;
  readonly expect: string;
  readonly default: T | (() => T);
  readonly doc: string;
  /** Never echo the value in errors (connection strings, keys). */
  readonly secret?: boolean;
}

function setting<T>(
  env: string,
  flag: string,
  schema: z.ZodType<T>,
  expect: string,
  dflt: T | (() => T),
  doc: string,
): Setting<T> {
  return { env: `GATEWATCH_${env}`, flag: `--${flag}`, schema, expect, default: dflt, doc };
}

/** A setting with no default (absent unless given). */
function optional<T>(
  env: string,
  flag: string,
  schema: z.ZodType<T>,
  expect: string,
  doc: string,
  secret = false,
): Setting<T | undefined> {
  return { env: `GATEWATCH_${env}`, flag: `--${flag}`, schema, expect, default: undefined, doc, secret };
}

/** A comma-separated list of non-empty items matching `item`. */
const list = (item: RegExp) =>
  z
    .string()
    .transform((v) => v.split(",").map((x) => x.trim()))
    .pipe(z.array(z.string().regex(item)).min(1));

const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

const startPosition = z.union([
  z.enum(["latest", "earliest"]),
  z.iso.datetime({ offset: true }).transform((s) => new Date(s)),
]);

/** Every setting: its variable, flag, type, default and meaning. The README table is this list. */
export const SETTINGS = {
  store: setting(
    "STORE",
    "store",
    z.string().min(1),
    "embedded:<dir> or http(s)://user:password@host:port/database",
    "embedded:./data/clickhouse",
    "Where rows are stored: an embedded ClickHouse directory or a ClickHouse server URL.",
  ),
  storeCluster: optional(
    "STORE_CLUSTER",
    "store-cluster",
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
    "a cluster name from the servers' remote_servers (letters, digits, underscore)",
    "Lay the schema out on this ClickHouse cluster: ON CLUSTER replicated shard-local tables behind Distributed tables.",
  ),
  storePasswordFile: optional(
    "STORE_PASSWORD_FILE",
    "store-password-file",
    z.string().min(1),
    "a path to a file",
    "File holding the ClickHouse server password (e.g. a mounted secret), instead of the one in the URL.",
  ),
  storeCaFile: optional(
    "STORE_CA_FILE",
    "store-ca-file",
    z.string().min(1),
    "a path to a PEM file",
    "PEM of the CA that signed an https ClickHouse server's certificate, instead of the system CAs.",
  ),
  storeRequestTimeoutMs: setting(
    "STORE_REQUEST_TIMEOUT_MS",
    "store-request-timeout-ms",
    positiveInt,
    "a positive integer",
    30_000,
    "Timeout of one request to a ClickHouse server, milliseconds (a timed-out insert is retried).",
  ),
  apiToken: optional(
    "API_TOKEN",
    "api-token",
    z.string().min(16),
    "a token of at least 16 characters",
    "Bearer token the service's /api endpoints require (and commands send when they go through the service). /metrics and the probes stay open.",
    true,
  ),
  source: setting(
    "SOURCE",
    "source",
    z.enum(["demo", "eventhubs", "kafka"]),
    "demo, eventhubs or kafka",
    "demo",
    "Input of `gatewatch run`: the built-in demo generator, Azure Event Hubs (AMQP) or Kafka (any Kafka, or the Event Hubs Kafka endpoint).",
  ),
  listenHost: setting(
    "LISTEN_HOST",
    "listen-host",
    z.string().min(1),
    "a host name or IP address",
    "127.0.0.1",
    "Address of the HTTP server (/metrics, /healthz, /readyz, /api).",
  ),
  listenPort: setting(
    "LISTEN_PORT",
    "listen-port",
    port,
    "a port number 0..65535",
    9464,
    "Port of the HTTP server; 0 picks a free port.",
  ),
  logLevel: setting(
    "LOG_LEVEL",
    "log-level",
    z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
    "one of fatal, error, warn, info, debug, trace, silent",
    "info",
    "Log level (structured JSON lines on stdout).",
  ),
  threads: setting(
    "THREADS",
    "threads",
    positiveInt,
    "a positive integer",
    () => availableParallelism(),
    "Classifier worker threads (default: one per core).",
  ),
  maxInFlight: setting(
    "MAX_IN_FLIGHT",
    "max-in-flight",
    positiveInt,
    "a positive integer",
    () => availableParallelism() * 2 + 2,
    "Batches admitted and not yet stored; sources wait beyond this.",
  ),
  batchMaxBodies: setting(
    "BATCH_MAX_BODIES",
    "batch-max-bodies",
    positiveInt,
    "a positive integer",
    500,
    "Bodies per batch (one insert per table per batch).",
  ),
  batchMaxBytes: setting(
    "BATCH_MAX_BYTES",
    "batch-max-bytes",
    positiveInt,
    "a positive integer",
    8 * 1024 * 1024,
    "Bytes of bodies per batch. Every insert has a fixed cost in ClickHouse, so larger batches store faster but wait longer to fill (bench/README.md: 16 MiB stores ~20% more per second, with p99 latency over 2 s at half load); memory grows with max-in-flight × this.",
  ),
  batchMaxWaitMs: setting(
    "BATCH_MAX_WAIT_MS",
    "batch-max-wait-ms",
    positiveInt,
    "a positive integer",
    1000,
    "Longest a partial batch of a live source waits, milliseconds.",
  ),
  maxBodyBytes: setting(
    "MAX_BODY_BYTES",
    "max-body-bytes",
    positiveInt,
    "a positive integer",
    4 * 1024 * 1024,
    "Bodies larger than this are dead-lettered unparsed.",
  ),
  deadLetterRawChars: setting(
    "DEAD_LETTER_RAW_CHARS",
    "dead-letter-raw-chars",
    positiveInt,
    "a positive integer",
    4096,
    "Characters of the raw body or record kept in a dead letter.",
  ),
  backendTimeoutSeconds: setting(
    "BACKEND_TIMEOUT_SECONDS",
    "backend-timeout-seconds",
    positiveNumber,
    "a positive number",
    20,
    "Backend request timeout of your gateways (v1 502 → backend_timeout rule).",
  ),
  labelCap: setting(
    "METRICS_LABEL_CAP",
    "metrics-label-cap",
    positiveInt,
    "a positive integer",
    50,
    "Distinct gateway, listener and backend-pool label values per metric label; the rest become 'other'.",
  ),
  summaryIntervalSeconds: setting(
    "SUMMARY_INTERVAL_SECONDS",
    "summary-interval-seconds",
    nonNegativeInt,
    "a non-negative integer",
    30,
    "Seconds between throughput summary log lines; 0 turns them off.",
  ),
  shutdownTimeoutSeconds: setting(
    "SHUTDOWN_TIMEOUT_SECONDS",
    "shutdown-timeout-seconds",
    positiveNumber,
    "a positive number",
    30,
    "Longest a graceful shutdown may take before in-flight work is abandoned (not acknowledged).",
  ),
  insertMaxDelayMs: setting(
    "INSERT_MAX_DELAY_MS",
    "insert-max-delay-ms",
    positiveInt,
    "a positive integer",
    30_000,
    "Longest pause between retries of a failed insert, milliseconds.",
  ),
  retentionRequestsDays: setting(
    "RETENTION_REQUESTS_DAYS",
    "retention-requests-days",
    positiveInt,
    "a positive integer",
    30,
    "Days raw requests are kept after being stored.",
  ),
  retentionFirewallDays: setting(
    "RETENTION_FIREWALL_DAYS",
    "retention-firewall-days",
    positiveInt,
    "a positive integer",
    30,
    "Days firewall events are kept after being stored.",
  ),
  retentionRollupDays: setting(
    "RETENTION_ROLLUP_DAYS",
    "retention-rollup-days",
    positiveInt,
    "a positive integer",
    90,
    "Days per-minute rollups are kept.",
  ),
  retentionRollupHourDays: setting(
    "RETENTION_ROLLUP_HOUR_DAYS",
    "retention-rollup-hour-days",
    positiveInt,
    "a positive integer",
    730,
    "Days per-hour rollups are kept.",
  ),
  retentionDeadLetterDays: setting(
    "RETENTION_DEAD_LETTER_DAYS",
    "retention-dead-letter-days",
    positiveInt,
    "a positive integer",
    14,
    "Days dead letters are kept.",
  ),
  eventhubConnectionString: optional(
    "EVENTHUB_CONNECTION_STRING",
    "eventhub-connection-string",
    z.string().regex(/Endpoint=sb:\/\//i),
    "an Event Hubs connection string (Endpoint=sb://...)",
    "Event Hubs namespace or hub connection string (Shared Access Signature). Use it or --eventhub-namespace.",
    true,
  ),
  eventhubNamespace: optional(
    "EVENTHUB_NAMESPACE",
    "eventhub-namespace",
    z.string().regex(/^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/),
    "a fully qualified namespace such as mynamespace.servicebus.windows.net",
    "Fully qualified Event Hubs namespace, used with Microsoft Entra ID (DefaultAzureCredential: managed identity, workload identity, az login).",
  ),
  eventhubName: optional(
    "EVENTHUB_NAME",
    "eventhub-name",
    z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$/),
    "an event hub name",
    "Event hub to read (optional when the connection string has EntityPath).",
  ),
  eventhubConsumerGroup: setting(
    "EVENTHUB_CONSUMER_GROUP",
    "eventhub-consumer-group",
    z.string().min(1).max(256),
    "a consumer group name",
    "$Default",
    "Consumer group; every replica of one deployment uses the same.",
  ),
  eventhubStart: setting(
    "EVENTHUB_START",
    "eventhub-start",
    startPosition,
    "latest, earliest or an ISO-8601 time with offset",
    "latest",
    "Where a partition without a checkpoint starts.",
  ),
  eventhubLoadBalancing: setting(
    "EVENTHUB_LOAD_BALANCING",
    "eventhub-load-balancing",
    z.enum(["balanced", "greedy"]),
    "balanced or greedy",
    "balanced",
    "How replicas claim partitions: one at a time (balanced) or all fair shares at once (greedy).",
  ),
  eventhubUpdateIntervalMs: setting(
    "EVENTHUB_UPDATE_INTERVAL_MS",
    "eventhub-update-interval-ms",
    positiveInt,
    "a positive integer",
    10_000,
    "How often a replica renews and rebalances partition ownership, milliseconds.",
  ),
  eventhubOwnershipExpirationMs: setting(
    "EVENTHUB_OWNERSHIP_EXPIRATION_MS",
    "eventhub-ownership-expiration-ms",
    positiveInt,
    "a positive integer",
    60_000,
    "After this long without renewal a dead replica's partitions move to the others, milliseconds.",
  ),
  checkpointConnectionString: optional(
    "CHECKPOINT_CONNECTION_STRING",
    "checkpoint-connection-string",
    z.string().regex(/AccountName=|BlobEndpoint=|UseDevelopmentStorage=/i),
    "an Azure Storage connection string",
    "Storage account for checkpoints and partition ownership. Use it or --checkpoint-account-url.",
    true,
  ),
  checkpointAccountUrl: optional(
    "CHECKPOINT_ACCOUNT_URL",
    "checkpoint-account-url",
    z.url({ protocol: /^https?$/ }),
    "a blob service URL such as https://account.blob.core.windows.net",
    "Blob service URL for checkpoints, used with Microsoft Entra ID (the identity needs Storage Blob Data Contributor).",
  ),
  checkpointContainer: setting(
    "CHECKPOINT_CONTAINER",
    "checkpoint-container",
    z.string().regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/),
    "a blob container name (3-63 lower-case letters, digits and single hyphens)",
    "gatewatch-checkpoints",
    "Blob container for checkpoints and ownership; created when missing.",
  ),
  kafkaBrokers: optional(
    "KAFKA_BROKERS",
    "kafka-brokers",
    list(/^[A-Za-z0-9.-]+:\d{1,5}$/),
    "comma-separated host:port pairs",
    "Kafka bootstrap brokers.",
  ),
  kafkaTopics: optional(
    "KAFKA_TOPICS",
    "kafka-topics",
    list(/^[A-Za-z0-9._-]{1,249}$/),
    "comma-separated topic names",
    "Topics to read (Event Hubs: the event hub names).",
  ),
  kafkaGroup: setting(
    "KAFKA_GROUP",
    "kafka-group",
    z.string().min(1).max(255),
    "a consumer group id",
    "gatewatch",
    "Consumer group; every replica of one deployment uses the same, and partitions are shared among them.",
  ),
  kafkaStart: setting(
    "KAFKA_START",
    "kafka-start",
    z.enum(["latest", "earliest"]),
    "latest or earliest",
    "latest",
    "Where a partition without a committed offset starts.",
  ),
  kafkaSessionTimeoutMs: setting(
    "KAFKA_SESSION_TIMEOUT_MS",
    "kafka-session-timeout-ms",
    positiveInt,
    "a positive integer",
    30_000,
    "A replica that stops heartbeating for this long loses its partitions to the others, milliseconds (heartbeats every third of it, at most 3 s; Event Hubs allows at most 30000).",
  ),
  kafkaTls: setting(
    "KAFKA_TLS",
    "kafka-tls",
    bool,
    "true or false",
    false,
    "Connect with TLS (the system CAs, or GATEWATCH_KAFKA_CA_FILE).",
  ),
  kafkaCaFile: optional(
    "KAFKA_CA_FILE",
    "kafka-ca-file",
    z.string().min(1),
    "a path to a PEM file",
    "PEM file of the CA(s) that signed the brokers' certificates, instead of the system CAs.",
  ),
  kafkaCertFile: optional(
    "KAFKA_CERT_FILE",
    "kafka-cert-file",
    z.string().min(1),
    "a path to a PEM file",
    "Client certificate (PEM) for brokers that require mutual TLS; with GATEWATCH_KAFKA_KEY_FILE.",
  ),
  kafkaKeyFile: optional(
    "KAFKA_KEY_FILE",
    "kafka-key-file",
    z.string().min(1),
    "a path to a PEM file",
    "Private key (PEM) of the client certificate.",
  ),
  kafkaSaslMechanism: optional(
    "KAFKA_SASL_MECHANISM",
    "kafka-sasl-mechanism",
    z.enum(["plain", "scram-sha-256", "scram-sha-512"]),
    "plain, scram-sha-256 or scram-sha-512",
    "SASL mechanism; needs GATEWATCH_KAFKA_USERNAME and GATEWATCH_KAFKA_PASSWORD. Use TLS with plain.",
  ),
  kafkaUsername: optional(
    "KAFKA_USERNAME",
    "kafka-username",
    z.string().min(1),
    "a user name",
    "SASL user name.",
  ),
  kafkaPassword: optional(
    "KAFKA_PASSWORD",
    "kafka-password",
    z.string().min(1),
    "a password",
    "SASL password.",
    true,
  ),
  kafkaPreset: setting(
    "KAFKA_PRESET",
    "kafka-preset",
    z.enum(["none", "eventhubs"]),
    "none or eventhubs",
    "none",
    "eventhubs: read the Event Hubs Kafka endpoint; brokers, topic, TLS and SASL come from GATEWATCH_EVENTHUB_CONNECTION_STRING and GATEWATCH_EVENTHUB_NAME.",
  ),
  alerts: setting(
    "ALERTS",
    "alerts",
    bool,
    "true or false",
    true,
    "Detect cause spikes in the service and raise cause-tagged alerts (log, history, Alertmanager, webhook).",
  ),
  alertStepSeconds: setting(
    "ALERT_STEP_SECONDS",
    "alert-step-seconds",
    positiveInt,
    "a positive integer",
    60,
    "Spike detection step, seconds: counts are compared step by step (the baseline is rebuilt from the per-minute rollups only with 60).",
  ),
  alertBaselineSteps: setting(
    "ALERT_BASELINE_STEPS",
    "alert-baseline-steps",
    positiveInt,
    "a positive integer",
    60,
    "Steps of history the spike baseline (median) is learned from.",
  ),
  alertRules: setting(
    "ALERT_RULES",
    "alert-rules",
    z.string().transform((text, ctx): PolicyOverrides => {
      try {
        return parsePolicyOverrides(text);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message });
        return z.NEVER;
      }
    }),
    "entries like no_healthy_backend:floor=2,factor=3;origin=client:floor=100;redirect_found:off (keys floor, factor, z, share, for, resolve)",
    () => new Map() as PolicyOverrides,
    "Spike thresholds per cause or origin over the catalog-severity defaults (critical: floor 5/step, 3×; warning: 20, 4×; info: 50, 5×).",
  ),
  alertmanagerUrl: optional(
    "ALERTMANAGER_URL",
    "alertmanager-url",
    z.url({ protocol: /^https?$/ }),
    "an http(s) URL such as http://alertmanager:9093",
    "Alertmanager to send alerts to (API v2).",

    true, // may carry credentials (sent as Basic auth)
  ),
  alertWebhookUrl: optional(
    "ALERT_WEBHOOK_URL",
    "alert-webhook-url",
    z.url({ protocol: /^https?$/ }),
    "an http(s) URL",
    "Also POST each alert transition as JSON ({status, alerts}) to this URL.",

    true, // may carry credentials (sent as Basic auth)
  ),
  alertRunbookBaseUrl: setting(
    "ALERT_RUNBOOK_BASE_URL",
    "alert-runbook-base-url",
    z.string().min(1),
    "a URL or path",
    "docs/causes",
    "Where the cause pages live (gatewatch docs); alerts link <base>/<cause>.md.",
  ),
  demoRate: setting(
    "DEMO_RATE",
    "demo-rate",
    positiveNumber,
    "a positive number",
    200,
    "Demo source: records per second.",
  ),
  demoSeed: setting(
    "DEMO_SEED",
    "demo-seed",
    nonNegativeInt,
    "a non-negative integer",
    1,
    "Demo source: random seed.",
  ),
  demoIncidentPeriodSeconds: setting(
    "DEMO_INCIDENT_PERIOD_SECONDS",
    "demo-incident-period-seconds",
    positiveNumber,
    "a positive number",
    300,
    "Demo source: seconds between incident starts (incidents cycle).",
  ),
  demoIncidentDurationSeconds: setting(
    "DEMO_INCIDENT_DURATION_SECONDS",
    "demo-incident-duration-seconds",
    positiveNumber,
    "a positive number",
    60,
    "Demo source: how long each incident lasts, seconds.",
  ),
} as const;

type Settings = typeof SETTINGS;
type Values = { [K in keyof Settings]: Settings[K] extends Setting<infer T> ? T : never };

/** Validated configuration. */
export type Config = Values & { readonly storeTarget: StoreTarget };

/** Values given on the command line, by config key (commander's camelCase option names). */
export type Flags = Partial<Record<keyof Settings, unknown>>;

/**
 * Builds the configuration from the environment and flags. Throws one `config_invalid` error that
 * lists every problem.
 */
export function loadConfig(env: NodeJS.ProcessEnv, flags: Flags = {}): Config {
  const problems: string[] = [];
  const known = new Set(Object.values(SETTINGS).map((s) => s.env));
  for (const name of Object.keys(env)) {
    if (name.startsWith("GATEWATCH_") && !known.has(name))
      problems.push(`${name} is not a gatewatch setting`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(SETTINGS) as [keyof Settings, Setting<unknown>][]) {
    const fromFlag = flags[key];
    const fromEnv = env[s.env];
    const [raw, origin] =
      fromFlag !== undefined
        ? [fromFlag, s.flag]
        : fromEnv !== undefined
          ? [fromEnv, s.env]
          : [undefined, undefined];
    if (raw === undefined) {
      out[key] = typeof s.default === "function" ? (s.default as () => unknown)() : s.default;
      continue;
    }
    const text = typeof raw === "string" ? raw.trim() : raw;
    const parsed = text === "" ? { success: false as const } : s.schema.safeParse(text);
    if (parsed.success) out[key] = parsed.data;
    else if (s.secret) problems.push(`${origin} must be ${s.expect} (value not shown)`);
    else
      problems.push(
        `${origin} must be ${s.expect}, got ${JSON.stringify(typeof raw === "string" ? raw : JSON.stringify(raw))}`,
      );
  }
  let storeTarget: StoreTarget | undefined;
  if (typeof out.store === "string") {
    try {
      storeTarget = parseStoreUrl(out.store);
    } catch (err) {
      const origin =
        flags.store !== undefined
          ? SETTINGS.store.flag
          : env[SETTINGS.store.env] !== undefined
            ? SETTINGS.store.env
            : "store";
      problems.push(`${origin}: ${(err as Error).message}`);
    }
  }
  if (out.source === "eventhubs") {
    if (!out.eventhubConnectionString && !out.eventhubNamespace) {
      problems.push(
        "--source eventhubs needs GATEWATCH_EVENTHUB_CONNECTION_STRING or GATEWATCH_EVENTHUB_NAMESPACE",
      );
    }
    if (out.eventhubNamespace && !out.eventhubName) {
      problems.push("GATEWATCH_EVENTHUB_NAMESPACE needs GATEWATCH_EVENTHUB_NAME");
    }
    if (
      typeof out.eventhubConnectionString === "string" &&
      !out.eventhubName &&
      !/EntityPath=/i.test(out.eventhubConnectionString)
    ) {
      problems.push("GATEWATCH_EVENTHUB_NAME is needed when the connection string has no EntityPath");
    }
    if (!out.checkpointConnectionString && !out.checkpointAccountUrl) {
      problems.push(
        "--source eventhubs needs GATEWATCH_CHECKPOINT_CONNECTION_STRING or GATEWATCH_CHECKPOINT_ACCOUNT_URL",
      );
    }
  }
  if (out.source === "kafka") problems.push(...kafkaProblems(out));
  if (out.storeCluster !== undefined && storeTarget?.kind === "embedded")
    problems.push("GATEWATCH_STORE_CLUSTER needs a ClickHouse server store (http(s)://...), not embedded");
  if (problems.length > 0 || !storeTarget) {
    throw new GatewatchError("config_invalid", `invalid configuration:\n  - ${problems.join("\n  - ")}`);
  }
  return { ...(out as Values), storeTarget };
}

/** Cross-checks of the Kafka settings (each message names the settings involved). */
function kafkaProblems(out: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const given = (key: keyof Settings) => out[key] !== undefined;
  if (out.kafkaPreset === "eventhubs") {
    if (!given("eventhubConnectionString"))
      problems.push("GATEWATCH_KAFKA_PRESET=eventhubs needs GATEWATCH_EVENTHUB_CONNECTION_STRING");
    else if (!given("eventhubName") && !/EntityPath=/i.test(String(out.eventhubConnectionString)))
      problems.push(
        "GATEWATCH_KAFKA_PRESET=eventhubs needs GATEWATCH_EVENTHUB_NAME when the connection string has no EntityPath",
      );
    for (const key of [
      "kafkaBrokers",
      "kafkaTopics",
      "kafkaSaslMechanism",
      "kafkaUsername",
      "kafkaPassword",
    ] as const)
      if (given(key))
        problems.push(
          `${SETTINGS[key].env} cannot be combined with GATEWATCH_KAFKA_PRESET=eventhubs (the preset derives it from the connection string)`,
        );
    return problems;
  }
  if (!given("kafkaBrokers")) problems.push("--source kafka needs GATEWATCH_KAFKA_BROKERS");
  if (!given("kafkaTopics")) problems.push("--source kafka needs GATEWATCH_KAFKA_TOPICS");
  if (given("kafkaSaslMechanism") && (!given("kafkaUsername") || !given("kafkaPassword")))
    problems.push(
      "GATEWATCH_KAFKA_SASL_MECHANISM needs GATEWATCH_KAFKA_USERNAME and GATEWATCH_KAFKA_PASSWORD",
    );
  if (!given("kafkaSaslMechanism") && (given("kafkaUsername") || given("kafkaPassword")))
    problems.push(
      "GATEWATCH_KAFKA_USERNAME and GATEWATCH_KAFKA_PASSWORD need GATEWATCH_KAFKA_SASL_MECHANISM",
    );
  for (const key of ["kafkaCaFile", "kafkaCertFile", "kafkaKeyFile"] as const)
    if (given(key) && out.kafkaTls !== true)
      problems.push(`${SETTINGS[key].env} needs GATEWATCH_KAFKA_TLS=true`);
  if (given("kafkaCertFile") !== given("kafkaKeyFile"))
    problems.push("GATEWATCH_KAFKA_CERT_FILE and GATEWATCH_KAFKA_KEY_FILE go together");
  return problems;
}

/**
 * Reads a file a setting names (secrets, certificates); a missing or unreadable file is a
 * `config_invalid` error naming the setting.
 */
export function readSettingFile(path: string | undefined, setting: string): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new GatewatchError("config_invalid", `${setting}: cannot read ${path}: ${(err as Error).message}`);
  }
}
