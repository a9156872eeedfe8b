import { describe, expect, it } from "vitest";
import { EVENT_HUBS_KAFKA_TUNING, eventHubsKafkaSettings } from "../src/preset.js";

const CS = "Endpoint=sb://agw-logs.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=abc=";

describe("eventHubsKafkaSettings", () => {
  it("derives broker, topic, TLS and SASL PLAIN with $ConnectionString", () => {
    const s = eventHubsKafkaSettings(CS, "appgw");
    expect(s.brokers).toEqual(["agw-logs.servicebus.windows.net:9093"]);
    expect(s.topics).toEqual(["appgw"]);
    expect(s.ssl).toBe(true);
    expect(s.sasl).toEqual({ mechanism: "plain", username: "$ConnectionString", password: CS });
  });

  it("takes the hub from EntityPath, and an explicit port when one is given", () => {
    const s = eventHubsKafkaSettings(
      "Endpoint=sb://127.0.0.1:39093/;SharedAccessKeyName=k;SharedAccessKey=v;EntityPath=hub1",
    );
    expect(s.brokers).toEqual(["127.0.0.1:39093"]);
    expect(s.topics).toEqual(["hub1"]);
  });

  it("keeps every connection busier than Azure's 240 s idle cut-off", () => {
    const t = EVENT_HUBS_KAFKA_TUNING;
    expect(t.metadataMaxAge).toBeLessThan(240_000);
    expect(t.heartbeatInterval).toBeLessThan(240_000);
    expect(t.maxWaitTimeInMs).toBeLessThan(240_000);
    expect(t.sessionTimeout).toBeLessThanOrEqual(30_000);
    expect(t.heartbeatInterval! * 3).toBeLessThanOrEqual(t.sessionTimeout!);
  });

  it("says what is missing", () => {
    expect(() => eventHubsKafkaSettings("SharedAccessKey=v", "h")).toThrow(/no Endpoint/);
    expect(() => eventHubsKafkaSettings(CS)).toThrow(/needs the hub name/);
  });
});
