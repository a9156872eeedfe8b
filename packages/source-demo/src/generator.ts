/**
 * The demo generator: a pure function from (options, tick) to Event Hubs bodies. Tick `n` covers
 * simulated time [start + n·L, start + (n+1)·L) with L = tickMs × speed; everything drawn for it
 * comes from a PRNG seeded by (seed, n), so any tick can be regenerated alone, in any order.
 */
import { GatewatchError } from "@gatewatch/pipeline";
import { DEMO_INCIDENTS, type DemoIncident, type DemoIncidentId } from "./incidents.js";
import { Rng, seedFor } from "./random.js";
import { renderPerformance, type JsonRecord } from "./render.js";
import { buildTopology, MAX_GATEWAYS, type AppModel, type GatewayModel, type Topology } from "./topology.js";
import { TrafficModel, type GatewayOutput } from "./traffic.js";

/** Options of {@link createDemoGenerator}. */
export interface DemoOptions {
  /**
   * Seed of every random choice; same seed and options give byte-identical output.
   * @default 1
   */
  readonly seed?: number;
  /**
   * Mean records per simulated second over a day (the hourly curve swings between 0.4× and 1.6×).
   * Real output is this × `speed`.
   * @default 200
   */
  readonly ratePerSecond?: number;
  /**
   * Number of gateways (1–30). They cycle through three profiles: a WAF_v2 shop, a WAF_v2 partner
   * gateway (mTLS API, downloads, TCP listener) and a v1 intranet gateway.
   * @default 3
   */
  readonly gateways?: number;
  /**
   * Incidents to schedule, by id ({@link DEMO_INCIDENTS}); `[]` for none.
   * @default every incident
   */
  readonly incidents?: readonly DemoIncidentId[];
  /**
   * An incident starts every this many simulated seconds, the first one period after the start;
   * incidents cycle through `incidents` in order.
   * @default 300
   */
  readonly incidentPeriodSeconds?: number;
  /**
   * How long each incident lasts, simulated seconds (at most the period).
   * @default 60
   */
  readonly incidentDurationSeconds?: number;
  /**
   * Real milliseconds per tick.
   * @default 250
   */
  readonly tickMs?: number;
  /**
   * Simulated clock at tick 0, epoch milliseconds.
   * @default Date.now() when the generator is created
   */
  readonly startTimeMs?: number;
  /**
   * Simulated seconds per real second.
   * @default 1
   */
  readonly speed?: number;
  /**
   * Most records in one body (each body holds 1..this many).
   * @default 40
   */
  readonly maxRecordsPerBody?: number;
}

/** {@link DemoOptions} with every default applied. */
export type ResolvedDemoOptions = { readonly [K in keyof DemoOptions]-?: NonNullable<DemoOptions[K]> };

/** One Event Hubs body before serialisation. */
export interface DemoEnvelope {
  readonly records: JsonRecord[];
}

/** A gateway of the simulated estate. */
export interface DemoGatewayInfo {
  /** Lower-case name, as the normaliser derives it from `resourceId`. */
  readonly name: string;
  readonly resourceId: string;
  readonly sku: "v1" | "v2";
}

/** A pure, seeded generator of Application Gateway diagnostic bodies. */
export interface DemoGenerator {
  readonly options: ResolvedDemoOptions;
  readonly gateways: readonly DemoGatewayInfo[];
  /** Serialised bodies of tick `tick` (UTF-8 JSON, each in its own ArrayBuffer). */
  bodiesAt(tick: number): Uint8Array[];
  /** The same bodies as objects. */
  envelopesAt(tick: number): DemoEnvelope[];
  /** Simulated time range of a tick, epoch ms, `[startMs, endMs)`. */
  tickRange(tick: number): { readonly startMs: number; readonly endMs: number };
  /** The incident active at a simulated time, if any. */
  incidentAt(timeMs: number): DemoIncident | null;
}

/** Most records one tick may hold; beyond this a tick's bodies would take too much memory at once. */
export const MAX_RECORDS_PER_TICK = 200_000;

const PEAK_FACTOR = 1.6 * 1.1;

function invalid(problems: string[]): GatewatchError {
  return new GatewatchError("demo_options_invalid", `invalid demo options: ${problems.join("; ")}`);
}

