/**
 * The overview page served at `/`: the causes of the last hour as a stacked SVG chart, the active
 * alerts, and the top causes and backend pools against the hour before. Plain browser JavaScript
 * with no library and no build step; it reads the service's own API (`/api/v1/trends`, `top`,
 * `alerts`, `causes`) and refreshes every 15 s.
 *
 * Hazards:
 * - The page runs under a strict content security policy (http-server.ts): no inline script or
 *   style, and no `style` attributes. Colors reach the DOM through SVG presentation attributes
 *   (`fill`) and the CSS object model (`element.style`), which the policy allows.
 * - Gateway, listener and backend pool names come from logs and may be hostile: text reaches the DOM
 *   only through `textContent` and attribute setters, never `innerHTML`; links only for http(s) URLs.
 * - With `GATEWATCH_API_TOKEN` set, the API answers 401; the page asks for the token and keeps it in
 *   sessionStorage (this tab only), sending it as `Authorization: Bearer`.
 */

const REFRESH_MS = 15_000;
const RANGE = "now-1h";
const TOP_LIMIT = 8;
const TOKEN_KEY = "gatewatch.apiToken";
const SHOW_OK_KEY = "gatewatch.showSuccessful";
const SVG_NS = "http://www.w3.org/2000/svg";
const CHART_HEIGHT = 280;
const MARGIN = { top: 12, right: 14, bottom: 26, left: 56 };

/** Stack order, bottom to top: failures sit on the axis where thin bands stay readable. */
const ORIGIN_ORDER = ["backend", "gateway", "waf", "mtls", "client", "unknown", "internal", "none"];

/**
 * A color family per origin (hue, how far members spread around it, saturation) and a lightness
 * per catalog severity, so critical causes are the darkest of their family. Members of one origin and
 * severity are numbered in catalog order: a cause keeps its color across reloads and services, and
 * no two catalog causes share one (groups are smaller than 18 = hue steps × lightness steps).
 */
const FAMILIES = {
  backend: { hue: 2, spread: 26, sat: 72 },
  gateway: { hue: 30, spread: 18, sat: 88 },
  client: { hue: 212, spread: 30, sat: 68 },
  mtls: { hue: 176, spread: 16, sat: 62 },
  waf: { hue: 276, spread: 20, sat: 56 },
  none: { hue: 128, spread: 24, sat: 36 },
  internal: { hue: 220, spread: 0, sat: 6 },
  unknown: { hue: 220, spread: 0, sat: 8 },
};
const LIGHTNESS = { critical: [40, 50], warning: [58, 66], info: [72, 80] };
const HUE_STEPS = [0, 0.5, -0.5, 0.25, -0.25, 0.75, -0.75, 0.125, -0.125];

const numberFormat = new Intl.NumberFormat();
const percentFormat = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });
const changeFormat = new Intl.NumberFormat(undefined, {
  style: "percent",
  maximumFractionDigits: 0,
  signDisplay: "exceptZero",
});
const clockFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const secondsFormat = new Intl.DateTimeFormat(undefined, {
  hour: "numeric",
  minute: "2-digit",
  second: "2-digit",
});

// Storage can be unavailable (disabled, sandboxed): the page then works without remembering.
const memoryStore = new Map();
function readStored(key) {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return memoryStore.get(key) ?? null;
  }
}
function writeStored(key, value) {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
  } catch {
    if (value === null) memoryStore.delete(key);
    else memoryStore.set(key, value);
  }
}

const state = {
  /** Cause id → catalog entry ({origin, severity, title, ...}) and its number within origin + severity. */
  catalog: new Map(),
  /** The last trends answer drawn. */
  trends: null,
  showOk: readStored(SHOW_OK_KEY) !== "false",
  /** Start (epoch seconds) of the minute the pointer is on, kept across redraws; null when off the chart. */
  hoverTime: null,
  timer: 0,
  busy: false,
  renders: 0,
};

/** Raised when the API answers 401; `refused` when a token was sent and not accepted. */
class AuthRequired extends Error {
  constructor(refused) {
    super("the API needs a bearer token");
    this.refused = refused;
  }
}

