// Each heavy scenario runs in a child process of its own, so its peak RSS is its own (not the sum of
// everything run before it in the same heap) and the embedded ClickHouse, which allows one engine per
// process and directory, starts fresh. Parameters go in as one JSON argument; the result comes back
// as one IPC message. Children write progress to stderr only, so the parent's stdout stays a report.
import { fork } from "node:child_process";

/**
 * Parent side: runs `bench/scenarios/<name>.js` with `params` and resolves with its result. Rejects
 * when the child fails or exits without a result. `execArgv` adds Node flags (e.g. --cpu-prof).
 */
export function runScenario(name, params, execArgv = []) {
  return new Promise((resolve, reject) => {
    const child = fork(new URL(`./scenarios/${name}.js`, import.meta.url), [JSON.stringify(params)], {
      stdio: ["ignore", 2, 2, "ipc"],
      execArgv: [...process.execArgv, ...execArgv],
    });
    let outcome;
    child.on("message", (m) => (outcome = m));
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (outcome?.error) reject(new Error(`scenario ${name} failed: ${outcome.error}`));
      else if (code !== 0 || !outcome)
        reject(new Error(`scenario ${name} exited with ${signal ?? code} and no result`));
      else resolve(outcome.result);
    });
  });
}

/**
 * Child side: runs `fn(params)` and sends its result (or its error) to the parent, then exits.
 * Exiting explicitly matters: worker pools and the embedded engine may keep handles open.
 */
export async function scenarioMain(fn) {
  let message;
  try {
    message = { result: await fn(JSON.parse(process.argv[2] ?? "{}")) };
  } catch (err) {
    message = { error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
  process.send(message, () => process.exit(message.error ? 1 : 0));
}

/** Samples this process's RSS every 50 ms; `stop()` returns the peak in bytes. */
export function sampleRss() {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}
