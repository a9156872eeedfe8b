/**
 * OWASP CRS 3.2 rules the simulated WAF reports, with the wording Application Gateway logs for them.
 * Scores follow CRS anomaly scoring: critical 5, warning 3, notice 2; 5 or more triggers 949110.
 */
import type { WafHit } from "./render.js";

interface RuleDef {
  readonly ruleId: string;
  readonly ruleGroup: string;
  readonly message: string;
  readonly file: string;
  readonly line: string;
  readonly score: number;
  /** `details.message`, given the variable that matched. */
  readonly details: (variable: string) => string;
}

const F920 = "rules/REQUEST-920-PROTOCOL-ENFORCEMENT.conf";
const F913 = "rules/REQUEST-913-SCANNER-DETECTION.conf";
const F930 = "rules/REQUEST-930-APPLICATION-ATTACK-LFI.conf";
const F932 = "rules/REQUEST-932-APPLICATION-ATTACK-RCE.conf";
const F941 = "rules/REQUEST-941-APPLICATION-ATTACK-XSS.conf";
const F942 = "rules/REQUEST-942-APPLICATION-ATTACK-SQLI.conf";

/** Rules by id. */
export const WAF_RULES = {
  r913100: {
    ruleId: "913100",
    ruleGroup: "REQUEST-913-SCANNER-DETECTION",
    message: "Found User-Agent associated with security scanner",
    file: F913,
    line: "33",
    score: 5,
    details: (v) => `Warning. Matched phrase at ${v}. `,
  },
  r920320: {
    ruleId: "920320",
    ruleGroup: "REQUEST-920-PROTOCOL-ENFORCEMENT",
    message: "Missing User Agent Header",
    file: F920,
    line: "1281",
    score: 2,
    details: () =>
      'Warning. Match of "pm AppleWebKit Android" against "REQUEST_HEADERS:User-Agent" required. ',
  },
  r930110: {
    ruleId: "930110",
    ruleGroup: "REQUEST-930-APPLICATION-ATTACK-LFI",
    message: "Path Traversal Attack (/../)",
    file: F930,
    line: "58",
    score: 5,
    details: (v) => `Warning. Matched phrase at ${v}. `,
  },
  r930120: {
    ruleId: "930120",
    ruleGroup: "REQUEST-930-APPLICATION-ATTACK-LFI",
    message: "OS File Access Attempt",
    file: F930,
    line: "86",
    score: 5,
    details: (v) => `Warning. Matched phrase "etc/passwd" at ${v}. `,
  },
  r930130: {
    ruleId: "930130",
    ruleGroup: "REQUEST-930-APPLICATION-ATTACK-LFI",
    message: "Restricted File Access Attempt",
    file: F930,
    line: "114",
    score: 5,
    details: (v) => `Warning. Matched phrase at ${v}. `,
  },
  r932160: {
    ruleId: "932160",
    ruleGroup: "REQUEST-932-APPLICATION-ATTACK-RCE",
    message: "Remote Command Execution: Unix Shell Code Found",
    file: F932,
    line: "496",
    score: 5,
    details: (v) => `Warning. Matched phrase "bin/sh" at ${v}. `,
  },
  r941100: {
    ruleId: "941100",
    ruleGroup: "REQUEST-941-APPLICATION-ATTACK-XSS",
    message: "XSS Attack Detected via libinjection",
    file: F941,
    line: "55",
    score: 5,
    details: (v) => `Warning. detected XSS using libinjection. at ${v}. `,
  },
  r942100: {
    ruleId: "942100",
    ruleGroup: "REQUEST-942-APPLICATION-ATTACK-SQLI",
    message: "SQL Injection Attack Detected via libinjection",
    file: F942,
    line: "45",
    score: 5,
    details: (v) => `Warning. detected SQLi using libinjection with fingerprint 's&1c' at ${v}. `,
  },
  r942190: {
    ruleId: "942190",
    ruleGroup: "REQUEST-942-APPLICATION-ATTACK-SQLI",
    message: "Detects MSSQL code execution and information gathering attempts",
    file: F942,
    line: "183",
    score: 5,
    details: (v) =>
      `Warning. Pattern match "(?i:(?:[\\"'\`](?:;?\\\\s*?(?:having|select|union)\\\\b\\\\s*?[^\\\\s]|\\\\s*?!\\\\s*?[\\"'\`\\\\w])..." at ${v}. `,
  },
  r942200: {
    ruleId: "942200",
    ruleGroup: "REQUEST-942-APPLICATION-ATTACK-SQLI",
    message: "Detects MySQL comment-/space-obfuscated injections and backtick termination",
    file: F942,
    line: "226",
    score: 3,
    details: (v) =>
      `Warning. Pattern match "(?i:,.*?[)\\\\da-f\\"'\`][\\"'\`](?:[\\"'\`].*?[\\"'\`]|(?:\\\\r?\\\\n)?\\\\z|[^\\"'\`]+)..." at ${v}. `,
  },
  r942260: {
    ruleId: "942260",
    ruleGroup: "REQUEST-942-APPLICATION-ATTACK-SQLI",
    message: "Detects basic SQL authentication bypass attempts 2/3",
    file: F942,
    line: "372",
    score: 5,
    details: (v) =>
      `Warning. Pattern match "(?i:(?:[\\"'\`](?:\\\\s*?(?:(?:\\\\*.+(?:(?:an|i)d|between|like|x?or|div)\\\\w*?... at ${v}. `,
  },
} as const satisfies Record<string, RuleDef>;

/** A rule id of {@link WAF_RULES}. */
export type WafRuleKey = keyof typeof WAF_RULES;

/** A `Matched` (or `Detected`) hit of one rule on `variable` with `data`. */
export function hit(
  key: WafRuleKey,
  variable: string,
  data: string,
  action: "Matched" | "Detected" = "Matched",
): WafHit {
  const r: RuleDef = WAF_RULES[key];
  return {
    ruleId: r.ruleId,
    ruleGroup: r.ruleGroup,
    message: r.message,
    detailsMessage: r.details(variable),
    data: `Matched Data: ${data} found within ${variable}: ${data}`,
    file: r.file,
    line: r.line,
    action,
  };
}

/** Total anomaly score of a list of hits. */
export function anomalyScore(keys: readonly WafRuleKey[]): number {
  let s = 0;
  for (const k of keys) s += WAF_RULES[k].score;
  return s;
}

/** The mandatory anomaly-evaluation hit: `Blocked` in Prevention mode, `Detected` in Detection mode. */
export function anomalyHit(score: number, mode: "Prevention" | "Detection"): WafHit {
  return {
    ruleId: "949110",
    ruleGroup: "REQUEST-949-BLOCKING-EVALUATION",
    message: `Mandatory rule. Cannot be disabled. Inbound Anomaly Score Exceeded (Total Score: ${score})`,
    detailsMessage:
      mode === "Prevention"
        ? "Access denied with code 403 (phase 2). Operator GE matched 5 at TX:anomaly_score. "
        : "Warning. Operator GE matched 5 at TX:anomaly_score. ",
    data: "",
    file: "rules/REQUEST-949-BLOCKING-EVALUATION.conf",
    line: "80",
    action: mode === "Prevention" ? "Blocked" : "Detected",
  };
}
