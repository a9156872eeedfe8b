/**
 * The overview page at `/`, rendered by a real headless Chromium (Debian's, driven by playwright-core)
 * against `gatewatch run` on the demo source with an embedded store. The demo's first incident (a
 * backend pool losing every healthy member) makes the in-service detector (2 s steps) raise a
 * no_healthy_backend alert. The page must draw one chart shape per cause of the trends answer it got,
 * name them in the legend, list the firing alert, show the top causes and backend pools the API
 * answered, label the time axis in the browser's time zone, and do all of it without a console error
 * or a content security policy violation. A second service with GATEWATCH_API_TOKEN set checks the
 * token form. Browser answers are compared with the API answers the page itself received (captured
 * from its network traffic), so counts that grow while the demo runs cannot make the test flaky.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser, type ConsoleMessage, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, startCli } from "../helpers/cli.js";
import { waitFor } from "../helpers/wait.js";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const CAUSE = "no_healthy_backend";
const TOKEN = "overview-page-t0ken-of-sufficient-length";
/** Not UTC and not whole hours: a time axis drawn in UTC or the server's zone cannot pass. */
const TIME_ZONE = "Asia/Kathmandu";
const SCREENSHOT = path.join(ROOT, "test-results", "overview.png");

const number = new Intl.NumberFormat("en-US");
const localClock = new Intl.DateTimeFormat("en-US", {
  hour: "numeric",
  minute: "2-digit",
  timeZone: TIME_ZONE,
});

/** The change column as the page writes it: "new" without an hour before, else a whole percentage. */
function changeText(change: number | null): string {
  if (change === null) return "new";
  if (Math.abs(change) < 0.005) return "0%";
  return new Intl.NumberFormat("en-US", {
    style: "percent",
    maximumFractionDigits: 0,
    signDisplay: "exceptZero",
  }).format(change);
}

type Service = ReturnType<typeof startCli>;

interface TrendsBody {
  series: { cause: string; origin: string; total: number; values: number[] }[];
}
interface TopBody {
  by: string;
  rows: { value: string; requests: number; errors: number; previous: number; change: number | null }[];
}
interface AlertsBody {
  alerts: { cause: string; gateway: string; state: string }[];
}

/** An API answer the page received, as it received it. */
interface Captured {
  path: string;
  query: URLSearchParams;
  status: number;
  authorization: string | undefined;
  body: unknown;
}

/** What the page shows, read in one go (one JavaScript task, so no refresh can land halfway). */
interface Snapshot {
  state: string;
  series: { cause: string; fill: string }[];
  legend: { cause: string; off: boolean; name: string; count: string }[];
  alerts: { cause: string; gateway: string; text: string }[];
  alertsEmpty: boolean;
  top: Record<
    "cause" | "backend_pool",
    { value: string; requests: string; change: string; name: string; cells: string[] }[]
  >;
  ticks: { time: number; text: string }[];
  readout: string;
}

let dir = "";
let open: Service | undefined;
let locked: Service | undefined;
let openUrl = "";
let lockedUrl = "";
let browser: Browser | undefined;
/** Console errors, page errors and CSP violations of every page, with the page they came from. */
const problems: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: this test drives Debian's Chromium (apt-get install chromium, as .ci/run does)`,
    );
  dir = mkdtempSync(path.join(os.tmpdir(), "gw-overview-"));
  const common = ["--listen-port", "0", "--summary-interval-seconds", "0"];
  // The demo's first incident (pool_outage) starts after one period and lasts the whole period; the
  // detector steps every 2 s, so its 10-step warm-up is over before the outage begins.
  open = startCli([
    "run",
    "--store",
    `embedded:${path.join(dir, "open")}`,
    ...common,
    "--demo-incident-period-seconds",
    "30",
    "--demo-incident-duration-seconds",
    "30",
    "--alert-step-seconds",
    "2",
  ]);
  const lockedStore = `embedded:${path.join(dir, "locked")}`;
  locked = startCli(["run", "--store", lockedStore, ...common, "--demo-rate", "50"], {
    GATEWATCH_API_TOKEN: TOKEN,
  });
  const [a, b, c] = await Promise.all([
    open.waitForLog("gatewatch running"),
    locked.waitForLog("gatewatch running"),
    chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
  ]);
  openUrl = String(a.url);
  lockedUrl = String(b.url);
  browser = c;
}, 60_000);

