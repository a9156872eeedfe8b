/** Runs the built `gatewatch` binary as a child process, as a user would. */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { fileURLToPath } from "node:url";
import { installExitHook, live } from "../fixtures/processes.js";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const BIN = fileURLToPath(new URL("../../packages/cli/bin/gatewatch.js", import.meta.url));

/** Environment without any GATEWATCH_* variable of the developer's shell. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("GATEWATCH_")) env[k] = v;
  return { ...env, ...extra };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion. */
export function runCli(
  args: string[],
  options: { input?: string | Buffer; env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? ROOT,
      env: cleanEnv(options.env),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

/** Starts a long-running command; lines of stdout are parsed as JSON log lines where possible. */
export function startCli(
  args: string[],
  env: Record<string, string> = {},
): {
  child: ChildProcessWithoutNullStreams;
  logs: Record<string, unknown>[];
  stderr: () => string;
  waitForLog: (msg: string, timeoutMs?: number) => Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: cleanEnv(env) });
  const logs: Record<string, unknown>[] = [];
  let err = "";
  let partial = "";
  const waiters: { msg: string; resolve: (l: Record<string, unknown>) => void }[] = [];
  child.stdout.on("data", (d: Buffer) => {
    partial += d.toString();
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        for (const w of waiters.filter((w) => w.msg === entry.msg)) w.resolve(entry);
      } catch {
        logs.push({ raw: line });
      }
    }
  });
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  // Killed with the test process if still running (one shared exit hook, not one listener per child).
  installExitHook();
  live.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (code) => {
      live.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    logs,
    stderr: () => err,
    exited,
    waitForLog: (msg, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const found = logs.find((l) => l.msg === msg);
        if (found) return resolve(found);
        const timer = setTimeout(
          () => reject(new Error(`no "${msg}" log line within ${timeoutMs} ms; stderr: ${err}`)),
          timeoutMs,
        );
        waiters.push({
          msg,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then((code) => reject(new Error(`exited with ${code} before "${msg}"; stderr: ${err}`)));
      }),
  };
}
