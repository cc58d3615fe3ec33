import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { options } from '../../build.mjs';

const committed = fileURLToPath(new URL('../../../src/ConsentService/Snippet/consent.min.js', import.meta.url));

test('the committed build is what src/ builds to (run `npm run build` after editing src/)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'snippet-build-'));
  try {
    const fresh = join(dir, 'consent.min.js');
    await build(options(fresh));
    assert.equal(await readFile(committed, 'utf8'), await readFile(fresh, 'utf8'),
      'src/ConsentService/Snippet/consent.min.js is stale: run `npm run build` in client-snippet/ and commit it');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the build has exactly one config placeholder for the service to fill', async () => {
  const script = await readFile(committed, 'utf8');
  assert.equal(script.split('__CONSENT_CONFIG__').length, 2);
  assert.match(script, /^\(\(\)=>\{/, 'one IIFE: no globals but window.ConsentService');
});
