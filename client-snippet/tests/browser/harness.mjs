// Test harness for the browser tests: the real service on loopback, a second origin serving the
// test pages, and Debian's Chromium driven by playwright-core.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
export const OPERATOR_KEY = 'cso_browser-tests-0123456789abcdef';
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const TRACKER = 'https://tracker.example';

/**
 * Starts the built service (`dotnet ConsentService.dll`, building it first when absent) on a free
 * loopback port with a fresh data folder; the demo site is seeded so the demo page can be tested.
 * `env` adds settings; `data` reuses a data folder (a restart), which stop({ keep: true }) leaves.
 */
export async function startService({ env = {}, data: reuse } = {}) {
  const dll = process.env.CONSENT_SERVICE_DLL || join(repo, 'src/ConsentService/bin/Debug/net10.0/ConsentService.dll');
  if (!existsSync(dll)) {
    const built = spawnSync('dotnet', ['build', join(repo, 'src/ConsentService'), '-c', 'Debug', '-nologo'], { stdio: 'inherit' });
    if (built.status !== 0) throw new Error('dotnet build failed');
  }
  const data = reuse || mkdtempSync(join(tmpdir(), 'consent-browser-'));
  const child = spawn('dotnet', [dll, '--urls', 'http://127.0.0.1:0'], {
    cwd: dirname(dll),
    env: {
      ...process.env,
      ASPNETCORE_ENVIRONMENT: 'Testing',
      Admin__ApiKey: OPERATOR_KEY,
      Storage__DataDirectory: data,
      Demo__Seed: 'true',
      Logging__LogLevel__Default: 'Warning',
      'Logging__LogLevel__Microsoft.Hosting.Lifetime': 'Information',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Never leave the service running behind a crashed or killed test process.
  const kill = () => child.exitCode === null && child.kill('SIGTERM');
  process.once('exit', kill);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      kill();
      process.exit(1);
    });
  }
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the service did not start within 60 s:\n' + log)), 60000);
    const read = (chunk) => {
      log += chunk;
      const m = /Now listening on: (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('exit', (code) => reject(new Error(`the service exited (${code}):\n${log}`)));
  });
  for (let i = 0; ; i++) {
    const ready = await fetch(url + '/health/ready').then((r) => r.ok, () => false);
    if (ready) break;
    if (i > 100) throw new Error('the service never became ready:\n' + log);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    data,
    log: () => log,
    async stop({ keep = false } = {}) {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.on('exit', r)));
      process.removeListener('exit', kill);
      if (!keep) rmSync(data, { recursive: true, force: true });
    },
  };
}

/** The service's API as the tests use it: sites, policies, history. */
export function api(base) {
  const call = async (method, path, key, body) => {
    const r = await fetch(base + path, {
      method,
      headers: { Authorization: 'Bearer ' + key, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body && JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  };
  return {
    async createSite(settings = {}) {
      const r = await call('POST', '/v1/sites', OPERATOR_KEY, { name: 'Browser test shop', ...settings });
      if (r.status != 201) throw new Error('site not created: ' + JSON.stringify(r.body));
      return { id: r.body.id, adminKey: r.body.adminKey.key };
    },
    async publish(site, change, material) {
      const template = (await call('GET', '/v1/policy-template', site.adminKey)).body;
      change(template);
      if (material !== undefined) template.material = material;
      const r = await call('POST', `/v1/sites/${site.id}/policies`, site.adminKey, template);
      if (r.status != 201) throw new Error('policy not published: ' + JSON.stringify(r.body));
      return r.body;
    },
    /** Every record of the subject (an empty list when there is none yet). */
    async history(siteId, subjectId) {
      const r = await call('GET', `/v1/sites/${siteId}/subjects/${subjectId}/history`, OPERATOR_KEY);
      if (r.status == 404) return [];
      if (r.status != 200) throw new Error('history: ' + JSON.stringify(r.body));
      return r.body.records;
    },
  };
}

/** A second origin for the test pages, so the snippet works cross-origin as on a real site. */
export async function startPages() {
  const pages = new Map();
  const server = createServer((req, res) => {
    const html = pages.get(new URL(req.url, 'http://x').pathname);
    res.writeHead(html ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(html || 'not found');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  let n = 0;
  return {
    origin,
    /** Serves `html` at a new path; returns its URL. */
    add(html) {
      const path = `/page-${++n}.html`;
      pages.set(path, html);
      return origin + path;
    },
    stop: () => new Promise((r) => server.close(r)),
  };
}

/** A test page: the snippet tag first, as sites embed it, then the body. */
export const page = ({ service, siteId, lang = 'en', body = '' }) => `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><title>Test shop</title>
<script>window.__ran = [];</script>
<script src="${service}/v1/sites/${siteId}/consent.js" async></script>
</head><body>
<h1>Test shop</h1>
${body}
<footer><a href="#" id="settings" data-consent-action="preferences">Cookie settings</a></footer>
</body></html>`;

/** Debian's Chromium with the flags every suite needs; `args` adds more (host resolver rules, say). */
export const launch = (args = []) => chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-component-update', '--disable-sync', ...args],
});

/**
 * A fresh browser context (no cookies, no storage) whose network is watched: loopback passes,
 * tracker requests are answered by `trackers` and recorded, anything else is blocked and recorded.
 * Routing also turns off the HTTP cache, so every load fetches consent.js anew.
 */
export async function context(browser, { trackers = {}, gpc = false, ...options } = {}) {
  const ctx = await browser.newContext(options);
  const seen = { trackers: [], blocked: [] };
  if (gpc) {
    await ctx.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true }));
  }
  await ctx.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.hostname == '127.0.0.1') return route.continue();
    if (url.origin == TRACKER) {
      seen.trackers.push(url.pathname);
      const answer = trackers[url.pathname] || { body: '' };
      if (answer.delay) await new Promise((r) => setTimeout(r, answer.delay));
      return route.fulfill({ status: 200, contentType: answer.type || 'text/javascript', body: answer.body });
    }
    seen.blocked.push(url.href);
    return route.abort();
  });
  return { ctx, seen };
}

export async function waitFor(check, what, timeout = 10000) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 50));
  }
}
