// The committed console (src/ConsentService/Console/wwwroot) must be exactly what build.mjs makes
// from console/src: the service embeds those files, so a stale build would ship old code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildConsole } from '../../build.mjs';

const committed = fileURLToPath(new URL('../../../src/ConsentService/Console/wwwroot/', import.meta.url));

test('the committed console assets are the build of console/src (run npm run build in console/)', async () => {
  const out = mkdtempSync(join(tmpdir(), 'console-build-'));
  try {
    await buildConsole(out);
    for (const file of ['index.html', 'console.js', 'console.css']) {
      assert.equal(readFileSync(join(committed, file), 'utf8'), readFileSync(join(out, file), 'utf8'), `${file} is stale`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the page has no inline script or style the CSP would refuse', () => {
  const html = readFileSync(join(committed, 'index.html'), 'utf8');
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'inline <script>');
  assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i, 'inline style or event handler');
  const js = readFileSync(join(committed, 'console.js'), 'utf8');
  assert.doesNotMatch(js, /innerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(/, 'HTML strings or eval in the bundle');
});
