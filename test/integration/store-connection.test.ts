/**
 * Connecting to a ClickHouse server the way production does: HTTPS with a private CA, the password
 * from a mounted secret file rather than the URL. Through the built CLI and the real HTTP client.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startClickHouseHttp, type ClickHouseHttpFixture } from "../fixtures/clickhouse-http/index.js";
import { runCli } from "../helpers/cli.js";

const PASSWORD = "s3cret-from-a-file";
let server: ClickHouseHttpFixture;
const dir = mkdtempSync(join(tmpdir(), "gw-store-conn-"));

beforeAll(async () => {
  server = await startClickHouseHttp({ tls: true, user: "gatewatch", password: PASSWORD });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("store connection", { timeout: 120_000 }, () => {
  it("reaches an https server with a private CA and the password from a file", async () => {
    const secret = join(dir, "password");
    writeFileSync(secret, `${PASSWORD}\n`); // as a Kubernetes secret mount would hold it
    const store = `https://gatewatch@127.0.0.1:${server.port}/conn`;
    const r = await runCli([
      "migrate",
      "--store",
      store,
      "--store-password-file",
      secret,
      "--store-ca-file",
      server.caFile!,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const q = await runCli([
      "query",
      "--store",
      store,
      "--store-password-file",
      secret,
      "--store-ca-file",
      server.caFile!,
      "SELECT count() AS n FROM conn.schema_migrations",
    ]);
    expect(q.code, q.stderr).toBe(0);
    expect(Number((JSON.parse(q.stdout) as { n: number }).n)).toBeGreaterThan(0);
  });

  it("refuses a server whose certificate it cannot verify, and a wrong password, without echoing it", async () => {
    const secret = join(dir, "wrong");
    writeFileSync(secret, "not-the-password\n");
    const untrusted = await runCli([
      "migrate",
      "--store",
      `https://gatewatch:${PASSWORD}@127.0.0.1:${server.port}/conn`,
    ]);
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/certificate/i);
    const wrong = await runCli([
      "migrate",
      "--store",
      `https://gatewatch@127.0.0.1:${server.port}/conn`,
      "--store-password-file",
      secret,
      "--store-ca-file",
      server.caFile!,
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).not.toContain("not-the-password");
    const missing = await runCli([
      "migrate",
      "--store",
      "https://127.0.0.1:1/x",
      "--store-password-file",
      join(dir, "nope"),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("GATEWATCH_STORE_PASSWORD_FILE: cannot read");
  });
});
