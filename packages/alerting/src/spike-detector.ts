/**
 * In-service cause-spike detection. Pure: the caller feeds counts per step (a minute in production)
 * and asks for an evaluation when a step has closed; no clock, no I/O.
 *
 * For each (gateway, cause) with an alert policy, the closed step's count is compared with a baseline
 * learned from the trailing window (default 60 steps) of the same series:
 * - enough history: a gateway is judged once it had traffic in `warmUpSteps` steps of the window,
 * - an absolute floor (quiet gateways and 3 a.m. trickles never alert),
 * - a relative threshold (count ≥ factor × median of the window),
 * - a statistical one (count − median ≥ z × spread, spread = max(1.4826 × MAD, √median, 1)), and
 * - the cause's share of the gateway's traffic must have grown too (factor `shareFactor`), so traffic
 *   that grows as a whole (a daily ramp, a backlog catching up) does not look like an incident.
 * The median moves slowly (a ramp over hours stays quiet) and ignores short spikes. An alert fires
 * after `fireAfter` hot steps in a row and resolves after `resolveAfter` cool steps in a row; while it
 * fires its baseline is frozen, so a long outage does not become the new normal and resolve itself.
 */
import { CATALOG as CAUSES, type CauseInfo } from "@gatewatch/classify";

/** The catalog, looked up by any string (ids come from rows, metrics and settings). */
const CATALOG: ReadonlyMap<string, CauseInfo> = CAUSES;

/** Thresholds of one cause (or origin). */
export interface SpikePolicy {
  /** Minimum count in a step. */
  readonly floor: number;
  /** Count must reach this many times the baseline. */
  readonly factor: number;
  /** Standard deviations above the baseline. @default 3 */
  readonly z: number;
  /** The cause's share of the gateway's traffic must reach this many times its baseline share. @default 2 */
  readonly shareFactor: number;
  /** Hot steps in a row before firing. @default 2 */
  readonly fireAfter: number;
  /** Cool steps in a row before resolving (hysteresis). @default 3 */
  readonly resolveAfter: number;
}

/** Defaults by catalog severity (per minute): critical causes alert earliest. */
export const DEFAULT_POLICIES: Readonly<Record<CauseInfo["severity"], SpikePolicy>> = {
  critical: { floor: 5, factor: 3, z: 3, shareFactor: 2, fireAfter: 2, resolveAfter: 3 },
  warning: { floor: 20, factor: 4, z: 3, shareFactor: 2, fireAfter: 2, resolveAfter: 3 },
  info: { floor: 50, factor: 5, z: 4, shareFactor: 2, fireAfter: 3, resolveAfter: 3 },
};

/** Origins that never alert: normal traffic and the gateway's own housekeeping. */
const QUIET_ORIGINS: ReadonlySet<string> = new Set(["none", "internal"]);

/**
 * Overrides, applied in order over the catalog default: by origin (`origin=client`) then by cause id.
 * `null` switches alerting off for it.
 */
export type PolicyOverrides = ReadonlyMap<string, Partial<SpikePolicy> | null>;

/** The policy of a cause: catalog severity default, then origin and cause overrides; null = never alerts. */
export function policyFor(cause: string, overrides: PolicyOverrides = new Map()): SpikePolicy | null {
  const info = CATALOG.get(cause);
  if (!info || QUIET_ORIGINS.has(info.origin)) return null;
  let policy: SpikePolicy = DEFAULT_POLICIES[info.severity];
  for (const key of [`origin=${info.origin}`, cause]) {
    if (!overrides.has(key)) continue;
    const o = overrides.get(key);
    if (o === null) return null;
    policy = { ...policy, ...o };
  }
  return policy;
}

/**
 * Parses overrides: `;`-separated entries `<cause>|origin=<origin>:key=value,...` with keys floor,
 * factor, z, share, for, resolve; or `<cause>:off`. Throws an Error naming the bad entry.
 */
