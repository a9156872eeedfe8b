import { ClickHouseError } from "@clickhouse/client";
import { describe, expect, it } from "vitest";
import { GatewatchError } from "@gatewatch/pipeline";
import { classifyStoreError } from "../src/index.js";
import { serverErrorText } from "../src/errors.js";

const server = (code: string, type: string, message = "something went wrong. ") =>
  new ClickHouseError({ code, type, message });

// chdb's connection builds its errors with another copy of the client's error class.
const embedded = (code: string, type: string, message = "something went wrong. ") =>
  Object.assign(new Error(message), { name: "ClickHouseError", code, type });

describe("classifyStoreError", () => {
  it.each([
    ["27", "CANNOT_PARSE_INPUT_ASSERTION_FAILED"],
    ["53", "TYPE_MISMATCH"],
    ["117", "INCORRECT_DATA"],
    ["6", "CANNOT_PARSE_TEXT"],
    ["26", "CANNOT_PARSE_QUOTED_STRING"],
    ["38", "CANNOT_PARSE_DATE"],
    ["41", "CANNOT_PARSE_DATETIME"],
    ["72", "CANNOT_PARSE_NUMBER"],
    ["130", "CANNOT_READ_ARRAY_FROM_TEXT"],
    ["131", "TOO_LARGE_STRING_SIZE"],
    ["321", "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE"],
    ["691", "UNKNOWN_ELEMENT_OF_ENUM"],
  ])("classifies code %s (%s) as data the server refuses, not retriable", (code, type) => {
    for (const err of [server(code, type), embedded(code, type)]) {
      const e = classifyStoreError(err, "inserting into requests");
      expect(e).toMatchObject({ code: "store_rejected_data", retriable: false });
      expect(e.cause).toBe(err);
    }
  });

  it.each([
    ["241", "MEMORY_LIMIT_EXCEEDED", true],
    ["202", "TOO_MANY_SIMULTANEOUS_QUERIES", true],
    ["252", "TOO_MANY_PARTS", true],
    ["60", "UNKNOWN_TABLE", false],
    ["62", "SYNTAX_ERROR", false],
    ["16", "NO_SUCH_COLUMN_IN_TABLE", false],
    ["36", "BAD_ARGUMENTS", false],
    ["516", "AUTHENTICATION_FAILED", false],
  ])("keeps code %s (%s) a store error (retriable: %s)", (code, type, retriable) => {
    for (const err of [server(code, type), embedded(code, type)]) {
      expect(classifyStoreError(err, "inserting into requests")).toMatchObject({
        code: "store_error",
        retriable,
      });
    }
  });

  it("classifies network trouble as store_unavailable and leaves other errors alone", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8123"), { code: "ECONNREFUSED" });
    expect(classifyStoreError(refused, "pinging")).toMatchObject({
      code: "store_unavailable",
      retriable: true,
    });
    expect(classifyStoreError(new Error("boom"), "querying")).toMatchObject({
      code: "store_error",
      retriable: false,
    });
    const already = new GatewatchError("store_locked", "held");
    expect(classifyStoreError(already, "opening")).toBe(already);
  });
});

describe("serverErrorText", () => {
  it("gives the server's error in ClickHouse's own format, on one line", () => {
    const e = classifyStoreError(
      server(
        "27",
        "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
        "Cannot parse input: expected '\"' before: 'x': (at row 2)\n: While executing ParallelParsingBlockInputFormat. ",
      ),
      "inserting into requests",
    );
    expect(serverErrorText(e)).toBe(
      "Code: 27. DB::Exception: Cannot parse input: expected '\"' before: 'x': (at row 2) : While executing ParallelParsingBlockInputFormat. (CANNOT_PARSE_INPUT_ASSERTION_FAILED)",
    );
    expect(serverErrorText(new GatewatchError("store_error", "inserting: boom\nagain"))).toBe(
      "inserting: boom again",
    );
  });
});
