// Builds the snippet into one minified IIFE for the service to embed:
//   node build.mjs [outfile]   (default: ../src/ConsentService/Snippet/consent.min.js)
// Run `npm run build` after editing src/ and commit the output; a unit test fails when it is stale.
import { build, transform } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

/** `import css from './x.css'` gives the minified stylesheet as a string (injected once as a <style>). */
const cssText = {
  name: 'css-text',
  setup(b) {
    b.onLoad({ filter: /\.css$/ }, async ({ path }) => ({
      contents: (await transform(await readFile(path, 'utf8'), { loader: 'css', minify: true, legalComments: 'none' })).code.trim(),
      loader: 'text',
    }));
  },
};

export const options = (outfile) => ({
  entryPoints: [here('src/index.js')],
  outfile,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  legalComments: 'none',
  charset: 'utf8',
  logLevel: 'warning',
  plugins: [cssText],
});

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await build(options(process.argv[2] ?? here('../src/ConsentService/Snippet/consent.min.js')));
}
