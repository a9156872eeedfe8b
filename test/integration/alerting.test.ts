/**
 * Cause alerts end to end, everything real and on loopback: gatewatch runs the demo source with a
 * scheduled incident (a backend pool losing every healthy member: no_healthy_backend on
 * agw-shop-prod-weu) and sends its in-service alerts to the real Alertmanager; the real Prometheus
 * scrapes gatewatch with the generated rule file (at test time scales) and sends its alerts to the
 * same Alertmanager, which notifies a webhook receiver in the test. Both alerts must reach the
 * receiver with the right cause label, and both must resolve once the incident is over.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPrometheusRules } from "@gatewatch/alerting";
import {
  startAlertmanager,
  startPrometheus,
  startWebhookReceiver,
  type AlertmanagerFixture,
  type PrometheusFixture,
  type WebhookNotification,
  type WebhookReceiver,
} from "../fixtures/alerting/index.js";
import { runCli, startCli } from "../helpers/cli.js";

const CAUSE = "no_healthy_backend";
const GATEWAY = "agw-shop-prod-weu";
let receiver: WebhookReceiver;
let alertmanager: AlertmanagerFixture;
let prometheus: PrometheusFixture | undefined;
let dir = "";

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  alertmanager = await startAlertmanager({ webhookUrl: receiver.url });
  dir = mkdtempSync(path.join(os.tmpdir(), "gw-alerting-"));
});
afterAll(async () => {
  // Prometheus first: once it is gone, Alertmanager would resolve its alerts on its own.
  await prometheus?.stop();
  await alertmanager?.stop();
  await receiver?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A notification about `alertname` for the incident's cause in state `status`. */
const about =
  (alertname: string, status: "firing" | "resolved") =>
  (n: WebhookNotification): boolean =>
    n.body.alerts.some(
      (a) => a.status === status && a.labels.alertname === alertname && a.labels.cause === CAUSE,
    );

/** A JSON webhook that answers 503 to its first `failures` POSTs (gatewatch must retry), then records. */
async function flakyWebhook(failures: number) {
  const bodies: { status: string; alerts: { labels: Record<string, string> }[] }[] = [];
  let refused = 0;
  const server = http.createServer((req, res) => {
    let data = "";
    req.on("data", (c: Buffer) => (data += c.toString()));
    req.on("end", () => {
      if (refused < failures) {
        refused++;
        res.writeHead(503).end("busy");
        return;
      }
      bodies.push(JSON.parse(data) as (typeof bodies)[number]);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    bodies,
    refused: () => refused,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

// The test's own bound is the sum of its steps' waits (each fails on its own after 90 s): under a
// loaded CI machine the four alert waits together took over 240 s while none of them had failed.
describe("cause alerts end to end", { timeout: 480_000 }, () => {
  it("reaches Alertmanager from the service and from Prometheus, and both resolve after the incident", async () => {
    const webhook = await flakyWebhook(2);
    // Incidents every 30 s lasting 12 s (the first 30 s after the start); the detector steps every 2 s,
    // so its 10-step warm-up is over before the incident begins.
    const svc = startCli([
      "run",
      "--store",
      `embedded:${path.join(dir, "store")}`,
      "--listen-port",
      "0",
      "--summary-interval-seconds",
      "0",
      "--demo-incident-period-seconds",
      "30",
      "--demo-incident-duration-seconds",
      "12",
      "--alert-step-seconds",
      "2",
      "--alertmanager-url",
      alertmanager.url,
      "--alert-webhook-url",
      webhook.url,
    ]);
    const url = String((await svc.waitForLog("gatewatch running")).url);
    const rules = path.join(dir, "gatewatch.rules.yml");
    writeFileSync(rules, buildPrometheusRules({ window: "10s", spikeFor: "2s" }));
    prometheus = await startPrometheus({
      scrapeTargets: [new URL(url).host],
      ruleFiles: [rules],
      alertmanagerUrl: alertmanager.url,
    });

    const detected = await receiver.waitFor(about("GatewatchCauseSpikeDetected", "firing"), 90_000);
    const alert = detected.body.alerts.find((a) => a.labels.cause === CAUSE)!;
    expect(alert.labels).toMatchObject({
      alertname: "GatewatchCauseSpikeDetected",
      gateway: GATEWAY,
      cause: CAUSE,
      origin: "backend",
      severity: "critical",
    });
    expect(alert.annotations.summary).toMatch(new RegExp(`^${CAUSE} on ${GATEWAY}: \\d+/2s`));
    expect(alert.annotations.description).toMatch(/Top contributors: .*backend_pool \S+ \(\d+\)/);
    expect(alert.annotations.runbook_url).toBe(`docs/causes/${CAUSE}.md`);

    // While it fires: the metric and `gatewatch alerts --active` (through the running service) show it.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(`^gatewatch_alerts_firing\\{cause="${CAUSE}",severity="critical"\\} 1$`, "m"),
    );
    const active = await runCli(["alerts", "--active", "--store", `embedded:${path.join(dir, "store")}`]);
    expect(active.code, active.stderr).toBe(0);
    expect(active.stdout).toContain(`"cause":"${CAUSE}"`);

    const fromPrometheus = await receiver.waitFor(about("GatewatchCauseSpike", "firing"), 90_000);
    expect(fromPrometheus.body.alerts.find((a) => a.labels.cause === CAUSE)?.labels).toMatchObject({
      gateway: GATEWAY,
      severity: "critical",
      origin: "backend",
    });

    await receiver.waitFor(about("GatewatchCauseSpikeDetected", "resolved"), 90_000);
    await receiver.waitFor(about("GatewatchCauseSpike", "resolved"), 90_000);

    const history = await runCli([
      "alerts",
      "--since",
      "1h",
      "--store",
      `embedded:${path.join(dir, "store")}`,
    ]);
    const states = history.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { state: string; cause: string })
      .filter((r) => r.cause === CAUSE)
      .map((r) => r.state);
    expect(states.slice(0, 2)).toEqual(["firing", "resolved"]);

    // The JSON webhook got both transitions despite refusing the first two attempts (retried).
    expect(webhook.refused()).toBe(2);
    expect(webhook.bodies.filter((b) => b.alerts[0]?.labels.cause === CAUSE).map((b) => b.status)).toEqual(
      expect.arrayContaining(["firing", "resolved"]),
    );
    const after = await (await fetch(`${url}/metrics`)).text();
    expect(after).toMatch(/^gatewatch_alert_notifications_total\{target="webhook",outcome="sent"\} [2-9]/m);
    expect(after).toMatch(/^gatewatch_alert_notifications_total\{target="history",outcome="sent"\} [2-9]/m);

    svc.child.kill("SIGTERM");
    expect(await svc.exited, svc.stderr()).toBe(0);
    await webhook.close();

    // A restart (minute steps) rebuilds the detector's baseline from the rollups it just wrote.
    const again = startCli([
      "run",
      "--store",
      `embedded:${path.join(dir, "store")}`,
      "--listen-port",
      "0",
      "--summary-interval-seconds",
      "0",
    ]);
    const seeded = await again.waitForLog("spike detector baseline rebuilt from the rollups");
    expect(Number(seeded.rows)).toBeGreaterThan(0);
    await again.waitForLog("gatewatch running");
    again.child.kill("SIGTERM");
    expect(await again.exited, again.stderr()).toBe(0);
  });
});
