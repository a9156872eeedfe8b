/**
 * Caps the distinct values one label may take. The first `cap` values seen keep their name; later
 * ones become `other`, and the overflow counter records how often that happened. Bounded memory
 * whatever the input: at most `cap` values are remembered per label.
 */
export class LabelCap {
  readonly #seen = new Set<string>();

  constructor(
    readonly label: string,
    readonly cap: number,
    private readonly onOverflow: (label: string, n: number) => void,
  ) {}

  /** The value to use for `value`, counting `n` occurrences toward the overflow counter when capped. */
  apply(value: string, n = 1): string {
    if (this.#seen.has(value)) return value;
    if (this.#seen.size < this.cap) {
      this.#seen.add(value);
      return value;
    }
    this.onOverflow(this.label, n);
    return OTHER;
  }
}

/** The value capped labels collapse to. */
export const OTHER = "other";
