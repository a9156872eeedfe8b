/**
 * In-service cause alerts: feeds the spike detector with the per-cause counts the workers report,
 * evaluates it once per step, enriches each transition with its top contributors from ClickHouse,
 * records it in the alert history and delivers it to Alertmanager (API v2), a JSON webhook and the
 * log. Firing alerts are re-sent every step with a fresh `endsAt`, so Alertmanager keeps them active
 * while gatewatch runs and lets them expire if it stops; a resolution is sent with `endsAt` = now.
 */
import type { Logger } from "pino";
import pRetry from "p-retry";
import { SpikeDetector, policyFor, type SpikeAlert, type SpikeTransition } from "@gatewatch/alerting";
import { CATALOG, type CauseInfo } from "@gatewatch/classify";
import type { MetricDeltas } from "@gatewatch/classify-pool";
import type { GatewatchMetrics } from "@gatewatch/metrics";
import type { AlertEventRow, ClickHouseStore } from "@gatewatch/store-clickhouse";
import type { Config } from "./config.js";

/** alertname of the in-service spike alert (the Prometheus rule file's own is GatewatchCauseSpike). */
export const ALERT_NAME = "GatewatchCauseSpikeDetected";

/** An alert as Alertmanager's API v2 takes it. */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

interface Active {
  readonly id: string;
  readonly alert: PostableAlert;
}

const CAUSES: ReadonlyMap<string, CauseInfo> = CATALOG;