/** GET one API path as JSON; throws AuthRequired on 401 and an Error naming the API's error otherwise. */
async function api(path) {
  const token = readStored(TOKEN_KEY);
  const headers = { accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { headers, cache: "no-store" });
  if (res.status === 401) throw new AuthRequired(Boolean(token));
  let body;
  try {
    body = await res.json();
  } catch {
    throw new Error(`${path.split("?")[0]} answered ${res.status} without JSON`);
  }
  if (!res.ok) {
    const code = typeof body?.code === "string" ? ` [${body.code}]` : "";
    throw new Error(`HTTP ${res.status}${code}: ${String(body?.error ?? "request failed")}`);
  }
  return body;
}

/** Builds an HTML element; `text` sets textContent, other keys are attributes (never `style`). */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, String(value));
  }
  node.append(...children);
  return node;
}

/** Builds an SVG element with presentation attributes. */
function s(tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

function byId(id) {
  return document.getElementById(id);
}

function showError(id, err) {
  const node = byId(id);
  node.hidden = err === null;
  node.textContent =
    err === null ? "" : `Could not load: ${err instanceof Error ? err.message : String(err)}`;
}

function fmt(n) {
  return numberFormat.format(n);
}

/** A share 0..1 as a percentage; a share too small to round to 0.1 % still shows it is there. */
function fmtShare(share) {
  return share > 0 && share < 0.0005 ? `<${percentFormat.format(0.001)}` : percentFormat.format(share);
}

/** A cause's origin: from the catalog, else from the series, else unknown. */
function originOf(cause, fallback) {
  return state.catalog.get(cause)?.origin ?? fallback ?? "unknown";
}

/** A stable color for a cause, from its origin's family and its number within the origin. */
function colorOf(cause, origin) {
  const family = FAMILIES[originOf(cause, origin)] ?? FAMILIES.unknown;
  const entry = state.catalog.get(cause);
  let index = entry?.index;
  if (index === undefined) {
    // Not in the catalog this page knows (a newer service?): a hash keeps it stable anyway.
    index = 0;
    for (const ch of cause) index = (index * 31 + ch.charCodeAt(0)) % 997;
  }
  const lightness = LIGHTNESS[entry?.severity] ?? LIGHTNESS.warning;
  const hue = family.hue + family.spread * HUE_STEPS[index % HUE_STEPS.length];
  const light = lightness[index % lightness.length];
  return `hsl(${Math.round((hue + 360) % 360)} ${family.sat}% ${light}%)`;
}

function titleOf(cause) {
  const entry = state.catalog.get(cause);
  return entry ? `${cause}: ${entry.title} (${entry.origin}, ${entry.severity})` : cause;
}

function swatch(cause, origin) {
  const node = h("span", { class: "swatch", "aria-hidden": "true" });
  node.style.backgroundColor = colorOf(cause, origin);
  return node;
}

function loadCatalog(causes) {
  const counts = new Map();
  for (const c of causes) {
    const group = `${c.origin}/${c.severity}`;
    const index = counts.get(group) ?? 0;
    counts.set(group, index + 1);
    state.catalog.set(c.id, { ...c, index });
  }
}

/** Round numbers for an axis from 0 to at least `max`, about `count` of them. */
function niceTicks(max, count) {
  if (max <= 0) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((v) => v >= raw) ?? raw;
  const ticks = [];
  for (let v = 0; v < max + step; v += step) ticks.push(Math.round(v * 1e6) / 1e6);
  return ticks;
}

/** Stacked step areas, one path per visible cause, with axes in the browser's local time. */
function renderChart() {
  const trends = state.trends;
  if (!trends) return;
  const svg = byId("chart");
  svg.replaceChildren();
  const { times, step, series } = trends;
  const total = series.reduce((sum, x) => sum + x.total, 0);
  const failing = series.filter((x) => originOf(x.cause, x.origin) !== "none");
  const failingTotal = failing.reduce((sum, x) => sum + x.total, 0);
  byId("chart-total").textContent =
    total > 0
      ? `${fmt(total)} requests · ${percentFormat.format(failingTotal / total)} with a cause other than success`
      : "";
  renderLegend(series);

  const visible = series
    .filter((x) => state.showOk || originOf(x.cause, x.origin) !== "none")
    .map((x, order) => ({ ...x, order, rank: ORIGIN_ORDER.indexOf(originOf(x.cause, x.origin)) }))
    .sort((a, b) => a.rank - b.rank || a.order - b.order);
  const empty = total === 0;
  byId("chart-empty").hidden = !empty;
  svg.classList.toggle("is-empty", empty);
  svg.dataset.series = String(visible.length);
  if (empty || times.length === 0) return;

  const width = Math.max(320, Math.floor(byId("chart-box").clientWidth));
  const height = CHART_HEIGHT;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const n = times.length;
  const stacked = times.map((_, i) => visible.reduce((sum, x) => sum + (x.values[i] ?? 0), 0));
  const ticks = niceTicks(Math.max(...stacked), 4);
  const yMax = ticks[ticks.length - 1];
  const x = (i) => MARGIN.left + (plotW * i) / n;
  const y = (v) => MARGIN.top + plotH * (1 - v / yMax);
  const r = (v) => Math.round(v * 10) / 10;

  const grid = s("g", { class: "grid" });
  for (const t of ticks) {
    grid.append(s("line", { x1: MARGIN.left, x2: width - MARGIN.right, y1: r(y(t)), y2: r(y(t)) }));
    const label = s("text", { x: MARGIN.left - 8, y: r(y(t)) + 4, "text-anchor": "end", class: "axis" });
    label.textContent = fmt(t);
    grid.append(label);
  }
  svg.append(grid);

  const areas = s("g", { class: "areas" });
  const lower = times.map(() => 0);
  for (const serie of visible) {
    const upper = lower.map((base, i) => base + (serie.values[i] ?? 0));
    let d = "";
    for (let i = 0; i < n; i++) d += `${i === 0 ? "M" : "L"}${r(x(i))},${r(y(upper[i]))}H${r(x(i + 1))}`;
    for (let i = n - 1; i >= 0; i--) d += `L${r(x(i + 1))},${r(y(lower[i]))}H${r(x(i))}`;
    const path = s("path", {
      d: `${d}Z`,
      fill: colorOf(serie.cause, serie.origin),
      class: "area",
      "data-testid": "chart-series",
      "data-cause": serie.cause,
    });
    const tip = s("title");
    tip.textContent = `${titleOf(serie.cause)} · ${fmt(serie.total)} requests`;
    path.append(tip);
    areas.append(path);
    upper.forEach((v, i) => (lower[i] = v));
  }
  svg.append(areas);

  // Time axis: ticks where the browser's local clock shows a round minute.
  const axis = s("g", { class: "time-axis" });
  axis.append(
    s("line", { x1: MARGIN.left, x2: width - MARGIN.right, y1: y(0), y2: y(0), class: "baseline" }),
  );
  const everyMin =
    [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720].find(
      (m) => ((n * step) / 60 / m) * 64 <= plotW && m * 60 >= step,
    ) ?? 1440;
  for (let i = 0; i <= n; i++) {
    const at = trends.from + i * step;
    const local = new Date(at * 1000);
    const minuteOfDay = local.getHours() * 60 + local.getMinutes();
    if (local.getSeconds() !== 0 || minuteOfDay % everyMin !== 0) continue;
    axis.append(s("line", { x1: r(x(i)), x2: r(x(i)), y1: y(0), y2: y(0) + 4 }));
    // Labels near the right edge end at their tick instead of running off the chart.
    const label = s("text", {
      x: r(x(i)),
      y: height - 6,
      "text-anchor": x(i) > width - 36 ? "end" : "middle",
      class: "axis",
      "data-testid": "time-tick",
      "data-time": at,
    });
    label.textContent = clockFormat.format(local);
    axis.append(label);
  }
  svg.append(axis);

  // The bucket holding "now" is still filling: shade it so its drop is not read as an incident.
  if (Date.now() / 1000 < trends.to) {
    const partial = s("rect", {
      x: r(x(n - 1)),
      y: MARGIN.top,
      width: r(x(n) - x(n - 1)),
      height: plotH,
      class: "partial",
    });
    const tip = s("title");
    tip.textContent = "This minute is still being counted";
    partial.append(tip);
    svg.append(partial);
  }

  const band = s("rect", { y: MARGIN.top, height: plotH, width: r(plotW / n), class: "hover-band" });
  band.setAttribute("visibility", "hidden");
  svg.append(band);
  const catcher = s("rect", {
    x: MARGIN.left,
    y: MARGIN.top,
    width: plotW,
    height: plotH,
    class: "catcher",
    fill: "transparent",
  });
  const point = (i) => {
    state.hoverTime = i === null ? null : times[i];
    band.setAttribute("x", String(r(x(i ?? 0))));
    band.setAttribute("visibility", i === null ? "hidden" : "visible");
    showReadout(i, visible);
  };
  catcher.addEventListener("pointermove", (event) => {
    const box = svg.getBoundingClientRect();
    const px = ((event.clientX - box.left) * width) / box.width;
    point(Math.min(n - 1, Math.max(0, Math.floor(((px - MARGIN.left) * n) / plotW))));
  });
  catcher.addEventListener("pointerleave", () => point(null));
  svg.append(catcher);
  // A refresh or resize redraws everything: keep pointing at the same minute if it is still shown.
  const kept = times.indexOf(state.hoverTime);
  point(kept >= 0 ? kept : null);
}

/** The counts of one bucket under the chart (or the hint when the pointer is elsewhere). */
function showReadout(i, visible) {
  const out = byId("readout");
  if (i === null || !state.trends) {
    out.replaceChildren("Point at the chart for the counts of one minute.");
    return;
  }
  const at = new Date(state.trends.times[i] * 1000);
  const rows = visible
    .map((x) => ({ cause: x.cause, origin: x.origin, n: x.values[i] ?? 0 }))
    .filter((x) => x.n > 0)
    .sort((a, b) => b.n - a.n);
  const sum = rows.reduce((acc, x) => acc + x.n, 0);
  const items = rows
    .slice(0, 6)
    .map((x) => h("span", { class: "readout-item" }, swatch(x.cause, x.origin), `${x.cause} ${fmt(x.n)}`));
  const more =
    rows.length > 6 ? [h("span", { class: "readout-item", text: `+${rows.length - 6} more` })] : [];
  out.replaceChildren(
    h("strong", { text: `${clockFormat.format(at)} · ${fmt(sum)} requests` }),
    ...items,
    ...more,
  );
}

function renderLegend(series) {
  const total = series.reduce((sum, x) => sum + x.total, 0);
  const items = series.map((x) => {
    const hidden = !state.showOk && originOf(x.cause, x.origin) === "none";
    return h(
      "li",
      {
        class: hidden ? "legend-item off" : "legend-item",
        title: titleOf(x.cause),
        "data-testid": "legend-item",
        "data-cause": x.cause,
      },
      swatch(x.cause, x.origin),
      h("span", { class: "legend-name", text: x.cause }),
      h("span", {
        class: "legend-count",
        text: `${fmt(x.total)} · ${fmtShare(total > 0 ? x.total / total : 0)}`,
      }),
    );
  });
  byId("legend").replaceChildren(...items);
}

/** Parses the store's `YYYY-MM-DD hh:mm:ss.sss` times, which are UTC without a zone marker. */
function parseStoreTime(text) {
  const t = String(text);
  const iso = t.includes("T") ? t : `${t.replace(" ", "T")}Z`;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : new Date(ms);
}

function renderAlerts(alerts) {
  const list = byId("alerts");
  byId("alerts-count").textContent = alerts.length > 0 ? `${alerts.length} firing` : "";
  if (alerts.length === 0) {
    list.replaceChildren(
      h("li", { class: "empty", "data-testid": "alerts-empty", text: "No alerts firing" }),
    );
    return;
  }
  const severities = new Set(["critical", "warning", "info"]);
  list.replaceChildren(
    ...alerts.map((a) => {
      const severity = severities.has(a.severity) ? a.severity : "other";
      const started = parseStoreTime(a.started_at);
      const runbook = String(a.runbook_url ?? "");
      const details = h("details", {}, h("summary", { text: "Details" }));
      if (a.description) details.append(h("p", { text: a.description }));
      if (/^https?:\/\//i.test(runbook))
        details.append(
          h(
            "p",
            {},
            h("a", { href: runbook, target: "_blank", rel: "noopener noreferrer", text: "Runbook" }),
          ),
        );
      else if (runbook) details.append(h("p", { class: "muted", text: `Runbook: ${runbook}` }));
      return h(
        "li",
        { class: "alert", "data-testid": "alert-row", "data-cause": a.cause, "data-gateway": a.gateway },
        h(
          "div",
          { class: "alert-head" },
          h("span", { class: `badge sev-${severity}`, text: a.severity }),
          swatch(String(a.cause), undefined),
          h("strong", { class: "alert-cause", title: titleOf(a.cause), text: a.cause }),
          h("span", { class: "muted", text: `on ${a.gateway}` }),
          h("span", {
            class: "alert-since",
            title: started ? started.toString() : String(a.started_at),
            text: started ? `since ${clockFormat.format(started)}` : "",
          }),
        ),
        h("p", { class: "alert-summary", text: a.summary }),
        details,
      );
    }),
  );
}

/**
 * The change against the hour before. Colored only where a rise is bad news (a cause other than
 * success); for successful requests and backend pools, more or less traffic is neither.
 */
function changeCell(row, riseIsBad) {
  if (row.change === null || row.change === undefined)
    return h("td", { class: "num change new", title: "Nothing in the hour before", text: "new" });
  // Under half a percent either way rounds to 0 %: shown as flat, not as a colored rise or fall.
  const flat = Math.abs(row.change) < 0.005;
  const cls = flat || !riseIsBad ? "flat" : row.change > 0 ? "up" : "down";
  return h("td", {
    class: `num change ${cls}`,
    title: `${fmt(row.previous)} in the hour before`,
    text: flat ? "0%" : changeFormat.format(row.change),
  });
}

/** One top list (`by` cause or backend_pool). */
function renderTop(by, result) {
  const body = byId(`top-${by}`);
  byId(`top-${by}-note`).textContent =
    result.total > 0 ? `of ${fmt(result.total)} · hour before ${fmt(result.previousTotal)}` : "";
  if (result.rows.length === 0) {
    body.replaceChildren(
      h(
        "tr",
        { "data-testid": "top-empty" },
        h("td", { colspan: 4, class: "empty", text: "No requests in the last hour" }),
      ),
    );
    return;
  }
  body.replaceChildren(
    ...result.rows.map((row) => {
      const tr = h("tr", {
        "data-testid": "top-row",
        "data-value": row.value,
        "data-requests": row.requests,
        "data-change": row.change ?? "",
      });
      if (by === "cause") {
        const fill = h("span", { class: "bar-fill" });
        fill.style.width = `${Math.min(100, Math.max(0, row.share * 100)).toFixed(1)}%`;
        fill.style.backgroundColor = colorOf(row.value, undefined);
        tr.append(
          h(
            "td",
            { class: "name", title: titleOf(row.value) },
            swatch(row.value, undefined),
            h("span", { class: "top-value", text: row.value }),
          ),
          h("td", { class: "num", text: fmt(row.requests) }),
          h(
            "td",
            { class: "share-col" },
            h("span", { class: "bar" }, fill),
            h("span", { class: "share-text", text: fmtShare(row.share) }),
          ),
        );
      } else {
        tr.append(
          h(
            "td",
            { class: "name", title: row.value === "" ? "Requests not sent to a backend pool" : row.value },
            row.value === ""
              ? h("span", { class: "top-value none-value", text: "(no backend pool)" })
              : h("span", { class: "top-value", text: row.value }),
          ),
          h("td", { class: "num", text: fmt(row.requests) }),
          h("td", {
            class: row.errors > 0 ? "num errors" : "num",
            title:
              row.requests > 0 ? `${percentFormat.format(row.errors / row.requests)} of its requests` : "",
            text: fmt(row.errors),
          }),
        );
      }
      tr.append(changeCell(row, by === "cause" && originOf(row.value) !== "none"));
      return tr;
    }),
  );
}

function setStatus(text) {
  byId("status").textContent = text;
}

function askForToken(refused) {
  clearTimeout(state.timer);
  if (refused) writeStored(TOKEN_KEY, null);
  byId("auth").hidden = false;
  byId("content").hidden = true;
  byId("content").dataset.state = "auth";
  const error = byId("token-error");
  error.hidden = !refused;
  error.textContent = refused ? "The service refused that token. Check it and try again." : "";
  setStatus("Waiting for the API token");
  byId("token-input").focus();
}

/** Loads everything once, draws what arrived, shows what failed, and schedules the next round. */
async function refresh() {
  if (state.busy) return;
  state.busy = true;
  clearTimeout(state.timer);
  try {
    const range = `from=${encodeURIComponent(RANGE)}`;
    const [causes, trends, alerts, topCause, topPool] = await Promise.allSettled([
      state.catalog.size > 0 ? Promise.resolve(null) : api("/api/v1/causes"),
      api(`/api/v1/trends?${range}&step=1m`),
      api("/api/v1/alerts?active=true"),
      api(`/api/v1/top?by=cause&${range}&limit=${TOP_LIMIT}`),
      api(`/api/v1/top?by=backend_pool&${range}&limit=${TOP_LIMIT}`),
    ]);
    const all = [causes, trends, alerts, topCause, topPool];
    const denied = all.find((r) => r.status === "rejected" && r.reason instanceof AuthRequired);
    if (denied) {
      askForToken(denied.reason.refused);
      return;
    }
    byId("auth").hidden = true;
    byId("content").hidden = false;
    // Without the catalog colors still work (hashed); titles are missing until the next round.
    if (causes.status === "fulfilled" && causes.value) loadCatalog(causes.value.causes);

    if (trends.status === "fulfilled") {
      state.trends = trends.value;
      renderChart();
    }
    showError("chart-error", trends.status === "rejected" ? trends.reason : null);
    if (alerts.status === "fulfilled") renderAlerts(alerts.value.alerts);
    showError("alerts-error", alerts.status === "rejected" ? alerts.reason : null);
    if (topCause.status === "fulfilled") renderTop("cause", topCause.value);
    showError("top-cause-error", topCause.status === "rejected" ? topCause.reason : null);
    if (topPool.status === "fulfilled") renderTop("backend_pool", topPool.value);
    showError("top-backend_pool-error", topPool.status === "rejected" ? topPool.reason : null);

    const failed = all.filter((r) => r.status === "rejected").length;
    state.renders += 1;
    const content = byId("content");
    content.dataset.state = "ready";
    content.dataset.renders = String(state.renders);
    setStatus(
      `Updated ${secondsFormat.format(new Date())}${failed > 0 ? ` · ${failed} of 5 requests failed` : ""}`,
    );
    state.timer = setTimeout(run, REFRESH_MS);
  } finally {
    state.busy = false;
  }
}

function run() {
  refresh().catch((err) => {
    // Only a bug in this page gets here (API failures are shown per panel): say so, keep trying.
    setStatus(`Refresh failed: ${err instanceof Error ? err.message : String(err)}`);
    state.timer = setTimeout(run, REFRESH_MS);
  });
}

function start() {
  const showOk = byId("show-ok");
  showOk.checked = state.showOk;
  showOk.addEventListener("change", () => {
    state.showOk = showOk.checked;
    writeStored(SHOW_OK_KEY, String(state.showOk));
    renderChart();
  });
  byId("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = byId("token-input");
    const token = input.value.trim();
    if (token === "") return;
    writeStored(TOKEN_KEY, token);
    input.value = "";
    byId("auth").hidden = true;
    setStatus("Loading…");
    run();
  });
  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(renderChart, 150);
  });
  run();
}

start();
