/**
 * The deployment artefacts, checked without a Docker engine or a cluster: what each file says is
 * compared with what gatewatch accepts, and every tool that can judge a file here does.
 *
 * - Dockerfile: pinned Node 20 bases, numeric non-root USER, HEALTHCHECK on /healthz, exec-form
 *   ENTRYPOINT, every workspace manifest copied; and its dependency steps run on a copy of the
 *   repository: the production tree (without chdb) prints its help, serves /readyz against a
 *   ClickHouse HTTP server, and refuses an embedded store.
 * - Kubernetes: `kubectl kustomize` (kustomize v4+) builds every overlay; every object validates
 *   against the vendored strict JSON schemas (test/fixtures/kubernetes-schemas); the ConfigMap passes
 *   loadConfig; selectors, ports, probes, grace period, identity, KEDA trigger and rules line up.
 * - Compose: pinned images, existing local files, loopback-only ports, gatewatch's environment passes
 *   loadConfig; promtool and amtool accept the Prometheus and Alertmanager files as mounted.
 * - ClickHouse: cluster-schema.sql is what `gatewatch migrate --store-cluster … --dry-run` prints
 *   against a server; every statement of it and of users.sql parses with ClickHouse's own parser.
 * - Generated files (PrometheusRule, cluster schema, configuration reference, Grafana dashboards) are
 *   current (`--check`).
 */
import { execFile, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import Ajv from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { createClient } from "@clickhouse/client";
import { buildPrometheusRules } from "@gatewatch/alerting";
import { loadConfig, SETTINGS } from "@gatewatch/ingestor";
import { startClickHouseHttp, type ClickHouseHttpFixture } from "../fixtures/clickhouse-http/index.js";
import { cleanEnv, ROOT, runCli } from "../helpers/cli.js";
import { waitFor } from "../helpers/wait.js";

const run = promisify(execFile);
type Doc = ReturnType<typeof parse>;

const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const SETTING_ENVS = new Set(Object.values(SETTINGS).map((s) => s.env));
const SHUTDOWN_DEFAULT = SETTINGS.shutdownTimeoutSeconds.default;
const LISTEN_PORT = Number(SETTINGS.listenPort.default);
const WORKSPACES = ["packages", "services"].flatMap((dir) =>
  readdirSync(join(ROOT, dir)).map((name) => `${dir}/${name}`),
);

/** Runs a command; resolves with its exit code and output instead of throwing on a non-zero exit. */
async function exec(
  file: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {},
): Promise<{ code: number; output: string; stdout: string }> {
  try {
    const r = await run(file, args, { cwd: ROOT, maxBuffer: 64 * 1024 * 1024, ...options });
    return { code: 0, output: r.stdout + r.stderr, stdout: r.stdout };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== "number") throw err;
    return { code: e.code, output: `${e.stdout ?? ""}${e.stderr ?? ""}`, stdout: e.stdout ?? "" };
  }
}

/** A program from PATH (or the usual places), or a failure that says how to install it. */
function tool(name: string, install: string): string {
  for (const dir of [...(process.env.PATH ?? "").split(":"), "/usr/local/bin", "/usr/bin"]) {
    const candidate = join(dir, name);
    if (dir !== "" && existsSync(candidate)) return candidate;
  }
  throw new Error(`${name} not found: ${install}`);
}

/** An environment for child processes without npm's own variables (npx sets npm_config_*). */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = cleanEnv(extra);
  for (const key of Object.keys(env)) if (/^npm_/i.test(key)) delete env[key];
  return env;
}

// ---------------------------------------------------------------------------------------------------
// One ClickHouse HTTP server (chdb in a child process) for the production tree and the SQL checks.

let clickhouse: ClickHouseHttpFixture;
beforeAll(async () => {
  clickhouse = await startClickHouseHttp({ user: "gatewatch", password: "deployment-test" });
});
afterAll(async () => {
  await clickhouse?.stop();
});

/**
 * ClickHouse's own parser: formatQueryOrNull() is NULL for anything that is not one valid statement
 * (unknown privileges, settings syntax, engines' clauses…). Returns the statements it refuses.
 */
