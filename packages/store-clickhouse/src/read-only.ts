import { GatewatchError } from "@gatewatch/pipeline";

const READ_ONLY_START = /^(select|with|show|describe|desc|explain|exists)\b/i;

/**
 * Accepts exactly one read-only statement and returns it without a trailing semicolon. The check is
 * lexical (comments and string literals are skipped) because the embedded engine runs several
 * statements separated by `;` and cannot take `readonly=1` without keeping it for the session.
 */
export function assertReadOnlySql(sql: string): string {
  const code = stripLiterals(sql).trim();
  const body = code.replace(/;\s*$/, "");
  if (body.includes(";")) throw refuse("only one statement is allowed");
  if (!READ_ONLY_START.test(body))
    throw refuse("only SELECT, WITH, SHOW, DESCRIBE, EXPLAIN and EXISTS are allowed");
  if (/\bINTO\s+OUTFILE\b/i.test(body)) throw refuse("INTO OUTFILE is not allowed");
  return sql.trim().replace(/;\s*$/, "");
}

function refuse(why: string): GatewatchError {
  return new GatewatchError("query_not_read_only", `query refused: ${why}`);
}

/** Replaces comments and quoted literals with spaces so keywords and `;` inside them are ignored. */
function stripLiterals(sql: string): string {
  let out = "";
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === "-" && next === "-") {
      while (i < sql.length && sql[i] !== "\n") i++;
      out += " ";
    } else if (c === "/" && next === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end === -1 ? sql.length : end + 2;
      out += " ";
    } else if (c === "'" || c === '"' || c === "`") {
      i++;
      while (i < sql.length && sql[i] !== c) i += sql[i] === "\\" ? 2 : 1;
      i++;
      out += " x ";
    } else {
      out += c;
      i++;
    }
  }
  return out;
}
