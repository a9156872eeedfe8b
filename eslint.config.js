import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

const pureImportBans = {
  "no-restricted-imports": [
    "error",
    {
      patterns: [
        {
          group: [
            "node:net",
            "node:http",
            "node:https",
            "node:fs",
            "node:fs/*",
            "node:child_process",
            "net",
            "http",
            "https",
            "fs",
            "fs/*",
          ],
          message: "pure packages do no I/O",
        },
        {
          group: ["@azure/*", "kafkajs", "@clickhouse/*", "chdb", "piscina", "prom-client", "pino"],
          message: "pure packages use no vendor SDK",
        },
      ],
    },
  ],
  "no-restricted-properties": [
    "error",
    { object: "process", property: "env", message: "only loadConfig reads the environment" },
  ],
};

export default tseslint.config(
  {
    ignores: [
      "**/dist/**",
      "**/node_modules/**",
      "data/**",
      "coverage/**",
      ".tmp/**",
      "test-results/**",
      "**/*.d.ts",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["*.js", "*.ts", "packages/cli/bin/*.js"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "error",
    },
  },
  {
    files: [
      "packages/records/src/**",
      "packages/classify/src/**",
      "packages/pipeline/src/**",
      "packages/alerting/src/**",
    ],
    rules: pureImportBans,
  },
  { files: ["packages/cli/**", "bench/**", "test/fixtures/**"], rules: { "no-console": "off" } },
  {
    files: ["**/test/**/*.ts", "test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
  { files: ["**/*.js", "**/*.mjs"], ...tseslint.configs.disableTypeChecked },
  {
    files: ["**/*.js", "**/*.mjs"],
    ignores: ["services/ingestor/public/**"],
    languageOptions: { globals: globals.node },
  },
  // The overview page's script runs in the browser (served by the service as is, no build step).
  { files: ["services/ingestor/public/**/*.js"], languageOptions: { globals: globals.browser } },
);
