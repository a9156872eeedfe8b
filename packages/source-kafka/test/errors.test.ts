import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from "kafkajs";
import { describe, expect, it } from "vitest";
import { classifyKafkaError } from "../src/errors.js";

const protocol = (type: string, retriable: boolean) =>
  new KafkaJSProtocolError({ message: type, type, code: 0, retriable } as unknown as Error);

describe("classifyKafkaError", () => {
  it("treats bad credentials, missing topics and untrusted certificates as configuration", () => {
    expect(
      // kafkajs' typings give this class no constructor arguments; it is recognised by name.
      classifyKafkaError(
        Object.assign(new Error("SASL PLAIN authentication failed"), {
          name: "KafkaJSSASLAuthenticationError",
        }),
      ).kind,
    ).toBe("configuration");
    expect(classifyKafkaError(protocol("TOPIC_AUTHORIZATION_FAILED", false)).kind).toBe("configuration");
    const tls = Object.assign(new Error("self-signed certificate in certificate chain"), {
      code: "SELF_SIGNED_CERT_IN_CHAIN",
    });
    expect(classifyKafkaError(new KafkaJSConnectionError(tls)).kind).toBe("configuration");
  });

  it("looks through kafkajs' retry wrapper", () => {
    const inner = protocol("UNKNOWN_TOPIC_OR_PARTITION", true);
    const wrapped = new KafkaJSNumberOfRetriesExceeded(inner, { retryCount: 5, retryTime: 100 });
    const c = classifyKafkaError(wrapped);
    expect(c.kind).toBe("configuration");
    expect(c.asFatal("subscribing").code).toBe("kafka_config");
    expect(c.asFatal("subscribing").message).toContain("UNKNOWN_TOPIC_OR_PARTITION");
  });

  it("sorts group-membership errors as rebalance and connection errors as transient", () => {
    expect(classifyKafkaError(protocol("REBALANCE_IN_PROGRESS", false)).kind).toBe("rebalance");
    expect(classifyKafkaError(protocol("ILLEGAL_GENERATION", false)).kind).toBe("rebalance");
    const refused = new KafkaJSConnectionError(
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }),
    );
    expect(classifyKafkaError(refused).kind).toBe("transient");
    expect(classifyKafkaError(refused).asFatal("connecting").code).toBe("kafka_error");
  });
});
