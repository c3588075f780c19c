// Bundles the chat page into ../../static/dist (chat.js + chat.css). Run: npm run build
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { readFile } from "node:fs/promises";

const here = path.dirname(fileURLToPath(import.meta.url));

// ChatUI's stylesheet pulls its web font from a CDN; nothing may load from a CDN at
// run time, so @font-face rules with remote URLs are dropped (system fonts are used).
const noRemoteFonts = {
  name: "no-remote-fonts",
  setup(builder) {
    builder.onLoad({ filter: /@chatui[\\/]core[\\/].*\.css$/ }, async (args) => {
      const css = await readFile(args.path, "utf8");
      const stripped = css.replace(/@font-face\s*{[^}]*url\(\s*["']?https?:[^}]*}/g, "");
      if (/url\(\s*["']?https?:/.test(stripped)) throw new Error(`remote URL left in ${args.path}`);
      return { contents: stripped, loader: "css" };
    });
  },
};

await build({
  entryPoints: { chat: path.join(here, "src", "main.jsx") },
  outdir: path.join(here, "..", "..", "static", "dist"),
  bundle: true,
  minify: true,
  sourcemap: false,
  format: "iife",
  target: ["es2018"],
  jsx: "automatic",
  loader: { ".js": "jsx", ".svg": "dataurl", ".png": "dataurl", ".woff": "dataurl", ".woff2": "dataurl" },
  define: { "process.env.NODE_ENV": '"production"' },
  legalComments: "linked",
  logLevel: "info",
  plugins: [noRemoteFonts],
});
