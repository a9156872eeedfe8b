import { describe, expect, it } from "vitest";

import { classifyL4, statusClass } from "../src/index.js";
import { l4Record } from "./helpers.js";

describe("classifyL4 (spec §3)", () => {
  it.each([
    [200, "l4_session_ok", "none"],
    [400, "l4_client_data_invalid", "client"],
    [500, "l4_gateway_error", "gateway"],
    [502, "l4_backend_unreachable", "backend"],
    [503, "l4_connection_limit", "gateway"],
    [504, "unclassified", "unknown"],
    [201, "unclassified", "unknown"],
    [null, "unclassified", "unknown"],
  ])("classifies session status %j as %s", (backendStatus, cause, origin) => {
    const c = classifyL4(l4Record({ backendStatus }));
    expect(c).toEqual({
      cause,
      origin,
      rule: "L4",
      evidence: [backendStatus === null ? "serverStatus=none" : `serverStatus=${backendStatus}`],
    });
  });

  it("does not apply the access-only 127.0.0.1 rule", () => {
    expect(classifyL4(l4Record({ clientIp: "127.0.0.1", backendStatus: 502 })).cause).toBe(
      "l4_backend_unreachable",
    );
  });
});

describe("statusClass", () => {
  it.each([
    [0, "0xx"],
    [99, "0xx"],
    [100, "1xx"],
    [200, "2xx"],
    [299, "2xx"],
    [304, "3xx"],
    [404, "4xx"],
    [499, "4xx"],
    [500, "5xx"],
    [599, "5xx"],
    [600, "other"],
    [999, "other"],
    [-1, "other"],
    [200.5, "other"],
    [Number.NaN, "other"],
    [Number.POSITIVE_INFINITY, "other"],
  ])("labels %d as %s", (status, label) => {
    expect(statusClass(status)).toBe(label);
  });
});
