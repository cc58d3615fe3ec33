// The console's browser tests reuse the snippet's harness (the real built service on loopback,
// Debian's Chromium through playwright-core) and add what a console test needs: a site with real
// history, a signed-in page, and a watch on console errors and CSP violations.
import { spawnSync } from 'node:child_process';
import { OPERATOR_KEY, launch, startService, waitFor } from '../../../client-snippet/tests/browser/harness.mjs';

export { OPERATOR_KEY, launch, startService, waitFor };

export async function call(base, method, path, key, body) {
  const r = await fetch(base + path, {
    method,
    headers: { ...(key ? { Authorization: 'Bearer ' + key } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body && JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = text; }
  return { status: r.status, body: json, headers: r.headers };
}

async function must(base, method, path, key, body, status) {
  const r = await call(base, method, path, key, body);
  if (r.status !== status) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/**
 * A site with history: an admin and a legal key, three people with several decisions each under
 * version 1, a material version 2 and decisions under it, and a checkpoint over everything.
 */
export async function seedSite(base, name = 'Console test shop') {
  const created = await must(base, 'POST', '/v1/sites', OPERATOR_KEY, { name, allowedOrigins: ['https://shop.example'] }, 201);
  const site = { id: created.id, admin: created.adminKey.key };
  site.legal = (await must(base, 'POST', `/v1/sites/${site.id}/keys`, site.admin, { role: 'legal', label: 'privacy office' }, 201)).key;
  const record = (subjectId, policyVersion, method, purposes) => must(base, 'POST', `/v1/sites/${site.id}/consents`, site.admin,
    { subjectId, policyVersion, method, purposes, source: { url: 'https://shop.example/checkout', locale: 'en' } }, 201);
  site.records = [];
  site.records.push(await record('alice-1', 1, 'api', { analytics: true, marketing: false }));
  site.records.push(await record('bob-2', 1, 'api', { analytics: false, marketing: false }));
  site.records.push(await record('alice-1', 1, 'api', { analytics: true, marketing: true }));
  site.records.push(await record('carol-3', 1, 'api', { analytics: true, marketing: false }));
  const template = await must(base, 'GET', '/v1/policy-template', site.admin, undefined, 200);
  template.texts.en.title = 'We changed how we use your data';
  template.material = true;
  await must(base, 'POST', `/v1/sites/${site.id}/policies`, site.admin, template, 201);
  site.records.push(await record('bob-2', 2, 'api', { analytics: true, marketing: false }));
  await must(base, 'POST', `/v1/sites/${site.id}/ledger/checkpoints`, site.admin, undefined, 201).catch(async () =>
    must(base, 'POST', `/v1/sites/${site.id}/ledger/checkpoints`, site.admin, undefined, 200));
  return site;
}

/**
 * A fresh context and page whose console errors, uncaught exceptions and CSP violations are
 * collected in `problems` (the tests assert it stays empty on every screen).
 */
export async function openPage(browser, options = {}) {
  const ctx = await browser.newContext({ acceptDownloads: true, ...options });
  // Every CSP violation becomes a console error, so a refused inline style can never pass unseen.
  await ctx.addInitScript(() => document.addEventListener('securitypolicyviolation',
    (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI || 'inline'}`)));
  const page = await ctx.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() !== 'error' && !/Content Security Policy/i.test(m.text())) return;
    const url = m.location()?.url || '';
    // The page asks whether a session exists on every load; "no" (401) is an answer, not a fault.
    if (/status of 401/.test(m.text()) && url.endsWith('/console/api/session')) return;
    problems.push(`console: ${m.text()} (${url})`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return { ctx, page, problems };
}

export async function signIn(page, base, key) {
  await page.goto(base + '/console/');
  await page.getByLabel('Site key (legal or admin)').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#signout').waitFor();
}

/** Runs sqlite3 on a database file of a stopped service (the tests edit rows as an attacker would). */
export function sqlite(file, sql) {
  const r = spawnSync('sqlite3', [file, sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sqlite3 failed: ${r.stderr || r.error}`);
  return r.stdout.trim();
}
