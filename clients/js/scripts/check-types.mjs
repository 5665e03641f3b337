// Fails when src/schema.ts is not what openapi-typescript makes of ../openapi.json (or of the
// document given as the first argument): the types must follow the API, never drift from it.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const document = resolve(process.argv[2] ?? join(here, "..", "openapi.json"));
const folder = mkdtempSync(join(tmpdir(), "evcs-types-"));
try {
  const generated = join(folder, "schema.ts");
  execFileSync(join(here, "node_modules", ".bin", "openapi-typescript"), [document, "--output", generated], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const expected = readFileSync(generated, "utf8");
  const actual = readFileSync(join(here, "src", "schema.ts"), "utf8");
  if (expected !== actual) {
    console.error("src/schema.ts is stale: run `npm run generate` (or clients/export_openapi.py)");
    process.exit(1);
  }
  console.log("src/schema.ts matches the OpenAPI document");
} finally {
  rmSync(folder, { recursive: true, force: true });
}