/** Applies defaults and validates; throws a `GatewatchError` (`demo_options_invalid`) listing every problem. */
export function resolveDemoOptions(opts: DemoOptions = {}): ResolvedDemoOptions {
  const o: ResolvedDemoOptions = {
    seed: opts.seed ?? 1,
    ratePerSecond: opts.ratePerSecond ?? 200,
    gateways: opts.gateways ?? 3,
    incidents: opts.incidents ?? DEMO_INCIDENTS.map((i) => i.id),
    incidentPeriodSeconds: opts.incidentPeriodSeconds ?? 300,
    incidentDurationSeconds: opts.incidentDurationSeconds ?? 60,
    tickMs: opts.tickMs ?? 250,
    startTimeMs: opts.startTimeMs ?? Date.now(),
    speed: opts.speed ?? 1,
    maxRecordsPerBody: opts.maxRecordsPerBody ?? 40,
  };
  const problems: string[] = [];
  const positive = (key: keyof ResolvedDemoOptions, v: number): void => {
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
      problems.push(`${key} must be a positive number, got ${String(v)}`);
  };
  const integer = (key: keyof ResolvedDemoOptions, v: number, min: number, max: number): void => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
      problems.push(`${key} must be an integer in ${min}..${max}, got ${String(v)}`);
  };
  if (typeof o.seed !== "number" || !Number.isSafeInteger(o.seed))
    problems.push(`seed must be an integer, got ${String(o.seed)}`);
  positive("ratePerSecond", o.ratePerSecond);
  integer("gateways", o.gateways, 1, MAX_GATEWAYS);
  positive("incidentPeriodSeconds", o.incidentPeriodSeconds);
  positive("incidentDurationSeconds", o.incidentDurationSeconds);
  if (o.incidentDurationSeconds > o.incidentPeriodSeconds) {
    problems.push(
      `incidentDurationSeconds (${o.incidentDurationSeconds}) must not exceed incidentPeriodSeconds (${o.incidentPeriodSeconds})`,
    );
  }
  integer("tickMs", o.tickMs, 1, 3_600_000);
  if (typeof o.startTimeMs !== "number" || !Number.isFinite(o.startTimeMs))
    problems.push(`startTimeMs must be a finite number, got ${String(o.startTimeMs)}`);
  positive("speed", o.speed);
  integer("maxRecordsPerBody", o.maxRecordsPerBody, 1, 10_000);
  const incidents: unknown = o.incidents;
  if (!Array.isArray(incidents)) problems.push("incidents must be an array of incident ids");
  else {
    const known = new Set<string>(DEMO_INCIDENTS.map((i) => i.id));
    const seen = new Set<string>();
    for (const id of incidents as unknown[]) {
      if (typeof id !== "string" || !known.has(id))
        problems.push(`unknown incident ${JSON.stringify(id)} (known: ${[...known].join(", ")})`);
      else if (seen.has(id)) problems.push(`incident ${id} listed twice`);
      else seen.add(id);
    }
  }
  if (problems.length === 0) {
    const peak = o.ratePerSecond * PEAK_FACTOR * (o.tickMs / 1000) * o.speed;
    if (peak > MAX_RECORDS_PER_TICK) {
      problems.push(
        `ratePerSecond × speed × tickMs gives up to ${Math.round(peak)} records per tick (limit ${MAX_RECORDS_PER_TICK}); lower tickMs`,
      );
    }
  }
  if (problems.length > 0) throw invalid(problems);
  return o;
}

/** Relative traffic at a simulated time: a daily curve peaking at 14:00 UTC, trough at 02:00. */
export function trafficCurve(timeMs: number): number {
  const hour = (((timeMs / 3_600_000) % 24) + 24) % 24;
  return 1 + 0.6 * Math.cos((2 * Math.PI * (hour - 14)) / 24);
}

const encoder = new TextEncoder();

