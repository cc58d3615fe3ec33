// Builds the console into the three files the service embeds and serves at /console:
//   node build.mjs [outdir]   (default: ../src/ConsentService/Console/wwwroot)
// Run `npm run build` after editing src/ and commit the output; a test rebuilds and compares.
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

export const options = (outdir) => ({
  entryPoints: { console: here('src/main.js') },
  outdir,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022'],
  legalComments: 'none',
  charset: 'utf8',
  logLevel: 'warning',
});

/** Writes console.js, console.css and index.html into `outdir`. */
export async function buildConsole(outdir) {
  await mkdir(outdir, { recursive: true });
  await build(options(outdir));
  await copyFile(here('src/index.html'), join(outdir, 'index.html'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildConsole(process.argv[2] ?? here('../src/ConsentService/Console/wwwroot'));
}
