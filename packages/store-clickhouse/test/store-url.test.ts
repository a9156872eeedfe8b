import { describe, expect, it } from "vitest";
import { assertReadOnlySql, describeStore, parseStoreUrl } from "../src/index.js";

describe("parseStoreUrl", () => {
  it("parses embedded and server URLs", () => {
    expect(parseStoreUrl("embedded:./data/clickhouse")).toEqual({
      kind: "embedded",
      dir: "./data/clickhouse",
      database: "gatewatch",
    });
    expect(parseStoreUrl("https://u:p%40ss@ch.example:8443/logs")).toEqual({
      kind: "http",
      url: "https://ch.example:8443",
      username: "u",
      password: "p@ss",
      database: "logs",
    });
    expect(parseStoreUrl("http://127.0.0.1:8123")).toMatchObject({
      username: "default",
      password: "",
      database: "gatewatch",
    });
  });

  it.each(["embedded:", "ftp://x/y", "nonsense", "http://h:1/bad-name"])(
    "refuses %s with config_invalid",
    (v) => {
      expect(() => parseStoreUrl(v)).toThrow(expect.objectContaining({ code: "config_invalid" }));
    },
  );

  it("never shows the password", () => {
    expect(describeStore(parseStoreUrl("http://u:secret@h:8123/db"))).toBe("http://u:***@h:8123/db");
    try {
      parseStoreUrl("ftp://u:secret@h/x");
    } catch (e) {
      expect((e as Error).message).not.toContain("secret");
    }
  });
});

describe("assertReadOnlySql", () => {
  it.each([
    "SELECT 1",
    "  with x as (select 1) select * from x;",
    "SHOW TABLES",
    "DESCRIBE TABLE gatewatch.requests",
    "SELECT ';' AS semi -- ; drop",
    "/* drop table */ EXPLAIN SELECT 1",
  ])("accepts %s", (sql) => {
    expect(() => assertReadOnlySql(sql)).not.toThrow();
  });

  it.each([
    "DROP TABLE gatewatch.requests",
    "SELECT 1; DROP TABLE gatewatch.requests",
    "INSERT INTO t VALUES (1)",
    "SET readonly = 0",
    "ALTER TABLE t DELETE WHERE 1",
    "SELECT 1 INTO OUTFILE '/tmp/x'",
    "",
  ])("refuses %s with query_not_read_only", (sql) => {
    expect(() => assertReadOnlySql(sql)).toThrow(expect.objectContaining({ code: "query_not_read_only" }));
  });
});