afterAll(async () => {
  await browser?.close();
  for (const svc of [open, locked]) {
    if (!svc || svc.child.exitCode !== null) continue;
    svc.child.kill("SIGTERM");
    await svc.exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
}, 60_000);

async function getJson<T>(url: string, token?: string): Promise<T> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/**
 * A fresh page (en-US, {@link TIME_ZONE}) that records the API answers it gets and reports console
 * errors, uncaught errors and CSP violations into {@link problems}.
 */
async function newPage(label: string): Promise<{ page: Page; captured: Promise<Captured>[] }> {
  if (!browser) throw new Error("the browser did not start");
  const context = await browser.newContext({
    locale: "en-US",
    timezoneId: TIME_ZONE,
    viewport: { width: 1280, height: 900 },
  });
  // Runs before the page's own scripts, outside its content security policy.
  await context.addInitScript({
    content: `document.addEventListener("securitypolicyviolation", (e) =>
      console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline")));`,
  });
  const page = await context.newPage();
  const captured: Promise<Captured>[] = [];
  page.on("console", (msg: ConsoleMessage) => {
    if (msg.type() === "error")
      problems.push(`${label}: console error: ${msg.text()} (${msg.location().url})`);
  });
  page.on("pageerror", (err) => problems.push(`${label}: uncaught: ${err.message}`));
  page.on("response", (res) => {
    const url = new URL(res.url());
    if (!url.pathname.startsWith("/api/")) return;
    captured.push(
      res.text().then((text) => ({
        path: url.pathname,
        query: url.searchParams,
        status: res.status(),
        authorization: res.request().headers().authorization,
        body: JSON.parse(text) as unknown,
      })),
    );
  });
  return { page, captured };
}

/** The little of the DOM that {@link snapshot} uses (the tests compile without DOM types). */
interface DomNode {
  readonly textContent: string | null;
  readonly classList: { contains(name: string): boolean };
  getAttribute(name: string): string | null;
  querySelector(selector: string): DomNode | null;
  querySelectorAll(selector: string): Iterable<DomNode>;
}

/** Reads everything the assertions look at from the page at once. */
function snapshot(page: Page): Promise<Snapshot> {
  return page.locator("html").evaluate((root: DomNode): Snapshot => {
    const all = (selector: string): DomNode[] => [...root.querySelectorAll(selector)];
    const text = (node: DomNode | null): string => (node?.textContent ?? "").trim();
    const attr = (node: DomNode, name: string): string => node.getAttribute(name) ?? "";
    const rows = (by: string) =>
      all(`[data-testid="top-${by}"] [data-testid="top-row"]`).map((tr) => ({
        value: attr(tr, "data-value"),
        requests: attr(tr, "data-requests"),
        change: attr(tr, "data-change"),
        name: text(tr.querySelector(".top-value")),
        cells: [...tr.querySelectorAll("td")].map(text),
      }));
    return {
      state: root.querySelector("#content")?.getAttribute("data-state") ?? "",
      series: all('[data-testid="chart"] [data-testid="chart-series"]').map((p) => ({
        cause: attr(p, "data-cause"),
        fill: attr(p, "fill"),
      })),
      legend: all('[data-testid="legend-item"]').map((li) => ({
        cause: attr(li, "data-cause"),
        off: li.classList.contains("off"),
        name: text(li.querySelector(".legend-name")),
        count: text(li.querySelector(".legend-count")),
      })),
      alerts: all('[data-testid="alert-row"]').map((li) => ({
        cause: attr(li, "data-cause"),
        gateway: attr(li, "data-gateway"),
        text: text(li),
      })),
      alertsEmpty: all('[data-testid="alerts-empty"]').length > 0,
      top: { cause: rows("cause"), backend_pool: rows("backend_pool") },
      ticks: all('[data-testid="time-tick"]').map((t) => ({
        time: Number(attr(t, "data-time")),
        text: text(t),
      })),
      readout: text(root.querySelector('[data-testid="readout"]')),
    };
  });
}

/** The trends answer (among those the page got) that the legend shows: same causes, order, totals. */
function shownTrends(shot: Snapshot, answers: Captured[]): TrendsBody | undefined {
  return answers
    .filter((a) => a.path === "/api/v1/trends" && a.status === 200)
    .map((a) => a.body as TrendsBody)
    .find(
      (body) =>
        body.series.length === shot.legend.length &&
        body.series.every(
          (s, i) =>
            shot.legend[i]?.cause === s.cause &&
            shot.legend[i]?.name === s.cause &&
            shot.legend[i]?.count.startsWith(`${number.format(s.total)} ·`),
        ),
    );
}

/** The top answer by `by` (among those the page got) whose rows the table shows, in order. */
function shownTop(shot: Snapshot, answers: Captured[], by: "cause" | "backend_pool"): TopBody | undefined {
  const shown = shot.top[by];
  return answers
    .filter((a) => a.path === "/api/v1/top" && a.query.get("by") === by && a.status === 200)
    .map((a) => a.body as TopBody)
    .find(
      (body) =>
        body.rows.length === shown.length &&
        body.rows.every(
          (r, i) =>
            shown[i]?.value === r.value &&
            shown[i]?.requests === String(r.requests) &&
            shown[i]?.change === (r.change === null ? "" : String(r.change)),
        ),
    );
}

/** The overview of the open service, loaded once the alert fires, with what it received. */
let overview:
  Promise<{ page: Page; shot: Snapshot; answers: Captured[]; firing: AlertsBody["alerts"] }> | undefined;
function loadOverview() {
  overview ??= (async () => {
    const firing = await waitFor(
      `GET /api/v1/alerts?active=true to list ${CAUSE}`,
      async () => {
        const { alerts } = await getJson<AlertsBody>(`${openUrl}/api/v1/alerts?active=true`);
        return alerts.some((a) => a.cause === CAUSE) ? alerts : undefined;
      },
      75_000,
      500,
    );
    const { page, captured } = await newPage("overview");
    await page.goto(`${openUrl}/`);
    await page.locator('#content[data-state="ready"]').waitFor({ timeout: 20_000 });
    // Point at the last minute (a fresh service has most of its requests there) so the readout,
    // built with swatches, is drawn too.
    const chart = await page.getByTestId("chart").boundingBox();
    if (chart) await page.mouse.move(chart.x + chart.width - 18, chart.y + chart.height / 2);
    await page.getByTestId("readout").getByText("requests").waitFor({ timeout: 5_000 });
    const shot = await snapshot(page);
    // Kept for people (and for debugging a failure); taken after the snapshot because a full-page
    // screenshot resizes the viewport, which redraws the chart.
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    return { page, shot, answers: await Promise.all(captured), firing };
  })();
  return overview;
}

describe("the overview page", { timeout: 90_000 }, () => {
  it("asks for the API token when the API answers 401, and draws the chart once it has the token", async () => {
    // Wait until the locked service has requests to show, so "draws the chart" means shapes.
    const trendsUrl = `${lockedUrl}/api/v1/trends?from=now-1h&step=1m`;
    const hasSeries = async () => (await getJson<TrendsBody>(trendsUrl, TOKEN)).series.length > 0;
    await waitFor("trends with series from the service with a token", hasSeries, 30_000, 250);
    const { page, captured } = await newPage("token");
    await page.goto(`${lockedUrl}/`);
    await page.getByTestId("token-form").waitFor({ state: "visible", timeout: 15_000 });
    expect(await page.getByTestId("chart").isVisible()).toBe(false);

    await page.getByTestId("token-input").fill("not-the-token-but-long-enough");
    await page.getByTestId("token-submit").click();
    await page.getByTestId("token-error").waitFor({ state: "visible", timeout: 10_000 });
    expect(await page.getByTestId("token-error").textContent()).toContain("refused");

    await page.getByTestId("token-input").fill(TOKEN);
    await page.getByTestId("token-submit").click();
    await page.locator('#content[data-state="ready"]').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId("token-form").isVisible()).toBe(false);
    const shot = await snapshot(page);
    const answers = await Promise.all(captured);
    const trends = shownTrends(shot, answers);
    expect(trends, "the legend matches a trends answer the page received").toBeDefined();
    expect(shot.series).toHaveLength(trends!.series.length);
    expect(shot.series.length).toBeGreaterThan(0);
    // Requests with the token carried it; the refused ones carried the wrong one or none.
    const authorised = answers.filter((a) => a.status === 200);
    expect(authorised.length).toBeGreaterThan(0);
    expect(authorised.every((a) => a.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(answers.filter((a) => a.status === 401).length).toBeGreaterThan(0);

    // Kept in sessionStorage: a reload goes straight to the chart.
    expect(await page.evaluate(`sessionStorage.getItem("gatewatch.apiToken")`)).toBe(TOKEN);
    await page.reload();
    await page.locator('#content[data-state="ready"]').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId("token-form").isVisible()).toBe(false);
    expect(await page.getByTestId("chart-series").count()).toBeGreaterThan(0);
    await page.context().close();
  });

  it("draws one chart shape per cause of the trends answer, with a legend naming each cause", async () => {
    const { page, shot, answers } = await loadOverview();
    expect(shot.state).toBe("ready");
    const trends = shownTrends(shot, answers);
    expect(
      trends,
      `the legend ${JSON.stringify(shot.legend)} matches a trends answer the page got`,
    ).toBeDefined();
    expect(trends!.series.length).toBeGreaterThan(0);
    expect(shot.series.map((s) => s.cause).sort()).toEqual(trends!.series.map((s) => s.cause).sort());
    expect(new Set(shot.series.map((s) => s.fill)).size, "every cause has its own color").toBe(
      shot.series.length,
    );
    expect(shot.legend.some((l) => l.cause === CAUSE)).toBe(true);
    expect(shot.readout, "pointing at the chart shows the counts of that minute").toMatch(/requests/);

    // Leaving out successful requests removes exactly their shapes (origin none) from the chart.
    await page.getByTestId("show-ok").uncheck();
    const without = await snapshot(page);
    const after = shownTrends(without, answers);
    expect(after).toBeDefined();
    expect(without.series.map((s) => s.cause).sort()).toEqual(
      after!.series
        .filter((s) => s.origin !== "none")
        .map((s) => s.cause)
        .sort(),
    );
    expect(without.legend.filter((l) => l.off).map((l) => l.cause)).toEqual(
      after!.series.filter((s) => s.origin === "none").map((s) => s.cause),
    );
    await page.getByTestId("show-ok").check();
  });

  it(`lists the firing ${CAUSE} alert of the pool outage`, async () => {
    const { shot, answers, firing } = await loadOverview();
    const received = answers.filter((a) => a.path === "/api/v1/alerts");
    expect(received.map((a) => a.status)).toContain(200);
    expect(shot.alertsEmpty).toBe(false);
    const row = shot.alerts.find((a) => a.cause === CAUSE);
    expect(row, `alert rows ${JSON.stringify(shot.alerts)}`).toBeDefined();
    expect(row!.gateway).toBe(firing.find((a) => a.cause === CAUSE)!.gateway);
    expect(row!.text).toContain(CAUSE);
    expect(row!.text).toContain("critical");
  });

  it("shows the top causes and backend pools the API answered, with the change against the hour before", async () => {
    const { shot, answers } = await loadOverview();
    const failed = answers.filter((a) => a.path === "/api/v1/top" && a.status !== 200);
    expect(failed.map((a) => `${a.query.toString()} → ${a.status} ${JSON.stringify(a.body)}`)).toEqual([]);
    for (const by of ["cause", "backend_pool"] as const) {
      const top = shownTop(shot, answers, by);
      expect(
        top,
        `the ${by} rows ${JSON.stringify(shot.top[by])} match a top answer the page got`,
      ).toBeDefined();
      expect(top!.rows.length).toBeGreaterThan(0);
      top!.rows.forEach((r, i) => {
        const shown = shot.top[by][i]!;
        expect(shown.name).toBe(r.value === "" ? "(no backend pool)" : r.value);
        expect(shown.cells).toContain(number.format(r.requests));
        expect(shown.cells.at(-1)).toBe(changeText(r.change));
      });
    }
  });

  it("shows empty states, and shows names from logs as text, never as markup", async () => {
    // API answers made up in the test (the service's page, script and policy are real): a quiet
    // hour first, then names a hostile log could carry.
    const to = Math.ceil(Date.now() / 60_000) * 60;
    const times = Array.from({ length: 61 }, (_, i) => to - 3660 + i * 60);
    const hostile = `<img src=x onerror="window.__injected=1">`;
    let answers: Record<string, unknown> = {};
    const { page } = await newPage("made-up answers");
    await page.route(/\/api\/v1\/(trends|top|alerts)\b/, (route) => {
      const url = new URL(route.request().url());
      const key = url.pathname === "/api/v1/top" ? `top:${url.searchParams.get("by")}` : url.pathname;
      return route.fulfill({
        status: 200,
        contentType: "application/json",
        body: JSON.stringify(answers[key]),
      });
    });
    const top = (by: string, rows: unknown[]) => ({
      by,
      table: "requests_1m",
      from: to - 3660,
      to,
      previousRange: { from: to - 7320, to: to - 3660 },
      total: 0,
      previousTotal: 0,
      rows,
    });
    answers = {
      "/api/v1/trends": {
        from: times[0],
        to,
        step: 60,
        table: "requests_1m",
        times,
        totals: times.map(() => 0),
        series: [],
      },
      "/api/v1/alerts": { alerts: [] },
      "top:cause": top("cause", []),
      "top:backend_pool": top("backend_pool", []),
    };
    await page.goto(`${openUrl}/`);
    await page.locator('#content[data-state="ready"]').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId("chart-empty").textContent()).toContain("No requests in the last hour");
    expect(await page.getByTestId("chart-series").count()).toBe(0);
    expect(await page.getByTestId("alerts-empty").textContent()).toBe("No alerts firing");
    expect(await page.getByTestId("top-empty").allTextContents()).toEqual([
      "No requests in the last hour",
      "No requests in the last hour",
    ]);

    answers["/api/v1/alerts"] = {
      alerts: [
        {
          alert_id: "x",
          state: "firing",
          gateway: hostile,
          cause: CAUSE,
          severity: "critical",
          started_at: "2030-01-01 00:00:00.000",
          last_change: "2030-01-01 00:00:02.000",
          count: 9,
          baseline: 0,
          summary: hostile,
          description: hostile,
          runbook_url: "javascript:window.__injected=2",
        },
      ],
    };
    answers["top:backend_pool"] = top("backend_pool", [
      { value: hostile, requests: 9, errors: 9, share: 1, previous: 0, change: null },
    ]);
    await page.reload();
    await page.locator('#content[data-state="ready"]').waitFor({ timeout: 15_000 });
    const shot = await snapshot(page);
    expect(shot.alerts[0]?.gateway).toBe(hostile);
    expect(shot.alerts[0]?.text).toContain(`on ${hostile}`);
    expect(shot.top.backend_pool[0]?.name).toBe(hostile);
    expect(await page.locator("img, a[href^='javascript']").count()).toBe(0);
    expect(await page.evaluate("window.__injected")).toBeUndefined();
    await page.context().close();
  });

  it("labels the time axis in the browser's time zone", async () => {
    const { shot } = await loadOverview();
    expect(shot.ticks.length).toBeGreaterThan(2);
    for (const tick of shot.ticks) expect(tick.text).toBe(localClock.format(tick.time * 1000));
  });

  it("raises no console error, uncaught error or content security policy violation", async () => {
    await loadOverview();
    // The token page's refused requests are the API working as intended; the browser logs each 401.
    const unexpected = problems.filter(
      (p) => !/^token: console error: .* status of 401 \(Unauthorized\)/.test(p),
    );
    expect(unexpected).toEqual([]);
  });
});