async function parseSql(statements: string[]): Promise<string[]> {
  const client = createClient({ url: clickhouse.url });
  try {
    // Literals in the query text (the POST body): as query parameters they would make a URL too long.
    const literal = (sql: string) => `'${sql.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
    const result = await client.query({
      query: `SELECT q, isNull(formatQueryOrNull(q)) AS refused FROM (SELECT arrayJoin([${statements.map(literal).join(", ")}]) AS q)`,
      format: "JSONEachRow",
    });
    const rows = await result.json<{ q: string; refused: number | boolean }>();
    expect(rows).toHaveLength(statements.length);
    return rows.filter((r) => Number(r.refused) === 1).map((r) => r.q);
  } finally {
    await client.close();
  }
}

/** Statements of a SQL file: comment lines dropped, split at `;` ending a line. */
function sqlStatements(text: string): string[] {
  return text
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("--"))
    .join("\n")
    .split(/;\s*\n/)
    .map((s) => s.trim().replace(/;$/, ""))
    .filter((s) => s !== "");
}

// ---------------------------------------------------------------------------------------------------

interface Instruction {
  readonly op: string;
  readonly args: string;
  readonly stage: number;
}

/** Dockerfile instructions with continuations joined and comments dropped; `stage` counts FROMs. */
function dockerfile(): { instructions: Instruction[]; args: Map<string, string> } {
  const logical: string[] = [];
  let current = "";
  for (const line of read("Dockerfile").split("\n")) {
    if (/^\s*#/.test(line) && current === "") continue;
    if (/^\s*#/.test(line)) continue;
    current += (current ? " " : "") + line.trim();
    if (current.endsWith("\\")) current = current.slice(0, -1).trim();
    else {
      if (current !== "") logical.push(current);
      current = "";
    }
  }
  const instructions: Instruction[] = [];
  const args = new Map<string, string>();
  let stage = -1;
  for (const text of logical) {
    const m = /^(\w+)\s+([\s\S]*)$/.exec(text);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    if (op === "FROM") stage++;
    if (op === "ARG") {
      const [name, value] = m[2]!.split("=", 2);
      if (value !== undefined && !args.has(name!)) args.set(name!, value);
    }
    instructions.push({ op, args: m[2]!, stage });
  }
  return { instructions, args };
}

describe("Dockerfile", () => {
  const { instructions, args } = dockerfile();
  const last = Math.max(...instructions.map((i) => i.stage));
  const final = instructions.filter((i) => i.stage === last);
  const one = (op: string) => {
    const found = final.filter((i) => i.op === op);
    expect(found, `final stage has exactly one ${op}`).toHaveLength(1);
    return found[0]!.args;
  };

  it("builds from pinned Node 20 Debian images in every stage", () => {
    const froms = instructions.filter((i) => i.op === "FROM");
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) {
      const image = from.args
        .split(/\s+/)[0]!
        .replace(/^\$\{(\w+)\}$/, (_, name: string) => args.get(name) ?? "");
      expect(image, from.args).toMatch(/^node:20\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
      expect(image).not.toContain("latest");
    }
  });

  it("runs as a numeric non-root user with an exec-form entrypoint, a healthcheck and SIGTERM", () => {
    const user = one("USER");
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(":")[0])).toBeGreaterThan(0);
    expect(JSON.parse(one("ENTRYPOINT"))).toEqual(["node", "/app/packages/cli/bin/gatewatch.js"]);
    expect(JSON.parse(one("CMD"))).toEqual(["run"]);
    expect(existsSync(join(ROOT, "packages/cli/bin/gatewatch.js"))).toBe(true);
    const health = one("HEALTHCHECK");
    expect(health).toMatch(/CMD \[\s*"node"/);
    expect(health).toContain("/healthz");
    expect(one("STOPSIGNAL")).toBe("SIGTERM");
    expect(one("EXPOSE")).toBe(String(LISTEN_PORT));
  });

  it("listens beyond loopback in the container, with known settings only", () => {
    const env = final.filter((i) => i.op === "ENV").flatMap((i) => i.args.split(/\s+/));
    expect(env).toContain("GATEWATCH_LISTEN_HOST=0.0.0.0");
    for (const pair of env.filter((p) => p.startsWith("GATEWATCH_")))
      expect(SETTING_ENVS, pair).toContain(pair.split("=")[0]);
  });

  it("copies every workspace manifest before installing, and installs production dependencies only", () => {
    const build = instructions.filter((i) => i.stage === 0);
    const installAt = build.findIndex((i) => i.op === "RUN" && /\bnpm (ci|install)\b/.test(i.args));
    expect(installAt).toBeGreaterThan(0);
    const copied = build
      .slice(0, installAt)
      .filter((i) => i.op === "COPY")
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const ws of WORKSPACES) expect(copied, ws).toContain(`${ws}/package.json`);
    expect(copied).toContain("package-lock.json");
    const prune = instructions.find((i) => i.op === "RUN" && i.args.includes("npm prune"));
    expect(prune?.args).toMatch(/npm prune --omit=dev/);
    expect(prune?.args).toMatch(/WITH_EMBEDDED.*rm -rf node_modules\/chdb node_modules\/@chdb/);
    expect(args.get("WITH_EMBEDDED")).toBe("false");
    expect(final.some((i) => i.op === "COPY" && i.args.includes("--from=build"))).toBe(true);
    expect(final.some((i) => i.op === "RUN" && /npm (ci|install)/.test(i.args))).toBe(false);
  });

  it("keeps local installs, builds and data out of the build context", () => {
    const ignored = read(".dockerignore")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    for (const entry of ["**/node_modules", "**/dist", "data", ".git"]) expect(ignored).toContain(entry);
  });
});

// ---------------------------------------------------------------------------------------------------

describe("the image's production dependency tree", { timeout: 240_000 }, () => {
  // Made in beforeAll (not at collection), so that a filtered-out run leaves no directory behind.
  let tree = "";
  let bin = "";

  beforeAll(async () => {
    tree = mkdtempSync(join(tmpdir(), "gw-prod-tree-"));
    bin = join(tree, "packages/cli/bin/gatewatch.js");
    // What the Dockerfile's build stage holds: the manifests, then the built packages.
    for (const file of ["package.json", "package-lock.json"]) cpSync(join(ROOT, file), join(tree, file));
    for (const ws of WORKSPACES) {
      mkdirSync(join(tree, ws), { recursive: true });
      cpSync(join(ROOT, ws, "package.json"), join(tree, ws, "package.json"));
    }
    const install = await exec(
      "npm",
      ["install", "--omit=dev", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund"],
      { cwd: tree, env: childEnv(), timeout: 180_000 },
    );
    expect(install.code, install.output).toBe(0);
    for (const ws of WORKSPACES) {
      for (const dir of ["dist", "bin", "public"]) {
        const from = join(ROOT, ws, dir);
        if (existsSync(from)) cpSync(from, join(tree, ws, dir), { recursive: true });
      }
    }
    expect(existsSync(join(ROOT, "packages/cli/dist/main.js")), "run npm run build first").toBe(true);
    // The Dockerfile's own pruning step, as written, without the embedded engine.
    const prune = dockerfile().instructions.find((i) => i.op === "RUN" && i.args.includes("npm prune"));
    const step = await exec("sh", ["-c", prune!.args], {
      cwd: tree,
      env: childEnv({ WITH_EMBEDDED: "false" }),
      timeout: 120_000,
    });
    expect(step.code, step.output).toBe(0);
  });
  afterAll(() => {
    if (tree) rmSync(tree, { recursive: true, force: true });
  });

  it("has no embedded engine", () => {
    expect(existsSync(join(tree, "node_modules/chdb"))).toBe(false);
    expect(existsSync(join(tree, "node_modules/@chdb"))).toBe(false);
    expect(existsSync(join(tree, "node_modules/@clickhouse/client"))).toBe(true);
  });

  it("prints its help", async () => {
    const r = await exec(process.execPath, [bin, "--help"], { cwd: tree, env: childEnv() });
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toContain("run [options]");
  });

  it("runs against a ClickHouse server until /readyz is 200, and drains on SIGTERM", async () => {
    const child = spawn(process.execPath, [bin, "run"], {
      cwd: tree,
      env: childEnv({
        GATEWATCH_STORE: clickhouse.url.replace(/\/default$/, "/gw_prod_tree"),
        GATEWATCH_LISTEN_HOST: "127.0.0.1",
        GATEWATCH_LISTEN_PORT: "0",
        GATEWATCH_THREADS: "1",
        GATEWATCH_DEMO_RATE: "50",
        GATEWATCH_ALERTS: "false",
      }),
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)));
    try {
      const url = await waitFor(
        "the service's url",
        () => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out)?.[1],
        60_000,
        100,
      );
      await waitFor(
        "/readyz 200",
        async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200,
        60_000,
        200,
      );
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited, out).toBe(0);
  });

  it("refuses an embedded store, naming the missing engine", async () => {
    const r = await exec(process.execPath, [bin, "migrate", "--store", `embedded:${join(tree, "data")}`], {
      cwd: tree,
      env: childEnv(),
    });
    expect(r.code).toBe(2); // a configuration problem, not a runtime failure
    expect(r.output).toContain("needs the package chdb");
  });
});

// ---------------------------------------------------------------------------------------------------

/** kubectl (kustomize v4+) or a standalone kustomize; fails with the install hint otherwise. */
async function kustomize(): Promise<
  (dir: string) => Promise<{ code: number; output: string; stdout: string }>
> {
  const hint =
    "install kubectl with kustomize v4 or later (Debian 12's kubernetes-client 1.20 embeds kustomize v2, which cannot build these overlays); see .ci/run";
  const kubectl = ["kubectl", "kustomize"]
    .map((name) => {
      try {
        return tool(name, hint);
      } catch {
        return undefined;
      }
    })
    .find((x) => x !== undefined);
  if (!kubectl) throw new Error(`neither kubectl nor kustomize found: ${hint}`);
  const isKubectl = kubectl.endsWith("kubectl");
  const version = await exec(kubectl, isKubectl ? ["version", "--client"] : ["version"]);
  // kubectl: "Kustomize Version: v5.5.0"; kustomize: "v5.5.0" or "{Version:kustomize/v5.5.0 ...}".
  const major = (isKubectl ? /Kustomize Version: v(\d+)\./ : /(?:^|\/)v(\d+)\./m).exec(version.output);
  const v = Number(major?.[1] ?? 0);
  if (v < 4) throw new Error(`${kubectl} has kustomize v${v} (${version.output.trim()}): ${hint}`);
  return (dir) => exec(kubectl, isKubectl ? ["kustomize", dir] : ["build", dir]);
}

const SCHEMAS = join(ROOT, "test/fixtures/kubernetes-schemas");
/** Schema file by `apiVersion/kind`. */
const SCHEMA_FILES: Record<string, string> = {
  "v1/ConfigMap": "configmap-v1.json",
  "v1/Service": "service-v1.json",
  "v1/ServiceAccount": "serviceaccount-v1.json",
  "apps/v1/Deployment": "deployment-apps-v1.json",
  "policy/v1/PodDisruptionBudget": "poddisruptionbudget-policy-v1.json",
  "monitoring.coreos.com/v1/ServiceMonitor": "servicemonitor-monitoring.coreos.com-v1.json",
  "monitoring.coreos.com/v1/PrometheusRule": "prometheusrule-monitoring.coreos.com-v1.json",
  "keda.sh/v1alpha1/ScaledObject": "scaledobject-keda.sh-v1alpha1.json",
  "keda.sh/v1alpha1/TriggerAuthentication": "triggerauthentication-keda.sh-v1alpha1.json",
};

const ajv = new Ajv({ allErrors: true, unknownFormats: "ignore" });
ajv.addFormat("int32", {
  type: "number",
  validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31,
});
ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isInteger(n) });
ajv.addFormat("quantity", /^[+-]?(\d+|\d+\.\d*|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/);
const validators = new Map<string, ReturnType<typeof ajv.compile>>();

/** Schema errors of one object (empty when valid). */
function schemaErrors(doc: Doc): string[] {
  const key = `${doc.apiVersion}/${doc.kind}`;
  const file = SCHEMA_FILES[key];
  if (!file) return [`no vendored schema for ${key}`];
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(JSON.parse(readFileSync(join(SCHEMAS, file), "utf8")));
    validators.set(key, validate);
  }
  if (validate(doc)) return [];
  return (validate.errors ?? []).map(
    (e) => `${key} ${doc.metadata?.name}${e.dataPath} ${e.message} ${JSON.stringify(e.params)}`,
  );
}

const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe("Kubernetes manifests", () => {
  const OVERLAYS = ["single-replica", "production"] as const;
  const built = new Map<string, Doc[]>();

  beforeAll(async () => {
    const build = await kustomize();
    for (const overlay of OVERLAYS) {
      const r = await build(join(ROOT, "deploy/kubernetes/overlays", overlay));
      expect(r.code, r.output).toBe(0);
      built.set(
        overlay,
        parseAllDocuments(r.stdout).map((d) => d.toJS()),
      );
    }
  });

  const docs = (overlay: string) => built.get(overlay)!;
  const find = (overlay: string, kind: string) => docs(overlay).filter((d) => d.kind === kind);
  const only = (overlay: string, kind: string) => {
    const found = find(overlay, kind);
    expect(found, `${overlay}: one ${kind}`).toHaveLength(1);
    return found[0];
  };

  it("lists every overlay directory", () => {
    expect(readdirSync(join(ROOT, "deploy/kubernetes/overlays")).sort()).toEqual([...OVERLAYS].sort());
  });

  it.each(OVERLAYS)("%s: every object validates against its strict schema", (overlay) => {
    const problems = docs(overlay).flatMap(schemaErrors);
    expect(problems).toEqual([]);
    // No secret values: secrets are referenced, never shipped.
    expect(find(overlay, "Secret")).toEqual([]);
  });

  it("schemas refuse a misspelt field (they are strict)", () => {
    const deployment = structuredClone(only("production", "Deployment"));
    deployment.spec.template.spec.containers[0].livenesProbe =
      deployment.spec.template.spec.containers[0].livenessProbe;
    expect(schemaErrors(deployment).join("\n")).toContain("livenesProbe");
  });

  it.each(OVERLAYS)("%s: the ConfigMap is a configuration gatewatch accepts", (overlay) => {
    const config = only(overlay, "ConfigMap");
    for (const name of Object.keys(config.data)) expect(SETTING_ENVS, name).toContain(name);
    expect(() => loadConfig(config.data as NodeJS.ProcessEnv)).not.toThrow();
    const cfg = loadConfig(config.data as NodeJS.ProcessEnv);
    expect(cfg.listenHost).toBe("0.0.0.0");
    expect(cfg.storeTarget.kind).toBe("http");
  });

  it.each(OVERLAYS)(
    "%s: the Deployment probes, drains, runs locked down and references what exists",
    (overlay) => {
      const deployment = only(overlay, "Deployment");
      const config = only(overlay, "ConfigMap");
      const pod = deployment.spec.template.spec;
      const [container] = pod.containers;
      const cfg = loadConfig(config.data as NodeJS.ProcessEnv);

      expect(container.livenessProbe.httpGet.path).toBe("/healthz");
      expect(container.readinessProbe.httpGet.path).toBe("/readyz");
      expect(container.startupProbe.httpGet.path).toBe("/healthz");
      const port = container.ports.find((p: Doc) => p.name === container.livenessProbe.httpGet.port);
      expect(port.containerPort).toBe(cfg.listenPort);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(cfg.shutdownTimeoutSeconds);
      expect(cfg.shutdownTimeoutSeconds).toBe(SHUTDOWN_DEFAULT);

      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
      expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
      const tmp = container.volumeMounts.find((m: Doc) => m.mountPath === "/tmp");
      expect(pod.volumes.find((v: Doc) => v.name === tmp.name).emptyDir).toBeDefined();
      expect(pod.topologySpreadConstraints.length).toBeGreaterThan(0);
      for (const c of pod.topologySpreadConstraints)
        expect(matches(c.labelSelector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);

      expect(container.envFrom[0].configMapRef.name).toBe(config.metadata.name);
      expect(container.image).toMatch(/:\d+\.\d+\.\d+$/);
      expect(cfg.storePasswordFile).toBeDefined();
      const secretMount = container.volumeMounts.find((m: Doc) =>
        cfg.storePasswordFile!.startsWith(`${m.mountPath}/`),
      );
      const secretVolume = pod.volumes.find((v: Doc) => v.name === secretMount.name);
      expect(secretVolume.secret.items.map((i: Doc) => `${secretMount.mountPath}/${i.path}`)).toContain(
        cfg.storePasswordFile,
      );
      expect(
        container.env.find((e: Doc) => e.name === "GATEWATCH_API_TOKEN").valueFrom.secretKeyRef.name,
      ).toBe("gatewatch-api");
      if (cfg.storeCaFile) {
        const caMount = container.volumeMounts.find((m: Doc) =>
          cfg.storeCaFile!.startsWith(`${m.mountPath}/`),
        );
        expect(caMount, "a mount holds GATEWATCH_STORE_CA_FILE").toBeDefined();
      }

      // Azure workload identity: labelled pods, annotated service account.
      expect(deployment.spec.template.metadata.labels["azure.workload.identity/use"]).toBe("true");
      const sa = only(overlay, "ServiceAccount");
      expect(pod.serviceAccountName).toBe(sa.metadata.name);
      expect(sa.metadata.annotations["azure.workload.identity/client-id"]).toMatch(/^[0-9a-f-]{36}$/);
      expect(cfg.eventhubNamespace).toMatch(/\.servicebus\.windows\.net$/);
      expect(cfg.checkpointAccountUrl).toMatch(/^https:\/\/[a-z0-9]+\.blob\.core\.windows\.net$/);
    },
  );

  it.each(OVERLAYS)("%s: the Service, PodDisruptionBudget and ServiceMonitor select the pods", (overlay) => {
    const podLabels = only(overlay, "Deployment").spec.template.metadata.labels;
    const service = only(overlay, "Service");
    expect(matches(service.spec.selector, podLabels)).toBe(true);
    const containerPorts = only(overlay, "Deployment").spec.template.spec.containers[0].ports.map(
      (p: Doc) => p.name,
    );
    expect(containerPorts).toContain(service.spec.ports[0].targetPort);
    const pdb = only(overlay, "PodDisruptionBudget");
    expect(matches(pdb.spec.selector.matchLabels, podLabels)).toBe(true);
    expect(pdb.spec.unhealthyPodEvictionPolicy).toBe("AlwaysAllow");
    const monitor = only(overlay, "ServiceMonitor");
    expect(matches(monitor.spec.selector.matchLabels, service.metadata.labels)).toBe(true);
    expect(service.spec.ports.map((p: Doc) => p.name)).toContain(monitor.spec.endpoints[0].port);
    expect(monitor.spec.endpoints[0].path).toBe("/metrics");
  });

  it.each(OVERLAYS)("%s: the PrometheusRule holds exactly the rules `gatewatch rules` prints", (overlay) => {
    const rule = only(overlay, "PrometheusRule");
    expect(rule.spec).toEqual(parse(buildPrometheusRules()));
  });

  it("single-replica: one replica, no autoscaling, the in-service detector on", () => {
    expect(only("single-replica", "Deployment").spec.replicas).toBe(1);
    expect(find("single-replica", "ScaledObject")).toEqual([]);
    expect(loadConfig(only("single-replica", "ConfigMap").data).alerts).toBe(true);
  });

  it("production: KEDA scales on the checkpoints gatewatch writes, on a ClickHouse cluster", () => {
    const deployment = only("production", "Deployment");
    const cfg = loadConfig(only("production", "ConfigMap").data);
    // KEDA owns the replica count; several replicas each see a share: the detector is off.
    expect(deployment.spec.replicas).toBeUndefined();
    expect(cfg.alerts).toBe(false);
    expect(cfg.storeCluster).toMatch(/^\w+$/);
    expect(cfg.storeTarget.kind).toBe("http");
    expect(only("production", "PodDisruptionBudget").spec.minAvailable).toBeDefined();
    const resources = deployment.spec.template.spec.containers[0].resources;
    expect(resources.requests).toEqual(resources.limits);
    expect(cfg.threads).toBe(Number(resources.limits.cpu));

    const scaled = only("production", "ScaledObject");
    expect(scaled.spec.scaleTargetRef.name).toBe(deployment.metadata.name);
    expect(scaled.spec.maxReplicaCount).toBeGreaterThanOrEqual(scaled.spec.minReplicaCount);
    // The cap is the hub's partition count, said where it is set.
    expect(read("deploy/kubernetes/overlays/production/keda-scaled-object.yaml")).toMatch(
      /partition count[^\n]*\n(\s*#[^\n]*\n)*\s*maxReplicaCount: \d+/,
    );
    const [trigger] = scaled.spec.triggers;
    expect(trigger.type).toBe("azure-eventhub");
    expect(trigger.metadata.checkpointStrategy).toBe("blobMetadata");
    expect(trigger.metadata.consumerGroup).toBe(cfg.eventhubConsumerGroup);
    expect(trigger.metadata.eventHubName).toBe(cfg.eventhubName);
    expect(`${trigger.metadata.eventHubNamespace}.servicebus.windows.net`).toBe(cfg.eventhubNamespace);
    expect(trigger.metadata.blobContainer).toBe(cfg.checkpointContainer);
    expect(trigger.metadata.blobContainer).toBe(SETTINGS.checkpointContainer.default);
    expect(`https://${trigger.metadata.storageAccountName}.blob.core.windows.net`).toBe(
      cfg.checkpointAccountUrl,
    );
    const auth = only("production", "TriggerAuthentication");
    expect(trigger.authenticationRef.name).toBe(auth.metadata.name);
    expect(auth.spec.podIdentity.provider).toBe("azure-workload");
  });

  it("base/prometheus-rule.yaml is current (generate.mjs --check)", async () => {
    const r = await exec(process.execPath, ["deploy/kubernetes/generate.mjs", "--check"]);
    expect(r.code, r.output).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------------

const COMPOSE_DIR = join(ROOT, "deploy/compose");
const compose = parse(readFileSync(join(COMPOSE_DIR, "compose.yaml"), "utf8"));
const eventhubs = parse(readFileSync(join(COMPOSE_DIR, "compose.eventhubs.yaml"), "utf8"));

/** Compose interpolation with the defaults (`${X:-d}`, `${X-d}`), `${X:?…}` from `given`, `$$` → `$`. */
function interpolate(value: string, given: Record<string, string> = {}): string {
  return value
    .replace(/\$\{(\w+)(?::?-([^}]*)|:?\?[^}]*)?\}/g, (_, name: string, dflt?: string) => {
      const v = given[name] ?? dflt;
      if (v === undefined) throw new Error(`compose needs ${name}`);
      return v;
    })
    .replaceAll("$$", "$");
}

