import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SETTINGS, loadConfig } from "../src/index.js";

describe("loadConfig", () => {
  it("uses the defaults of the embedded quick start", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      store: "embedded:./data/clickhouse",
      source: "demo",
      listenHost: "127.0.0.1",
      listenPort: 9464,
      labelCap: 50,
      maxBodyBytes: 4 * 1024 * 1024,
    });
    expect(c.storeTarget).toEqual({ kind: "embedded", dir: "./data/clickhouse", database: "gatewatch" });
    expect(c.threads).toBeGreaterThan(0);
  });

  it("reads GATEWATCH_* variables and lets flags win", () => {
    const c = loadConfig(
      { GATEWATCH_BATCH_MAX_BODIES: "64", GATEWATCH_LISTEN_PORT: "1234" },
      { listenPort: "4321" },
    );
    expect(c.batchMaxBodies).toBe(64);
    expect(c.listenPort).toBe(4321);
  });

  it("collects every problem into one config_invalid error naming key, value and expectation", () => {
    let error: { code?: string; message?: string } = {};
    try {
      loadConfig(
        { GATEWATCH_BATCH_MAX_BODIES: "abc", GATEWATCH_STORE: "mysql://x", GATEWATCH_TYPO: "1" },
        { threads: "0", logLevel: "loud" },
      );
    } catch (e) {
      error = e as typeof error;
    }
    expect(error.code).toBe("config_invalid");
    expect(error.message).toContain('GATEWATCH_BATCH_MAX_BODIES must be a positive integer, got "abc"');
    expect(error.message).toContain('--threads must be a positive integer, got "0"');
    expect(error.message).toContain("--log-level must be one of");
    expect(error.message).toContain("GATEWATCH_STORE: store must be");
    expect(error.message).toContain("GATEWATCH_TYPO is not a gatewatch setting");
  });

  it("refuses empty values instead of falling back to a default", () => {
    expect(() => loadConfig({ GATEWATCH_THREADS: " " })).toThrow(
      /GATEWATCH_THREADS must be a positive integer, got " "/,
    );
  });

  it("reads the Kafka settings: lists, booleans and the SASL secret", () => {
    const c = loadConfig({
      GATEWATCH_SOURCE: "kafka",
      GATEWATCH_KAFKA_BROKERS: "b1.example.com:9092, b2.example.com:9092",
      GATEWATCH_KAFKA_TOPICS: "appgw-access,appgw-firewall",
      GATEWATCH_KAFKA_TLS: "true",
      GATEWATCH_KAFKA_SASL_MECHANISM: "scram-sha-512",
      GATEWATCH_KAFKA_USERNAME: "gw",
      GATEWATCH_KAFKA_PASSWORD: "s3cret",
      GATEWATCH_KAFKA_START: "earliest",
    });
    expect(c).toMatchObject({
      source: "kafka",
      kafkaBrokers: ["b1.example.com:9092", "b2.example.com:9092"],
      kafkaTopics: ["appgw-access", "appgw-firewall"],
      kafkaTls: true,
      kafkaSaslMechanism: "scram-sha-512",
      kafkaGroup: "gatewatch",
      kafkaStart: "earliest",
      kafkaPreset: "none",
    });
  });

  it("names every missing or conflicting Kafka setting at once", () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig({ GATEWATCH_SOURCE: "kafka", ...env });
      } catch (e) {
        return (e as Error).message;
      }
      return "";
    };
    const bare = problems({ GATEWATCH_KAFKA_USERNAME: "u", GATEWATCH_KAFKA_CA_FILE: "/ca.pem" });
    expect(bare).toContain("--source kafka needs GATEWATCH_KAFKA_BROKERS");
    expect(bare).toContain("--source kafka needs GATEWATCH_KAFKA_TOPICS");
    expect(bare).toContain(
      "GATEWATCH_KAFKA_USERNAME and GATEWATCH_KAFKA_PASSWORD need GATEWATCH_KAFKA_SASL_MECHANISM",
    );
    expect(bare).toContain("GATEWATCH_KAFKA_CA_FILE needs GATEWATCH_KAFKA_TLS=true");
    expect(problems({ GATEWATCH_KAFKA_BROKERS: "localhost", GATEWATCH_KAFKA_TOPICS: "t" })).toContain(
      'GATEWATCH_KAFKA_BROKERS must be comma-separated host:port pairs, got "localhost"',
    );
    const preset = problems({
      GATEWATCH_KAFKA_PRESET: "eventhubs",
      GATEWATCH_KAFKA_BROKERS: "b:9093",
      GATEWATCH_EVENTHUB_CONNECTION_STRING:
        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v",
    });
    expect(preset).toContain(
      "GATEWATCH_KAFKA_BROKERS cannot be combined with GATEWATCH_KAFKA_PRESET=eventhubs",
    );
    expect(preset).toContain("needs GATEWATCH_EVENTHUB_NAME when the connection string has no EntityPath");
    expect(preset).not.toContain("SharedAccessKey=v");
  });

  it("is documented: the README table lists every variable and flag", () => {
    const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
    for (const s of Object.values(SETTINGS)) {
      expect(readme).toMatch(new RegExp(`\\|\\s*\`${s.env}\`\\s*\\|\\s*\`${s.flag}\`\\s*\\|`));
    }
  });
});
