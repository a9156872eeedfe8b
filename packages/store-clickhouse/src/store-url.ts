import { GatewatchError } from "@gatewatch/pipeline";

/** Where the store lives: an embedded chdb directory or a ClickHouse server over HTTP(S). */
export type StoreTarget =
  | { readonly kind: "embedded"; readonly dir: string; readonly database: string }
  | {
      readonly kind: "http";
      /** Server URL without credentials and path, e.g. `https://ch.example:8443`. */
      readonly url: string;
      readonly username: string;
      readonly password: string;
      readonly database: string;
    };

/** Database used by the embedded store (and by a server URL without a path). */
export const DEFAULT_DATABASE = "gatewatch";

/**
 * Parses `embedded:<dir>` or `http(s)://user:password@host:port/database`.
 * Throws `config_invalid` with the expectation in the message.
 */
export function parseStoreUrl(value: string): StoreTarget {
  if (value.startsWith("embedded:")) {
    const dir = value.slice("embedded:".length);
    if (dir === "") throw invalid(value, "embedded:<dir> needs a directory");
    return { kind: "embedded", dir, database: DEFAULT_DATABASE };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(value, "expected embedded:<dir> or http(s)://user:password@host:port/database");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw invalid(value, "expected embedded:<dir> or http(s)://user:password@host:port/database");
  }
  const database = decodeURIComponent(url.pathname.replace(/^\/+|\/+$/g, "")) || DEFAULT_DATABASE;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database))
    throw invalid(value, `database name "${database}" must be an identifier`);
  return {
    kind: "http",
    url: `${url.protocol}//${url.host}`,
    username: decodeURIComponent(url.username) || "default",
    password: decodeURIComponent(url.password),
    database,
  };
}

/** The target as text safe for logs (password hidden). */
export function describeStore(target: StoreTarget): string {
  return target.kind === "embedded"
    ? `embedded:${target.dir}`
    : `${target.url.replace("//", `//${target.username}:***@`)}/${target.database}`;
}

function invalid(value: string, expectation: string): GatewatchError {
  const shown = value.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
  return new GatewatchError("config_invalid", `store must be ${expectation}, got "${shown}"`);
}
