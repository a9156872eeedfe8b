/**
 * The one error base of gatewatch. Callers branch on `code` (stable, snake_case) and `retriable`,
 * never on message text.
 */
export class GatewatchError extends Error {
  /** Stable machine-readable code, e.g. `config_invalid`, `store_unavailable`. */
  readonly code: string;
  /** True when the same operation may succeed if tried again later. */
  readonly retriable: boolean;

  constructor(code: string, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "GatewatchError";
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** True for a {@link GatewatchError} with the given code. */
export function isGatewatchError(err: unknown, code?: string): err is GatewatchError {
  return err instanceof GatewatchError && (code === undefined || err.code === code);
}