export class AlertService {
  readonly #detector: SpikeDetector;
  readonly #stepMs: number;
  readonly #active = new Map<string, Active>();
  readonly #pending = new Set<Promise<void>>();
  #evaluated: number;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(
    private readonly config: Config,
    private readonly store: ClickHouseStore,
    private readonly metrics: GatewatchMetrics,
    private readonly log: Logger,
    private readonly generatorUrl?: string,
  ) {
    this.#stepMs = config.alertStepSeconds * 1000;
    this.#detector = new SpikeDetector({
      baselineSteps: config.alertBaselineSteps,
      policy: (cause) => policyFor(cause, config.alertRules),
    });
    this.#evaluated = this.#step(Date.now()) - 1;
  }

  /** Counts of one classified batch (by processing time: the step it arrives in). */
  observe(deltas: MetricDeltas): void {
    const step = this.#step(Date.now());
    for (const [gateway, cause, , , n] of deltas.requests) this.#detector.add(step, gateway, cause, n);
  }

  /** Seeds the baseline from the rollups (minute steps only), then evaluates once per step. */
  async start(): Promise<void> {
    if (this.#stepMs === 60_000) {
      try {
        const rows = await this.store.recentCauseCounts(this.config.alertBaselineSteps + 2);
        const now = this.#step(Date.now());
        // The current minute is still being counted live; history is what came before it.
        for (const r of rows) {
          const step = Math.floor(r.minute / 60);
          if (step < now) this.#detector.add(step, r.gateway, r.cause, r.requests);
        }
        this.log.info({ rows: rows.length }, "spike detector baseline rebuilt from the rollups");
      } catch (err) {
        this.log.warn({ err: String(err) }, "could not rebuild the spike baseline; it is learned afresh");
      }
    }
    this.#timer = setInterval(() => void this.#tick(), Math.min(this.#stepMs / 4, 5000));
    this.#timer.unref();
  }

  /** Stops evaluating and waits (bounded) for deliveries under way. */
  async stop(timeoutMs = 5000): Promise<void> {
    clearInterval(this.#timer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#pending]),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }

  #step(ms: number): number {
    return Math.floor(ms / this.#stepMs);
  }

  async #tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const closed = this.#step(Date.now()) - 1;
      if (closed <= this.#evaluated) return;
      const transitions: SpikeTransition[] = [];
      while (this.#evaluated < closed) transitions.push(...this.#detector.evaluate(++this.#evaluated));
      for (const t of transitions) await this.#transition(t);
      this.metrics.setAlertsFiring(
        this.#detector.active().map((a) => ({ cause: a.cause, severity: a.severity })),
      );
      // Keep every firing alert alive in Alertmanager.
      if (this.#active.size > 0 && this.config.alertmanagerUrl)
        this.#deliver("alertmanager", () =>
          this.#postAlertmanager([...this.#active.values()].map((a) => a.alert)),
        );
    } catch (err) {
      this.log.error({ err: String(err) }, "spike evaluation failed");
    } finally {
      this.#busy = false;
    }
  }

  async #transition({ state, alert }: SpikeTransition): Promise<void> {
    const id = `${alert.gateway}/${alert.cause}/${alert.startedAt * this.#stepMs}`;
    const now = Date.now();
    let contributors: { dimension: string; value: string; requests: number }[] = [];
    if (state === "firing") {
      contributors = await this.store
        .topContributors(alert.gateway, alert.cause, Math.max(60, this.config.alertStepSeconds * 5))
        .catch((err: unknown) => {
          this.log.warn({ err: String(err) }, "could not look up the spike's top contributors");
          return [];
        });
    }
    const postable = this.#postable(alert, state, now, contributors);
    if (state === "firing") this.#active.set(id, { id, alert: postable });
    else this.#active.delete(id);
    const row: AlertEventRow = {
      at: now,
      alert_id: id,
      state,
      alertname: ALERT_NAME,
      gateway: alert.gateway,
      cause: alert.cause,
      origin: alert.origin,
      severity: alert.severity,
      started_at: alert.startedAt * this.#stepMs,
      count: alert.count,
      baseline: alert.baseline,
      share: alert.share,
      baseline_share: alert.baselineShare,
      summary: postable.annotations.summary ?? "",
      description: postable.annotations.description ?? "",
      runbook_url: postable.annotations.runbook_url ?? "",
      labels: postable.labels,
    };
    const level = state === "firing" ? "warn" : "info";
    this.log[level]({ alert: postable.labels, summary: row.summary }, `alert ${state}`);
    this.#deliver("history", () => this.store.recordAlertEvents([row]));
    if (this.config.alertmanagerUrl) this.#deliver("alertmanager", () => this.#postAlertmanager([postable]));
    if (this.config.alertWebhookUrl)
      this.#deliver("webhook", () =>
        this.#post(this.config.alertWebhookUrl!, { status: state, alerts: [{ ...postable, status: state }] }),
      );
  }

  #postable(
    a: SpikeAlert,
    state: "firing" | "resolved",
    now: number,
    contributors: { dimension: string; value: string; requests: number }[],
  ): PostableAlert {
    const info = CAUSES.get(a.cause);
    const unit = this.config.alertStepSeconds === 60 ? "min" : `${this.config.alertStepSeconds}s`;
    const top = contributors.map((c) => `${c.dimension} ${c.value} (${c.requests})`).join(", ");
    const vs =
      a.baseline > 0
        ? `${round(a.count / a.baseline)}× its baseline of ${round(a.baseline)}/${unit}`
        : `up from a baseline of 0/${unit}`;
    const summary = `${a.cause} on ${a.gateway}: ${a.count}/${unit}, ${vs}`;
    const description =
      `${info?.title ?? a.cause}. ${a.count} requests in the last step (${pct(a.share)} of the gateway's traffic) ` +
      `against a baseline of ${round(a.baseline)} (${pct(a.baselineShare)}).` +
      (top ? ` Top contributors: ${top}.` : "");
    const base = this.config.alertRunbookBaseUrl.replace(/\/+$/, "");
    // While firing, endsAt lies a few steps ahead and is refreshed every step.
    const endsAt = state === "firing" ? now + Math.max(5 * 60_000, 4 * this.#stepMs) : now;
    return {
      labels: {
        alertname: ALERT_NAME,
        gateway: a.gateway,
        cause: a.cause,
        origin: a.origin,
        severity: a.severity,
      },
      annotations: { summary, description, runbook_url: `${base}/${a.cause}.md` },
      startsAt: new Date(a.startedAt * this.#stepMs).toISOString(),
      endsAt: new Date(endsAt).toISOString(),
      ...(this.generatorUrl ? { generatorURL: this.generatorUrl } : {}),
    };
  }

  #postAlertmanager(alerts: PostableAlert[]): Promise<void> {
    return this.#post(new URL("/api/v2/alerts", this.config.alertmanagerUrl).toString(), alerts);
  }

  /**
   * POSTs JSON. Credentials in the URL become a Basic authorization header: fetch refuses URLs with
   * credentials (and would quote the whole URL, password included, in its error).
   */
  async #post(target: string, body: unknown): Promise<void> {
    const url = new URL(target);
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (url.username !== "" || url.password !== "") {
      const user = decodeURIComponent(url.username);
      const pass = decodeURIComponent(url.password);
      headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
      url.username = "";
      url.password = "";
    }
    const res = await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok)
      throw new Error(
        `${url.origin}${url.pathname} answered ${res.status}: ${(await res.text()).slice(0, 200)}`,
      );
  }

  /** Runs a delivery in the background with capped, jittered retries; failures are counted and logged. */
  #deliver(target: string, send: () => Promise<void>): void {
    const p = pRetry(send, { retries: 4, minTimeout: 500, maxTimeout: 5000, randomize: true })
      .then(
        () => this.metrics.countAlertNotification(target, "sent"),
        (err: unknown) => {
          this.metrics.countAlertNotification(target, "failed");
          this.log.error({ target, err: String(err) }, "alert delivery failed after retries");
        },
      )
      .finally(() => this.#pending.delete(p));
    this.#pending.add(p);
  }
}

function round(n: number): string {
  return n >= 10 ? String(Math.round(n)) : String(Math.round(n * 10) / 10);
}

function pct(share: number): string {
  return `${round(share * 100)}%`;
}