/** Creates a generator. Throws a `GatewatchError` (`demo_options_invalid`) on nonsense options. */
export function createDemoGenerator(opts: DemoOptions = {}): DemoGenerator {
  const o = resolveDemoOptions(opts);
  const topo: Topology = buildTopology(o.seed, o.gateways);
  const tickSimMs = o.tickMs * o.speed;
  const periodMs = o.incidentPeriodSeconds * 1000;
  const durationMs = o.incidentDurationSeconds * 1000;
  const enabled: DemoIncident[] = o.incidents.map(
    (id) => DEMO_INCIDENTS.find((i) => i.id === id) as DemoIncident,
  );

  // Each incident hits the first gateway that publishes its application.
  const targetOf = new Map<DemoIncidentId, { g: GatewayModel; app: AppModel }>();
  for (const inc of DEMO_INCIDENTS) {
    for (const g of topo.gateways) {
      const app = g.apps.find((a) => a.key === inc.app);
      if (app) {
        targetOf.set(inc.id, { g, app });
        break;
      }
    }
  }

  /** Schedule slot covering `timeMs` (k-th incident, 0-based), or -1. */
  function slotAt(timeMs: number): number {
    if (enabled.length === 0) return -1;
    const off = timeMs - o.startTimeMs;
    if (off < 0) return -1;
    const k = Math.floor(off / periodMs) - 1;
    if (k < 0 || off - (k + 1) * periodMs >= durationMs) return -1;
    return k;
  }

  function incidentAt(timeMs: number): DemoIncident | null {
    const k = slotAt(timeMs);
    return k < 0 ? null : (enabled[k % enabled.length] ?? null);
  }

  function tickRange(tick: number): { startMs: number; endMs: number } {
    return { startMs: o.startTimeMs + tick * tickSimMs, endMs: o.startTimeMs + (tick + 1) * tickSimMs };
  }

  function envelopesAt(tick: number): DemoEnvelope[] {
    if (!Number.isSafeInteger(tick) || tick < 0)
      throw new GatewatchError("demo_tick_invalid", `tick must be a non-negative integer, got ${tick}`);
    const rng = new Rng(seedFor(o.seed, tick));
    const traffic = new TrafficModel(topo, rng);
    const { startMs, endMs } = tickRange(tick);
    const span = endMs - startMs;
    const expected =
      o.ratePerSecond * trafficCurve(startMs + span / 2) * (span / 1000) * (0.9 + 0.2 * rng.next());
    const n = Math.floor(expected + rng.next());

    const outputs: GatewayOutput[] = topo.gateways.map(() => ({ access: [], firewall: [] }));
    const produced = new Map<DemoIncidentId, number>();
    const count = (id: DemoIncidentId): void => {
      produced.set(id, (produced.get(id) ?? 0) + 1);
    };

    // Sorted uniform times from normalised exponential spacings (order statistics in O(n)).
    const gaps = new Float64Array(n + 1);
    let total = 0;
    for (let i = 0; i <= n; i += 1) {
      const e = -Math.log(1 - rng.next());
      gaps[i] = e;
      total += e;
    }
    let acc = 0;
    for (let i = 0; i < n; i += 1) {
      acc += gaps[i] as number;
      const t = startMs + (span * acc) / total;
      const g = topo.gateways[rng.weighted(topo.gatewayCum)] as GatewayModel;
      const out = outputs[g.index] as GatewayOutput;
      const slot = slotAt(t);
      const inc = slot < 0 ? null : (enabled[slot % enabled.length] as DemoIncident);
      const target = inc ? targetOf.get(inc.id) : undefined;
      const active = inc && target && target.g === g ? inc.id : null;

      // Additive incident traffic rides on the target gateway's normal traffic.
      if (active === "waf_attack" && target && rng.chance(0.35)) {
        traffic.wafAttack(g, target.app, t, out, slot);
        count("waf_attack");
      } else if (active === "missing_listener" && rng.chance(0.15)) {
        traffic.noListener(g, t, out, "shop.contoso.com");
        count("missing_listener");
      } else if (active === "aborted_downloads" && target && rng.chance(0.25)) {
        if (traffic.request(g, target.app, t, out, active) === "aborted_downloads")
          count("aborted_downloads");
      }

      const r = rng.next();
      if (g.sku === "v2" && r < 0.0005) {
        traffic.internalProbe(g, g.apps[0] as AppModel, t, out);
        continue;
      }
      if (g.wafMode === "Prevention" && r < 0.003) {
        const www = g.apps.find((a) => a.kind === "web");
        if (www) {
          traffic.scan(g, www, t, out);
          continue;
        }
      }
      if (g.sku === "v2" && r < 0.005 && g.apps.some((a) => a.kind === "web")) {
        traffic.noListener(g, t, out, null);
        continue;
      }
      const app = g.apps[rng.weighted(g.appCum)] as AppModel;
      const made = traffic.request(g, app, t, out, active);
      if (made) count(made);
    }

    // However low the rate, every incident overlapping this tick shows at least one record.
    if (enabled.length > 0) {
      const first = Math.max(0, Math.floor((startMs - o.startTimeMs) / periodMs) - 1);
      const last = Math.floor((endMs - o.startTimeMs) / periodMs) - 1;
      for (let k = first; k <= last; k += 1) {
        const inc = enabled[k % enabled.length] as DemoIncident;
        const target = targetOf.get(inc.id);
        if (!target || (produced.get(inc.id) ?? 0) > 0) continue;
        const from = Math.max(startMs, o.startTimeMs + (k + 1) * periodMs);
        const to = Math.min(endMs, o.startTimeMs + (k + 1) * periodMs + durationMs);
        if (from >= to) continue;
        const out = outputs[target.g.index] as GatewayOutput;
        for (let attempt = 0; attempt < 50 && (produced.get(inc.id) ?? 0) === 0; attempt += 1) {
          const t = from + rng.next() * (to - from);
          if (inc.id === "waf_attack") {
            traffic.wafAttack(target.g, target.app, t, out, k);
            count(inc.id);
          } else if (inc.id === "missing_listener") {
            traffic.noListener(target.g, t, out, "shop.contoso.com");
            count(inc.id);
          } else if (traffic.request(target.g, target.app, t, out, inc.id) === inc.id) {
            count(inc.id);
          }
        }
      }
    }

    const envelopes: DemoEnvelope[] = [];
    const chunk = (records: JsonRecord[]): void => {
      for (let i = 0; i < records.length;) {
        const size = rng.int(1, o.maxRecordsPerBody);
        envelopes.push({ records: records.slice(i, i + size) });
        i += size;
      }
    };
    for (const g of topo.gateways) {
      const out = outputs[g.index] as GatewayOutput;
      chunk(out.access);
      chunk(out.firewall);
      if (g.sku === "v1") {
        // v1 writes one performance record per instance per minute.
        const perf: JsonRecord[] = [];
        const perMinute =
          (o.ratePerSecond * 60 * g.weight) /
          ((topo.gatewayCum[topo.gatewayCum.length - 1] ?? 1) * g.instances.length);
        for (let m = Math.ceil(startMs / 60_000) * 60_000; m < endMs; m += 60_000) {
          for (const instanceId of g.instances) {
            const requests = Math.max(0, Math.round(perMinute * trafficCurve(m) * (0.85 + 0.3 * rng.next())));
            perf.push(
              renderPerformance(g, m, instanceId, {
                healthy: g.apps.reduce((s, a) => s + a.backends.length, 0),
                unhealthy: 0,
                requests,
                latencyMs: rng.int(60, 260),
                failed: Math.round(requests * 0.004 * rng.next()),
                throughput: Math.round((requests * 52_000) / 60),
              }),
            );
          }
        }
        chunk(perf);
      }
    }
    return envelopes;
  }

  const escapes = new Set(topo.gateways.filter((g) => g.escapeSlashes).map((g) => g.resourceId));

  function bodiesAt(tick: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    const envelopes = envelopesAt(tick);
    // Every body holds one gateway's records; its first record says which gateway.
    for (const env of envelopes) {
      let json = JSON.stringify(env);
      const first = env.records[0];
      const rid = first ? (first["resourceId"] as string) : "";
      if (escapes.has(rid)) json = json.replaceAll("/", "\\/");
      // TextEncoder gives each body its own ArrayBuffer, so it can be transferred to a worker.
      out.push(encoder.encode(json));
    }
    return out;
  }

  return {
    options: o,
    gateways: topo.gateways.map((g) => ({ name: g.name, resourceId: g.resourceId, sku: g.sku })),
    bodiesAt,
    envelopesAt,
    tickRange,
    incidentAt,
  };
}
