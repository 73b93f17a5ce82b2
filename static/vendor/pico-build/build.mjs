// Builds Pico the way Pico 2.1.1 builds its published files (sass, then
// autoprefixer for browserslist "defaults", then clean-css at level 1),
// with the tool versions pinned in package.json and package-lock.json.
//
// First it builds Pico with every module and checks that the result is
// byte for byte the package's own css/pico.min.css: if a tool changed,
// the check fails instead of quietly producing something else. Then it
// builds pico.keyward.scss and writes it to the path given as argument.
//
// "make css" runs it from a copy of this folder after "npm ci".
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import autoprefixer from "autoprefixer";
import CleanCSS from "clean-css";
import postcss from "postcss";
import * as sass from "sass";

const out = process.argv[2];
if (!out) {
  console.error("usage: node build.mjs OUTPUT.css");
  process.exit(2);
}
// caniuse-lite is pinned to the data Pico 2.1.1 was built with, on
// purpose; browserslist would warn that it is old.
process.env.BROWSERSLIST_IGNORE_OLD_DATA = "1";

const here = fileURLToPath(new URL(".", import.meta.url));
const pico = here + "node_modules/@picocss/pico/";

async function build(source) {
  const css = sass.compileString(source, {
    style: "expanded",
    loadPaths: [pico + "scss"],
    url: new URL("file://" + here + "entry.scss"),
  }).css;
  const prefixed = await postcss([autoprefixer()]).process(css, { from: undefined });
  const min = new CleanCSS({ level: 1 }).minify(prefixed.css);
  if (min.errors.length) throw new Error(min.errors.join("\n"));
  return min.styles;
}

const whole = await build('@use "pico";\n');
if (whole !== readFileSync(pico + "css/pico.min.css", "utf8")) {
  console.error("build.mjs: with every module the build is not Pico's own css/pico.min.css; a tool's output changed");
  process.exit(1);
}
writeFileSync(out, await build(readFileSync(here + "pico.keyward.scss", "utf8")));
