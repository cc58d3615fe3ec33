// Time until the consent banner is visible in Chromium, side by side with a page that loads a
// trivial async script showing one element: both pages are served by a second loopback origin,
// loaded alternately in fresh browser contexts (empty cache), REPS times each after a warm-up.
// Prints one JSON line: medians and every sample, in ms since navigation start.
// Usage: node banner.mjs BASE_URL SITE_ID [REPS]
import { createServer } from 'node:http';
import { chromium } from '../client-snippet/node_modules/playwright-core/index.mjs';
import { html, serveTrivialScript, watch } from './banner-pages.mjs';

const [base, site, reps = '15'] = process.argv.slice(2);

const { server: scripts, origin: scriptsOrigin } = await serveTrivialScript();

const server = createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  const pages = {
    '/snippet.html': html(watch('[data-consent-banner]') + `<script src="${base}/v1/sites/${site}/consent.js" async></script>`),
    '/trivial.html': html(watch('[data-trivial]') + `<script src="${scriptsOrigin}/trivial.js" async></script>`),
  };
  res.writeHead(pages[path] ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(pages[path] || 'not found');
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const pagesOrigin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--no-first-run', '--disable-component-update', '--disable-sync'],
});

async function measure(page) {
  const ctx = await browser.newContext();
  try {
    const tab = await ctx.newPage();
    await tab.goto(`${pagesOrigin}/${page}.html`);
    await tab.waitForFunction(() => window.__visibleAt !== null, null, { timeout: 10000 });
    return await tab.evaluate(() => window.__visibleAt);
  } finally {
    await ctx.close();
  }
}

const samples = { snippet: [], trivial: [] };
try {
  for (let i = 0; i < 3; i++) { await measure('snippet'); await measure('trivial'); }
  for (let i = 0; i < Number(reps); i++) {
    // Alternate which goes first, so neither always runs on a just-warmed machine.
    const order = i % 2 ? ['trivial', 'snippet'] : ['snippet', 'trivial'];
    for (const page of order) samples[page].push(await measure(page));
  }
} finally {
  await browser.close();
  server.close();
  scripts.close();
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const round = (x) => Math.round(x * 10) / 10;
console.log(JSON.stringify({
  reps: Number(reps),
  snippetMedianMs: round(median(samples.snippet)),
  trivialMedianMs: round(median(samples.trivial)),
  differenceMs: round(median(samples.snippet) - median(samples.trivial)),
  snippet: samples.snippet.map(round),
  trivial: samples.trivial.map(round),
}));
