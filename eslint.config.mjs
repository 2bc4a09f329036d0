// Type-aware lint for every TypeScript file tsconfig.json compiles. Rules that do not fit are turned
// off below, each with the reason.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "data/", ".tmp/"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ["**/*.ts"],
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
      // Passing on a caught value (typed unknown) forwards an error, as only-throw-error allows for throw.
      "@typescript-eslint/prefer-promise-reject-errors": ["error", { allowThrowingUnknown: true }],
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["describe", "it", "test", "suite"] },
          ],
        },
      ],
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
    files: ["**/*.mjs"],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
