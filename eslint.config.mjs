// Type-aware lint for every TypeScript file tsconfig.json compiles (`npm run lint`). Rules that do
// not fit are turned off or narrowed below, each with the reason.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["dist/", "node_modules/", "data/", ".tmp/"] },
  {
    files: ["**/*.ts"],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // async on a method that implements a Promise-returning interface turns its synchronous throws
      // into rejections, which callers rely on; dropping it to please this rule would change behaviour.
      "@typescript-eslint/require-await": "off",
      // A leading underscore marks a parameter or binding kept for its position or to omit it from a
      // rest object, as everywhere in this codebase.
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_", ignoreRestSiblings: true },
      ],
      // node:test's describe/it/test return promises the runner itself tracks; awaiting them is not how
      // node:test is written.
      "@typescript-eslint/no-floating-promises": [
        "error",
        { allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["describe", "it", "test", "suite"] }] },
      ],
      // Passing on a caught value (typed unknown) forwards an error, as only-throw-error allows for throw.
      "@typescript-eslint/prefer-promise-reject-errors": ["error", { allowThrowingUnknown: true }],
    },
  },
  {
    // The chart tests read rendered manifests and `docker inspect` output as loose JSON (K8sObject's
    // fields are any): their shape is what these tests assert, field by field.
    files: ["test/deploy/**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
    },
  },
  {
    // This file itself and the UI's build script: plain JavaScript, outside tsconfig.json.
    files: ["**/*.mjs"],
    extends: [js.configs.recommended],
  },
  {
    // The UI's build script runs on Node (ui/src is linted with ui/tsconfig.json's DOM types).
    files: ["ui/build.mjs"],
    languageOptions: { globals: { console: "readonly", process: "readonly" } },
  },
);