/** `source:target[:ro]` bind mounts (sources starting with . or /) of a service. */
const binds = (service: Doc): { source: string; target: string }[] =>
  (service.volumes ?? [])
    .map((v: string) => v.split(":"))
    .filter(([source]: string[]) => /^[./]/.test(source!))
    .map(([source, target]: string[]) => ({ source: resolve(COMPOSE_DIR, source!), target: target! }));

/** A temporary root with a service's bind mounts at their container paths. */
function containerView(service: Doc): string {
  const root = mkdtempSync(join(tmpdir(), "gw-compose-view-"));
  for (const { source, target } of binds(service)) {
    mkdirSync(dirname(join(root, target)), { recursive: true });
    cpSync(source, join(root, target), { recursive: true });
  }
  return root;
}

describe("compose", () => {
  const services = Object.entries<Doc>(compose.services);

  it("has every neighbour gatewatch needs", () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ["alertmanager", "azurite", "clickhouse", "gatewatch", "grafana", "prometheus"].sort(),
    );
  });

  it("pins every image to an exact version and builds gatewatch from the Dockerfile", () => {
    for (const [name, service] of services) {
      if (service.build) {
        expect(
          existsSync(join(resolve(COMPOSE_DIR, service.build.context), service.build.dockerfile)),
          name,
        ).toBe(true);
        continue;
      }
      expect(service.image, name).toMatch(/^[\w./-]+:v?\d+\.\d+\.\d+[\w.-]*$/);
      expect(service.image).not.toMatch(/:latest$/);
    }
  });

  it("mounts only files and directories that exist", () => {
    for (const [name, service] of [...services, ...Object.entries<Doc>(eventhubs.services)])
      for (const { source } of binds(service)) expect(existsSync(source), `${name}: ${source}`).toBe(true);
  });

  it("publishes ports on loopback only", () => {
    for (const [name, service] of services)
      for (const port of service.ports ?? []) expect(String(port), name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
  });

  it("gives gatewatch a configuration it accepts, with the demo source or an event hub", () => {
    const base = compose.services.gatewatch.environment as Record<string, string>;
    const over = eventhubs.services.gatewatch.environment as Record<string, string>;
    for (const name of [...Object.keys(base), ...Object.keys(over)])
      expect(SETTING_ENVS, name).toContain(name);
    const env = (vars: Record<string, string>) =>
      Object.fromEntries(
        Object.entries(vars).map(([k, v]) => [
          k,
          interpolate(String(v), {
            GATEWATCH_EVENTHUB_CONNECTION_STRING:
              "Endpoint=sb://example.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=x",
          }),
        ]),
      );
    const demo = loadConfig(env(base));
    expect(demo.source).toBe("demo");
    expect(demo.storeTarget.kind).toBe("http");
    expect(new URL(demo.alertmanagerUrl!).hostname).toBe("alertmanager");
    expect(new URL(interpolate(base.GATEWATCH_STORE!)).hostname).toBe("clickhouse");
    const hub = loadConfig({ ...env(base), ...env(over) });
    expect(hub.source).toBe("eventhubs");
    expect(hub.checkpointConnectionString).toContain("BlobEndpoint=http://azurite:10000/");
    expect(Object.keys(eventhubs.services.gatewatch.depends_on)).toContain("azurite");
    const grace = /^(\d+)s$/.exec(compose.services.gatewatch.stop_grace_period)!;
    expect(Number(grace[1])).toBeGreaterThan(demo.shutdownTimeoutSeconds);
    expect(compose.services.gatewatch.ports).toContain(`127.0.0.1:${demo.listenPort}:${demo.listenPort}`);
  });

  it("gives Grafana every variable its provisioning reads, and the dashboards where it looks", () => {
    const grafana = compose.services.grafana;
    const provisioning = readdirSync(join(ROOT, "deploy/grafana/provisioning"), { recursive: true })
      .map(String)
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => readFileSync(join(ROOT, "deploy/grafana/provisioning", f), "utf8"))
      .join("\n");
    for (const name of provisioning.match(/\$GRAFANA_\w+/g) ?? [])
      expect(Object.keys(grafana.environment), name).toContain(name.slice(1));
    const view = containerView(grafana);
    try {
      expect(existsSync(join(view, grafana.environment.GF_PATHS_PROVISIONING, "datasources"))).toBe(true);
      const provider = parse(
        readFileSync(join(ROOT, "deploy/grafana/provisioning/dashboards/gatewatch.yaml"), "utf8"),
      );
      const dashboards = readdirSync(join(view, provider.providers[0].options.path));
      expect(dashboards.filter((f) => f.endsWith(".json")).length).toBeGreaterThan(0);
    } finally {
      rmSync(view, { recursive: true, force: true });
    }
    expect(interpolate(grafana.environment.GRAFANA_GATEWATCH_CLICKHOUSE_PASSWORD)).toBe(
      interpolate(compose.services.clickhouse.environment.CLICKHOUSE_GRAFANA_PASSWORD),
    );
  });

  it("creates the ClickHouse users gatewatch and Grafana log in with", () => {
    const clickhouseEnv = compose.services.clickhouse.environment;
    const store = new URL(interpolate(compose.services.gatewatch.environment.GATEWATCH_STORE));
    expect(store.password).toBe(interpolate(clickhouseEnv.CLICKHOUSE_GATEWATCH_PASSWORD));
    const script = read("deploy/compose/clickhouse/create-users.sh");
    expect(script).toContain(`CREATE USER IF NOT EXISTS ${store.username} `);
    expect(script).toContain(
      `CREATE USER IF NOT EXISTS ${compose.services.grafana.environment.GRAFANA_GATEWATCH_CLICKHOUSE_USER} `,
    );
    const roles = read("deploy/clickhouse/users.sql").match(/CREATE ROLE IF NOT EXISTS (\w+)/g)!;
    for (const role of roles) expect(script).toContain(`GRANT ${role.split(" ").pop()} TO`);
    const initFiles = binds(compose.services.clickhouse)
      .map((b) => b.target)
      .filter((t) => t.startsWith("/docker-entrypoint-initdb.d/"));
    expect(initFiles.map((t) => t.split("/").pop()).sort()).toEqual([
      "10-gatewatch-roles.sql",
      "20-gatewatch-users.sh",
    ]);
  });

  it("configures Prometheus as mounted: promtool accepts the config with its rule file", async () => {
    const prometheus = compose.services.prometheus;
    const view = containerView(prometheus);
    try {
      const configFile = prometheus.command
        .find((a: string) => a.startsWith("--config.file="))
        .slice("--config.file=".length);
      const promtool = tool("promtool", "install the Debian package prometheus");
      const r = await exec(promtool, ["check", "config", join(view, configFile)]);
      expect(r.code, r.output).toBe(0);
      expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
      const config = parse(readFileSync(join(view, configFile), "utf8"));
      const targets = config.scrape_configs.flatMap((s: Doc) =>
        s.static_configs.flatMap((c: Doc) => c.targets),
      );
      expect(targets).toContain(`gatewatch:${LISTEN_PORT}`);
      expect(config.alerting.alertmanagers[0].static_configs[0].targets).toContain("alertmanager:9093");
    } finally {
      rmSync(view, { recursive: true, force: true });
    }
  });

  it("configures Alertmanager as mounted: amtool accepts it", async () => {
    const alertmanager = compose.services.alertmanager;
    const view = containerView(alertmanager);
    try {
      const configFile = alertmanager.command
        .find((a: string) => a.startsWith("--config.file="))
        .slice("--config.file=".length);
      const amtool = tool("amtool", "install the Debian package prometheus-alertmanager");
      const r = await exec(amtool, ["check-config", join(view, configFile)]);
      expect(r.code, r.output).toBe(0);
    } finally {
      rmSync(view, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------------

describe("ClickHouse DDL", () => {
  interface Generator {
    CLUSTER: string;
    pendingMigrations(): { version: number; name: string; statements: string[] }[];
    bootstrapStatements(): string[];
  }
  const generatorUrl = pathToFileURL(join(ROOT, "deploy/clickhouse/generate.mjs")).href;

  it("cluster-schema.sql is current (generate.mjs --check)", async () => {
    const r = await exec(process.execPath, ["deploy/clickhouse/generate.mjs", "--check"]);
    expect(r.code, r.output).toBe(0);
  });

  it("cluster-schema.sql holds what `gatewatch migrate --store-cluster … --dry-run` prints against a server", async () => {
    const gen = (await import(generatorUrl)) as Generator;
    const r = await runCli([
      "migrate",
      "--dry-run",
      "--store",
      clickhouse.url.replace(/\/default$/, "/gatewatch"),
      "--store-cluster",
      gen.CLUSTER,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const pending = lines.filter((l) => Array.isArray(l.statements));
    expect(pending).toEqual(gen.pendingMigrations());
    const file = read("deploy/clickhouse/cluster-schema.sql");
    for (const m of pending) for (const sql of m.statements) expect(file).toContain(`${sql};\n`);
    for (const sql of gen.bootstrapStatements()) expect(file).toContain(`${sql};\n`);
  });

  it("every statement of cluster-schema.sql parses with ClickHouse's parser", async () => {
    const statements = sqlStatements(read("deploy/clickhouse/cluster-schema.sql"));
    expect(statements.length).toBeGreaterThan(10);
    expect(await parseSql(statements)).toEqual([]);
  });

  it("users.sql and the compose user script parse, grant the writer what migrations do and the reader SELECT only", async () => {
    const statements = sqlStatements(read("deploy/clickhouse/users.sql"));
    const script = read("deploy/compose/clickhouse/create-users.sh");
    const heredoc = /<<SQL[^\n]*\n([\s\S]*?)\nSQL\n/.exec(script)![1]!.replace(/\$\([^)]*\)/g, "'x'");
    expect(await parseSql([...statements, ...sqlStatements(`${heredoc}\n`)])).toEqual([]);
    // The parser does judge: an unknown privilege is refused.
    expect(await parseSql(["GRANT NOT_A_PRIVILEGE ON gatewatch.* TO gatewatch_reader"])).toHaveLength(1);
    const text = statements.join("\n");
    for (const grant of [
      "CREATE DATABASE",
      "CREATE TABLE",
      "CREATE VIEW",
      "ALTER TABLE",
      "INSERT",
      "SELECT",
      "CLUSTER",
    ])
      expect(text, grant).toMatch(new RegExp(`GRANT [^;]*\\b${grant}\\b[^;]*TO gatewatch_writer`));
    expect(text).toMatch(/GRANT DROP TABLE ON gatewatch\.schema_migration_lock TO gatewatch_writer/);
    const readerGrants = statements.filter((s) => /^GRANT/.test(s) && s.includes("TO gatewatch_reader"));
    expect(readerGrants).toEqual(["GRANT SELECT ON gatewatch.* TO gatewatch_reader"]);
    expect(text).toMatch(/readonly = 2/);
  });
});

// ---------------------------------------------------------------------------------------------------

describe("docs/operations.md", () => {
  const doc = read("docs/operations.md");

  it("has the configuration reference that SETTINGS generates (--check)", async () => {
    const r = await exec(process.execPath, ["docs/generate-config-reference.mjs", "--check"]);
    expect(r.code, r.output).toBe(0);
    for (const s of Object.values(SETTINGS)) expect(doc).toContain(`| \`${s.env}\` | \`${s.flag}\` |`);
  });

  it("explains every alert gatewatch and its rules raise", () => {
    const alerts = new Set(
      [...buildPrometheusRules().matchAll(/- alert: (\w+)/g)]
        .map((m) => m[1]!)
        .concat("GatewatchCauseSpikeDetected"),
    );
    for (const alert of alerts) expect(doc, alert).toMatch(new RegExp(`^\\| \`${alert}\` \\|`, "m"));
  });

  it("leaves the Grafana dashboards current (deploy/grafana/generate.mjs --check)", async () => {
    const r = await exec(process.execPath, ["deploy/grafana/generate.mjs", "--check"]);
    expect(r.code, r.output).toBe(0);
  });
});