export function parsePolicyOverrides(text: string): PolicyOverrides {
  const out = new Map<string, Partial<SpikePolicy> | null>();
  const keys: Record<string, keyof SpikePolicy> = {
    floor: "floor",
    factor: "factor",
    z: "z",
    share: "shareFactor",
    for: "fireAfter",
    resolve: "resolveAfter",
  };
  for (const entry of text
    .split(";")
    .map((e) => e.trim())
    .filter(Boolean)) {
    const colon = entry.indexOf(":");
    const target = colon > 0 ? entry.slice(0, colon).trim() : "";
    const body = colon > 0 ? entry.slice(colon + 1).trim() : "";
    const origin = /^origin=(.+)$/.exec(target)?.[1];
    const known = origin ? [...CATALOG.values()].some((c) => c.origin === origin) : CATALOG.has(target);
    if (!target || !body || !known)
      throw new Error(
        `"${entry}": expected <cause>:key=value,... or origin=<origin>:..., with a catalog cause or origin`,
      );
    if (body === "off") {
      out.set(target, null);
      continue;
    }
    const policy: Record<string, number> = {};
    for (const kv of body.split(",")) {
      const [k, v] = kv.split("=").map((x) => x.trim());
      const key = keys[k ?? ""];
      const n = Number(v);
      if (!key || v === undefined || v === "" || !Number.isFinite(n) || n <= 0)
        throw new Error(
          `"${entry}": "${kv}" is not one of floor|factor|z|share|for|resolve = a positive number`,
        );
      policy[key] = key === "fireAfter" || key === "resolveAfter" ? Math.ceil(n) : n;
    }
    out.set(target, policy);
  }
  return out;
}

/** An alert's identity and numbers at a transition. */
export interface SpikeAlert {
  readonly gateway: string;
  readonly cause: string;
  readonly origin: string;
  readonly severity: CauseInfo["severity"];
  /** Step (its start, in the caller's unit) when the alert started firing. */
  readonly startedAt: number;
  /** The evaluated step. */
  readonly step: number;
  /** Count in the evaluated step. */
  readonly count: number;
  /** Baseline count per step (frozen while firing). */
  readonly baseline: number;
  /** Share of the gateway's traffic now, and its baseline share (0..1). */
  readonly share: number;
  readonly baselineShare: number;
}

export interface SpikeTransition {
  readonly state: "firing" | "resolved";
  readonly alert: SpikeAlert;
}

interface SeriesState {
  hot: number;
  cool: number;
  firing: SpikeAlert | null;
}

/** Options of {@link SpikeDetector}. */
export interface SpikeDetectorOptions {
  /** Steps of history the baseline is learned from. @default 60 */
  readonly baselineSteps?: number;
  /** Steps with traffic from the gateway needed in the window before it is judged. @default 10 */
  readonly warmUpSteps?: number;
  /** Policy lookup. @default policyFor (catalog defaults) */
  readonly policy?: (cause: string) => SpikePolicy | null;
}

export class SpikeDetector {
  readonly #baselineSteps: number;
  readonly #warmUpSteps: number;
  readonly #policy: (cause: string) => SpikePolicy | null;
  /** gateway → step → total count. */
  readonly #totals = new Map<string, Map<number, number>>();
  /** gateway\0cause → step → count. */
  readonly #counts = new Map<string, Map<number, number>>();
  readonly #states = new Map<string, SeriesState>();

  constructor(options: SpikeDetectorOptions = {}) {
    this.#baselineSteps = options.baselineSteps ?? 60;
    this.#warmUpSteps = Math.min(options.warmUpSteps ?? 10, this.#baselineSteps);
    this.#policy = options.policy ?? ((c) => policyFor(c));
  }

