/**
 * Seeded pseudo-random numbers. mulberry32: 32-bit state, fast, statistically fine for synthetic
 * traffic, not for anything secret. Every draw goes through one {@link Rng} so output is a pure
 * function of the seed.
 */

/** Mixes two 32-bit values into a well-spread 32-bit seed (murmur3 finaliser). */
export function mixSeed(a: number, b: number): number {
  let h = (Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Seed for a non-negative integer that may exceed 32 bits (tick numbers). */
export function seedFor(seed: number, n: number): number {
  const hi = Math.floor(n / 0x1_0000_0000);
  return mixSeed(mixSeed(seed >>> 0, n >>> 0), hi >>> 0);
}

const HEX = "0123456789abcdef";

/** A deterministic stream of random values. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element, uniformly. `items` must not be empty. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Index into a cumulative-weight table (see {@link cumulative}). */
  weighted(cum: readonly number[]): number {
    const total = cum[cum.length - 1] ?? 0;
    const r = this.next() * total;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cum[mid] ?? 0) > r) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Log-normal around `median` with spread `sigma`. */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  /** `n` lower-case hex digits. */
  hex(n: number): string {
    let s = "";
    while (s.length < n)
      s += Math.floor(this.next() * 0x1_0000_0000)
        .toString(16)
        .padStart(8, "0");
    return s.length === n ? s : s.slice(0, n);
  }

  /** A lower-case GUID (8-4-4-4-12). */
  guid(): string {
    return `${this.hex(8)}-${this.hex(4)}-4${this.hex(3)}-${HEX[8 + this.int(0, 3)]}${this.hex(3)}-${this.hex(12)}`;
  }
}

/** Cumulative sums of `weights`, for {@link Rng.weighted}. */
export function cumulative(weights: readonly number[]): number[] {
  const out: number[] = [];
  let sum = 0;
  for (const w of weights) {
    sum += w;
    out.push(sum);
  }
  return out;
}
