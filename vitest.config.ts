import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { configDefaults, defineConfig } from "vitest/config";

// Tests import workspace packages from source so they never run against a stale build. Code that
// must run as compiled JavaScript (the piscina worker, the CLI in child processes) uses dist/,
// which `npm test` builds first.
const root = fileURLToPath(new URL(".", import.meta.url));
const alias = [
  {
    find: /^@gatewatch\/store-clickhouse\/rows$/,
    replacement: `${root}packages/store-clickhouse/src/rows.ts`,
  },
];
for (const dir of ["packages", "services"]) {
  for (const name of readdirSync(`${root}${dir}`)) {
    alias.push({
      find: new RegExp(`^@gatewatch/${name}$`),
      replacement: `${root}${dir}/${name}/src/index.ts`,
    });
  }
}

// The crash loop (minutes of SIGKILLs against real fixtures) runs on its own: `npm run test:crash`.
const CRASH_LOOP = "test/integration/crash-loop.test.ts";
const crash = process.env.CRASH_LOOP === "1";

export default defineConfig({
  resolve: { alias },
  test: {
    include: crash
      ? [CRASH_LOOP]
      : ["packages/*/test/**/*.test.ts", "services/*/test/**/*.test.ts", "test/**/*.test.ts"],
    exclude: crash ? configDefaults.exclude : [...configDefaults.exclude, CRASH_LOOP],
    testTimeout: crash ? 240_000 : 120_000,
    hookTimeout: 120_000,
    // chdb is one engine per process: each test file runs in its own forked process.
    pool: "forks",
    fileParallelism: true,
    maxWorkers: 2,
  },
});
