// Copy the front-end files Caudal serves from node_modules into node_modules/.caudal-vendor/.
// Django's STATICFILES_DIRS maps that folder under the static prefix "vendor/", so the
// templates load e.g. {% static "vendor/htmx/htmx.min.js" %}. Run by `npm ci` (postinstall).
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const modules = join(root, "node_modules");
const out = join(modules, ".caudal-vendor");

// [package, file inside the package, destination inside .caudal-vendor]
const FILES = [
  ["htmx.org", "dist/htmx.min.js", "htmx/htmx.min.js"],
  ["htmx.org", "LICENSE", "htmx/LICENSE"],
];

rmSync(out, { recursive: true, force: true });
for (const [pkg, file, dest] of FILES) {
  const src = join(modules, pkg, file);
  if (!existsSync(src)) {
    console.error(`vendor-assets: missing ${pkg}/${file}; run npm ci`);
    process.exit(1);
  }
  const target = join(out, dest);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(src, target);
}
const version = (pkg) => JSON.parse(readFileSync(join(modules, pkg, "package.json"), "utf8")).version;
console.log(`vendor-assets: htmx.org ${version("htmx.org")} -> node_modules/.caudal-vendor/`);
