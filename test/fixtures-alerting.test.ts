// The alerting fixtures: the real Debian Prometheus and Alertmanager on 127.0.0.1 and a webhook receiver,
// end to end (exposition → scrape → rule → Alertmanager → webhook).
import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import ts from "typescript";
import { afterEach, describe, expect, it } from "vitest";
import {
  startAlertmanager,
  startPrometheus,
  startWebhookReceiver,
  type WebhookNotification,
} from "./fixtures/alerting/index.js";

const run = promisify(execFile);

/** Polls `check` every 100 ms until it returns a truthy value, or throws after `timeoutMs`. */
async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: Error | undefined;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err as Error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ""}`,
      );
    await sleep(100);
  }
}

/** A Prometheus text-exposition endpoint on 127.0.0.1 serving `test_events_total`, `test_up` and `test_value`. */
async function startExposition(): Promise<{
  target: string;
  state: { events: number; value: number; scrapes: number };
  stop: () => Promise<void>;
}> {
  const state = { events: 0, value: 1, scrapes: 0 };
  const server = http.createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    state.scrapes++;
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    res.end(
      [
        "# HELP test_events_total Events seen by the test.",
        "# TYPE test_events_total counter",
        `test_events_total ${state.events}`,
        "# HELP test_up Always 1.",
        "# TYPE test_up gauge",
        "test_up 1",
        "# HELP test_value Set by the test.",
        "# TYPE test_value gauge",
        `test_value ${state.value}`,
        "",
      ].join("\n"),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  return {
    target: `127.0.0.1:${port}`,
    state,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const labelsOf = (n: WebhookNotification): Record<string, string> => n.body.alerts[0]?.labels ?? {};

describe("alerting fixtures (real Prometheus and Alertmanager)", () => {
  const cleanups: (() => unknown)[] = [];
  const later = <T extends { stop(): Promise<void> }>(x: T): T => {
    cleanups.push(() => x.stop());
    return x;
  };

  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await Promise.resolve(fn()).catch(() => undefined);
  });

  it("Alertmanager notifies the webhook of a POSTed alert, firing then resolved", async ({ annotate }) => {
    const hook = later(await startWebhookReceiver());
    const am = later(await startAlertmanager({ webhookUrl: hook.url }));
    const labels = { alertname: "FixtureTest", cause: "backend_timeout", severity: "warning" };

    let t0 = Date.now();
    await am.postAlerts([
      {
        labels,
        annotations: { summary: "posted by the test" },
        endsAt: new Date(Date.now() + 5 * 60_000).toISOString(),
      },
    ]);
    const firing = await hook.waitFor((n) => n.body.status === "firing", 10_000);
    const firingMs = firing.receivedAt - t0;
    expect(firing.path).toBe("/hook");
    expect(firing.body).toMatchObject({
      version: "4",
      status: "firing",
      receiver: "webhook",
      commonLabels: labels,
      groupLabels: labels,
      commonAnnotations: { summary: "posted by the test" },
      externalURL: am.url,
    });
    expect(firing.body.alerts).toHaveLength(1);
    expect(firing.body.alerts[0]).toMatchObject({ status: "firing", labels });
    expect(firing.body.alerts[0]!.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    // Alertmanager reports a firing alert's endsAt as the zero time, whatever endsAt it was given.
    expect(firing.body.alerts[0]!.endsAt).toBe("0001-01-01T00:00:00Z");
    const listed = await am.alerts();
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      labels,
      status: { state: "active" },
      receivers: [{ name: "webhook" }],
    });

    t0 = Date.now();
    await am.postAlerts([{ labels, endsAt: new Date().toISOString() }]);
    const resolved = await hook.waitFor((n) => n.body.status === "resolved", 10_000);
    const resolvedMs = resolved.receivedAt - t0;
    expect(resolved.body.alerts).toHaveLength(1);
    expect(resolved.body.alerts[0]).toMatchObject({ status: "resolved", labels });
    expect(resolved.body.alerts[0]!.fingerprint).toBe(firing.body.alerts[0]!.fingerprint);
    // A resolved alert is no longer listed by GET /api/v2/alerts.
    expect(await am.alerts()).toEqual([]);
    expect(hook.received.map((n) => n.body.status)).toEqual(["firing", "resolved"]);
    expect(am.stderr()).toContain("Listening on");
    await annotate(
      `POST → firing at the webhook ${firingMs} ms; POST endsAt=now → resolved ${resolvedMs} ms`,
    );
  }, 30_000);

  it("Prometheus scrapes an in-test exposition endpoint", async () => {
    const expo = later(await startExposition());
    const prom = later(await startPrometheus({ scrapeTargets: [expo.target] }));

    const up = await waitFor("test_up to be scraped", () => prom.query("test_up").then((r) => r[0]));
    expect(up.metric).toEqual({ __name__: "test_up", job: "gatewatch", instance: expo.target });
    expect(up.value[1]).toBe("1");

    expo.state.events = 41;
    await waitFor(
      "test_events_total 41",
      async () => (await prom.query("test_events_total"))[0]?.value[1] === "41",
    );
    expo.state.events = 42;
    await waitFor(
      "test_events_total 42",
      async () => (await prom.query("test_events_total"))[0]?.value[1] === "42",
    );

    const targets = await prom.targets();
    expect(targets).toHaveLength(1);
    expect(targets[0]).toMatchObject({
      health: "up",
      lastError: "",
      scrapePool: "gatewatch",
      scrapeUrl: `http://${expo.target}/metrics`,
      labels: { job: "gatewatch", instance: expo.target },
    });
    expect((await prom.query("up"))[0]?.value[1]).toBe("1");
    expect(expo.state.scrapes).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it("a Prometheus rule fires and resolves through Alertmanager to the webhook", async ({ annotate }) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "gatewatch-alerting-test-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const rules = path.join(dir, "test.rules.yml");
    writeFileSync(
      rules,
      [
        "groups:",
        "  - name: test",
        "    rules:",
        "      - alert: TestHigh",
        "        expr: test_value > 5",
        "        for: 0s",
        "        labels:",
        "          severity: page",
        "          cause: test_cause",
        "        annotations:",
        '          summary: "test_value is {{ $value }}"',
        "",
      ].join("\n"),
    );
    const hook = later(await startWebhookReceiver());
    const am = later(await startAlertmanager({ webhookUrl: hook.url }));
    const expo = later(await startExposition());
    const prom = later(
      await startPrometheus({ scrapeTargets: [expo.target], ruleFiles: [rules], alertmanagerUrl: am.url }),
    );
    await waitFor("test_value 1", async () => (await prom.query("test_value"))[0]?.value[1] === "1");
    expect(await prom.alerts()).toEqual([]);

    const tHigh = Date.now();
    expo.state.value = 10;
    const firing = await hook.waitFor((n) => n.body.status === "firing", 20_000);
    const firingMs = firing.receivedAt - tHigh;
    const expected = {
      alertname: "TestHigh",
      severity: "page",
      cause: "test_cause",
      job: "gatewatch",
      instance: expo.target,
    };
    expect(firing.body.alerts).toHaveLength(1);
    expect(firing.body.alerts[0]).toMatchObject({
      status: "firing",
      labels: expected,
      annotations: { summary: "test_value is 10" },
    });
    expect(firing.body.alerts[0]!.generatorURL).toContain(prom.url);
    const promAlerts = await prom.alerts();
    expect(promAlerts).toHaveLength(1);
    expect(promAlerts[0]).toMatchObject({ state: "firing", labels: expected, value: "1e+01" });
    expect((await am.alerts())[0]).toMatchObject({ labels: expected, status: { state: "active" } });

    const tLow = Date.now();
    expo.state.value = 1;
    const resolved = await hook.waitFor((n) => n.body.status === "resolved", 20_000);
    const resolvedMs = resolved.receivedAt - tLow;
    expect(resolved.body.alerts[0]).toMatchObject({ status: "resolved", labels: expected });
    expect(resolved.body.alerts[0]!.fingerprint).toBe(firing.body.alerts[0]!.fingerprint);
    expect(resolved.body.alerts[0]!.startsAt).toBe(firing.body.alerts[0]!.startsAt);
    expect(Date.parse(resolved.body.alerts[0]!.endsAt)).toBeGreaterThan(
      Date.parse(firing.body.alerts[0]!.startsAt),
    );
    expect(await prom.alerts()).toEqual([]);
    expect(labelsOf(resolved)).toEqual(labelsOf(firing));
    expect(hook.received.map((n) => n.body.status)).toEqual(["firing", "resolved"]);
    await annotate(
      `gauge > 5 → firing at the webhook ${firingMs} ms; gauge back → resolved ${resolvedMs} ms`,
    );
  }, 45_000);

  it("writes a prometheus.yml that promtool check config accepts", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "gatewatch-alerting-test-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const rules = path.join(dir, "ok.rules.yml");
    writeFileSync(
      rules,
      "groups:\n  - name: ok\n    rules:\n      - record: job:up:sum\n        expr: sum(up)\n",
    );
    const prom = later(
      await startPrometheus({
        scrapeTargets: ["127.0.0.1:9", "127.0.0.1:10"],
        metricsPath: "/custom/metrics",
        ruleFiles: [rules],
        alertmanagerUrl: "http://127.0.0.1:9",
        scrapeInterval: "2s",
        evaluationInterval: "2s",
      }),
    );
    const r = await run("/usr/bin/promtool", ["check", "config", prom.configFile]).catch(
      (err: { stdout?: string; stderr?: string; message: string }) => ({
        stdout: err.stdout ?? "",
        stderr: `${err.stderr ?? ""}\n${err.message}`,
        failed: true,
      }),
    );
    expect("failed" in r, `${r.stdout}\n${r.stderr}`).toBe(false);
    expect(`${r.stdout}${r.stderr}`).toMatch(/SUCCESS: 1 rule files found/);
    // Bad targets are reported as down, not as a start failure.
    const targets = await waitFor("2 scraped targets", async () => {
      const t = await prom.targets();
      return t.length === 2 && t.every((x) => x.health === "down") ? t : undefined;
    });
    expect(targets.map((t) => t.scrapeUrl).sort()).toEqual([
      "http://127.0.0.1:10/custom/metrics",
      "http://127.0.0.1:9/custom/metrics",
    ]);
    const config = readFileSync(prom.configFile, "utf8");
    expect(config).toContain(path.dirname(prom.configFile));
    await expect(startPrometheus({ scrapeTargets: ["http://127.0.0.1:9"] })).rejects.toThrow(/host:port/);
  }, 30_000);

  it("Alertmanager dies with a SIGKILLed test process (pdeathsig), and binds only 127.0.0.1", async () => {
    // Run the fixture (transpiled with the project's TypeScript) in a child Node process, then SIGKILL it.
    const dir = mkdtempSync(path.join(os.tmpdir(), "gatewatch-alerting-test-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));
    mkdirSync(path.join(dir, "alerting"));
    for (const file of ["processes.ts", "alerting/index.ts"]) {
      const { outputText } = ts.transpileModule(readFileSync(path.join(fixtures, file), "utf8"), {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      });
      writeFileSync(path.join(dir, file.replace(/\.ts$/, ".js")), outputText);
    }
    writeFileSync(path.join(dir, "package.json"), '{ "type": "module" }\n');
    const script =
      `import { startAlertmanager } from ${JSON.stringify(path.join(dir, "alerting/index.js"))};\n` +
      `const am = await startAlertmanager({ webhookUrl: "http://127.0.0.1:9/hook" });\n` +
      `console.log(JSON.stringify({ url: am.url, configFile: am.configFile }));\n` +
      `setInterval(() => {}, 1000);\n`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: "pipe" });
    cleanups.push(() => child.kill("SIGKILL"));
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
    await waitFor(`the child's line (${out})`, () => out.includes("}\n"), 30_000);
    const info = JSON.parse(out.slice(0, out.indexOf("\n"))) as { url: string; configFile: string };
    // The temp dir outlives a SIGKILLed test process (no 'exit' hook ran): the test removes it.
    cleanups.push(() => rmSync(path.dirname(info.configFile), { recursive: true, force: true }));
    expect((await fetch(`${info.url}/-/ready`)).status).toBe(200);

    // Listening sockets of the Alertmanager (the child's child): only the web port on 127.0.0.1.
    const ss = (await run("ss", ["-Htulnp"])).stdout.split("\n");
    const web = ss.find((l) => l.includes(` 127.0.0.1:${new URL(info.url).port} `));
    const pid = /pid=(\d+),/.exec(web ?? "")?.[1];
    expect(pid, ss.join("\n")).toBeDefined();
    const sockets = ss.filter((l) => l.includes(`pid=${pid},`)).map((l) => l.split(/\s+/)[4]);
    expect(sockets).toEqual([`127.0.0.1:${new URL(info.url).port}`]);

    child.kill("SIGKILL");
    await waitFor(
      "Alertmanager to stop answering",
      () =>
        fetch(`${info.url}/-/ready`, { signal: AbortSignal.timeout(1000) }).then(
          () => false,
          () => true,
        ),
      5000,
    );
  }, 45_000);
});
