// Builds the web UI into dist/ui (npm run build): one script and one stylesheet bundled and minified
// by esbuild under content-hashed names, the favicon likewise, and index.html naming them, with
// %BERTH_UI_BASE% left for the server to fill in with ui.path. Prints the gzipped size.
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, "..", "dist", "ui");

/** esbuild's hash alphabet and length, so the server tells every hashed name the same way. */
function contentHash(data) {
  return createHash("sha256").update(data).digest("base64url").replace(/[^A-Za-z0-9]/g, "").toUpperCase().slice(0, 8);
}

await rm(out, { recursive: true, force: true });
const result = await build({
  entryPoints: { app: path.join(here, "src", "main.ts"), style: path.join(here, "src", "styles.css") },
  outdir: out,
  entryNames: "assets/[name]-[hash]",
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022", "chrome110", "firefox115", "safari16"],
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
});
const outputs = Object.keys(result.metafile.outputs).map((p) => path.relative(out, path.resolve(p)).split(path.sep).join("/"));
const js = outputs.find((p) => p.endsWith(".js"));
const css = outputs.find((p) => p.endsWith(".css"));
const favicon = await readFile(path.join(here, "favicon.svg"));
const faviconName = `assets/favicon-${contentHash(favicon)}.svg`;
await mkdir(path.join(out, "assets"), { recursive: true });
await writeFile(path.join(out, faviconName), favicon);
const html = (await readFile(path.join(here, "index.html"), "utf8")).replace("%JS%", js).replace("%CSS%", css).replace("%FAVICON%", faviconName);
await writeFile(path.join(out, "index.html"), html);

let raw = 0;
let gzipped = 0;
for (const file of ["index.html", js, css, faviconName]) {
  const data = await readFile(path.join(out, file));
  raw += data.length;
  gzipped += gzipSync(data, { level: 9 }).length;
}
console.log(`ui: dist/ui built, ${raw} bytes, ${gzipped} bytes gzipped (${js}, ${css})`);
