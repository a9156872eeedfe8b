import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

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

export default defineConfig({
  resolve: { alias },
  test: {
    include: ["packages/*/test/**/*.test.ts", "services/*/test/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // chdb is one engine per process: each test file runs in its own forked process.
    pool: "forks",
    fileParallelism: true,
    maxWorkers: 2,
  },
});
