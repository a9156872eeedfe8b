import { describe, expect, it } from "vitest";
import {
  SpikeDetector,
  parsePolicyOverrides,
  policyFor,
  type SpikeTransition,
} from "../src/spike-detector.js";

const GW = "agw-prod";
const CAUSE = "no_healthy_backend"; // backend, critical: floor 5/step, factor 3, 2 steps to fire, 3 to resolve

/** Feeds steps [from, to) with `success` and `cause` counts and evaluates each; returns the transitions. */
function run(
  d: SpikeDetector,
  from: number,
  to: number,
  counts: (step: number) => { success: number; cause: number },
): SpikeTransition[] {
  const out: SpikeTransition[] = [];
  for (let s = from; s < to; s++) {
    const c = counts(s);
    d.add(s, GW, "success", c.success);
    d.add(s, GW, CAUSE, c.cause);
    out.push(...d.evaluate(s));
  }
  return out;
}

/** Deterministic noise in [-1, 1]. */
const noise = (s: number) => Math.sin(s * 12.9898) * 0.5 + Math.sin(s * 78.233) * 0.5;

describe("SpikeDetector", () => {
  it("fires on a real spike after two hot steps, with the numbers, and resolves after three cool ones", () => {
    const d = new SpikeDetector();
    const steady = (s: number) => ({
      success: 1000 + Math.round(50 * noise(s)),
      cause: 2 + (s % 3 === 0 ? 1 : 0),
    });
    expect(run(d, 0, 60, steady)).toEqual([]);
    const spike = run(d, 60, 65, (s) => ({ ...steady(s), cause: 80 }));
    expect(spike).toHaveLength(1);
    const fired = spike[0]!;
    expect(fired.state).toBe("firing");
    expect(fired.alert).toMatchObject({ gateway: GW, cause: CAUSE, origin: "backend", severity: "critical" });
    expect(fired.alert.startedAt).toBe(60);
    expect(fired.alert.step).toBe(61);
    expect(fired.alert.count).toBe(80);
    expect(fired.alert.baseline).toBe(2);
    expect(d.active()).toHaveLength(1);
    // Two cool steps are not enough (hysteresis), the third resolves.
    expect(run(d, 65, 67, steady)).toEqual([]);
    const resolved = run(d, 67, 68, steady);
    expect(resolved.map((t) => t.state)).toEqual(["resolved"]);
    expect(d.active()).toEqual([]);
  });

  it("does not fire on a single hot step", () => {
    const d = new SpikeDetector();
    run(d, 0, 60, () => ({ success: 1000, cause: 2 }));
    expect(run(d, 60, 70, (s) => ({ success: 1000, cause: s === 60 ? 100 : 2 }))).toEqual([]);
  });

  it("stays quiet on steady high traffic with a high but normal error level", () => {
    const d = new SpikeDetector();
    expect(
      run(d, 0, 300, (s) => ({
        success: 50_000 + Math.round(2000 * noise(s)),
        cause: 400 + Math.round(40 * noise(s + 7)),
      })),
    ).toEqual([]);
  });

  it("stays quiet on a slow daily ramp where errors grow with traffic", () => {
    const d = new SpikeDetector();
    // Traffic grows tenfold over six hours; the cause keeps its share.
    const ramp = (s: number) => {
      const traffic = 500 * (1 + (9 * s) / 360);
      return { success: Math.round(traffic), cause: Math.round(traffic / 100 + 2 * noise(s)) };
    };
    expect(run(d, 0, 360, ramp)).toEqual([]);
  });

  it("stays quiet on a 3 a.m. trickle where a few errors are most of the traffic", () => {
    const d = new SpikeDetector();
    expect(run(d, 0, 120, (s) => ({ success: s % 4, cause: s % 7 === 0 ? 3 : s % 2 }))).toEqual([]);
  });

  it("stays quiet when all traffic surges at once (a backlog catching up)", () => {
    const d = new SpikeDetector();
    run(d, 0, 60, () => ({ success: 1000, cause: 10 }));
    expect(run(d, 60, 65, () => ({ success: 20_000, cause: 200 }))).toEqual([]);
  });

  it("keeps firing through a long outage: the baseline is frozen while it fires", () => {
    const d = new SpikeDetector();
    run(d, 0, 60, () => ({ success: 1000, cause: 2 }));
    const during = run(d, 60, 200, () => ({ success: 1000, cause: 60 }));
    expect(during.map((t) => t.state)).toEqual(["firing"]);
    expect(d.active()).toHaveLength(1);
  });

  it("survives a restart: history seeded from the rollups gives the same decision", () => {
    const history = (s: number) => ({ success: 1000, cause: 2 + (s % 2) });
    const seeded = new SpikeDetector();
    // The service rebuilds the last hour from requests_1m without evaluating it.
    for (let s = 0; s < 60; s++) {
      seeded.add(s, GW, "success", history(s).success);
      seeded.add(s, GW, CAUSE, history(s).cause);
    }
    const fresh = new SpikeDetector();
    const spike = (s: number) => ({ ...history(s), cause: 40 });
    expect(run(seeded, 60, 62, spike).map((t) => t.state)).toEqual(["firing"]);
    // Without history a restarted detector has nothing to judge against and stays quiet (warm-up).
    expect(run(fresh, 60, 62, spike)).toEqual([]);
    expect(run(seeded, 62, 63, spike)).toEqual([]);
  });

  it("never alerts on normal traffic or the gateway's own housekeeping", () => {
    expect(policyFor("success")).toBeNull();
    expect(policyFor("internal_traffic")).toBeNull();
    expect(policyFor("no_healthy_backend")).toMatchObject({ floor: 5, factor: 3 });
    expect(policyFor("waf_block")).toMatchObject({ floor: 20, factor: 4 });
  });
});

describe("parsePolicyOverrides", () => {
  it("overrides by origin, then by cause, and can switch a cause off", () => {
    const o = parsePolicyOverrides(
      "origin=client:floor=100,factor=6; client_closed_connection:for=5; redirect_found:off",
    );
    expect(policyFor("malformed_request", o)).toMatchObject({ floor: 100, factor: 6, fireAfter: 2 });
    expect(policyFor("client_closed_connection", o)).toMatchObject({ floor: 100, factor: 6, fireAfter: 5 });
    expect(policyFor("redirect_found", o)).toBeNull();
    expect(policyFor("no_healthy_backend", o)).toMatchObject({ floor: 5 });
  });

  it("names the bad entry", () => {
    expect(() => parsePolicyOverrides("no_such_cause:floor=1")).toThrow(/no_such_cause/);
    expect(() => parsePolicyOverrides("waf_block:flor=1")).toThrow(/"flor=1" is not one of/);
    expect(() => parsePolicyOverrides("waf_block:floor=-1")).toThrow(/floor=-1/);
  });
});