  /** Adds `count` requests of `cause` at `gateway` in `step` (history from rollups, or live counts). */
  add(step: number, gateway: string, cause: string, count: number): void {
    if (count <= 0) return;
    bump(this.#totals, gateway, step, count);
    if (this.#policy(cause)) bump(this.#counts, `${gateway}\u0000${cause}`, step, count);
  }

  /** Alerts firing now. */
  active(): SpikeAlert[] {
    return [...this.#states.values()].flatMap((s) => (s.firing ? [s.firing] : []));
  }

  /**
   * Evaluates the closed step `step` for every series and returns what changed. Call once per step,
   * in order; history older than the baseline window is dropped.
   */
  evaluate(step: number): SpikeTransition[] {
    const out: SpikeTransition[] = [];
    const from = step - this.#baselineSteps;
    for (const [key, series] of this.#counts) {
      const [gateway = "", cause = ""] = key.split("\u0000");
      const policy = this.#policy(cause);
      const info = CATALOG.get(cause);
      if (!policy || !info) continue;
      const totals = this.#totals.get(gateway) ?? new Map<number, number>();
      const count = series.get(step) ?? 0;
      const total = totals.get(step) ?? 0;
      const state = this.#states.get(key) ?? { hot: 0, cool: 0, firing: null };
      const window: number[] = [];
      let windowCause = 0;
      let windowTotal = 0;
      let seen = 0;
      for (let s = from; s < step - (policy.fireAfter - 1); s++) {
        const c = series.get(s) ?? 0;
        window.push(c);
        windowCause += c;
        const t = totals.get(s) ?? 0;
        windowTotal += t;
        if (t > 0) seen++;
      }
      // Without enough history of the gateway there is no baseline to judge against: stay quiet.
      const warm = seen >= this.#warmUpSteps;
      const learned = median(window);
      const baseline = state.firing ? state.firing.baseline : learned;
      const baselineShare = state.firing
        ? state.firing.baselineShare
        : windowTotal > 0
          ? windowCause / windowTotal
          : 0;
      const spread = Math.max(1.4826 * mad(window, learned), Math.sqrt(baseline), 1);
      const share = total > 0 ? count / total : 0;
      const threshold = Math.max(policy.floor, policy.factor * baseline, baseline + policy.z * spread);
      const hot =
        warm && count >= threshold && (baselineShare === 0 || share >= policy.shareFactor * baselineShare);
      const numbers = { step, count, share, gateway, cause, origin: info.origin, severity: info.severity };
      if (!state.firing) {
        state.hot = hot ? state.hot + 1 : 0;
        if (state.hot >= policy.fireAfter) {
          state.firing = { ...numbers, startedAt: step - (policy.fireAfter - 1), baseline, baselineShare };
          state.cool = 0;
          out.push({ state: "firing", alert: state.firing });
        }
      } else {
        // Hysteresis: cool means back in the lower half between baseline and threshold, not merely under it.
        const cool = count <= baseline + (threshold - baseline) / 2;
        state.cool = cool ? state.cool + 1 : 0;
        state.firing = { ...state.firing, step, count, share };
        if (state.cool >= policy.resolveAfter) {
          out.push({ state: "resolved", alert: state.firing });
          state.firing = null;
          state.hot = 0;
        }
      }
      this.#states.set(key, state);
    }
    this.#prune(from);
    return out;
  }

  #prune(before: number): void {
    for (const m of [this.#totals, this.#counts])
      for (const [key, steps] of m) {
        for (const s of steps.keys()) if (s < before) steps.delete(s);
        if (steps.size === 0 && !this.#states.get(key)?.firing) m.delete(key);
      }
    for (const [key, state] of this.#states)
      if (!state.firing && state.hot === 0 && !this.#counts.has(key)) this.#states.delete(key);
  }
}

function bump(m: Map<string, Map<number, number>>, key: string, step: number, n: number): void {
  let steps = m.get(key);
  if (!steps) m.set(key, (steps = new Map<number, number>()));
  steps.set(step, (steps.get(step) ?? 0) + n);
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function mad(xs: readonly number[], m: number): number {
  return median(xs.map((x) => Math.abs(x - m)));
}
