// Builds the dashboard into dist/: one script, one stylesheet, one page.
// The API's binaries embed dist/ (functions/build.rs); no CDN, no runtime fetch.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";

mkdirSync("dist", { recursive: true });
await build({
  entryPoints: ["src/main.tsx"],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
  jsx: "automatic",
  jsxImportSource: "preact",
  outfile: "dist/app.js",
  logLevel: "warning",
});
copyFileSync("src/index.html", "dist/index.html");
copyFileSync("src/style.css", "dist/style.css");
let total = 0;
for (const f of readdirSync("dist")) {
  total += gzipSync(readFileSync(`dist/${f}`)).length;
}
console.log(`dashboard built: ${readdirSync("dist").join(", ")} (${(total / 1024).toFixed(1)} KB gzipped)`);
if (total > 150 * 1024) {
  console.error("the dashboard's assets are over 150 KB compressed");
  process.exit(1);
}
