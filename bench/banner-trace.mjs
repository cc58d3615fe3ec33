// Chromium performance trace of the banner against a trivial async script (the pages of
// bench/banner.mjs): for each page, loaded in a fresh context, prints the main-thread work of the
// page's renderer from navigation start to the moment the element is visible, in order, with
// durations (script evaluation, style recalculation, layout, timers, idle callbacks, synchronous
// IPC such as storage or cookie reads), and where the script's request spent its time.
// Usage: node bench/banner-trace.mjs BASE_URL SITE_ID [REPS] [--json DIR]
// REPS traces of each page (alternated); prints one summary per trace and the medians of the phases.
import { createServer } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { chromium } from '../client-snippet/node_modules/playwright-core/index.mjs';
import { html, serveTrivialScript, watch } from './banner-pages.mjs';

const args = process.argv.slice(2);
const option = (name) => (args.includes(name) ? args.splice(args.indexOf(name), 2)[1] : null);
const jsonDir = option('--json');
// --plain: no tracing, only the time to visible (as bench/banner.mjs), for many alternated reps.
const plain = args.includes('--plain') && args.splice(args.indexOf('--plain'), 1);
// --variant NAME=FILE (repeatable): also a page whose script is FILE (a consent.min.js build) with the
// site's config from the service inlined, served gzipped from its own origin, to compare builds in one run.
const variants = [];
for (let v; (v = option('--variant'));) variants.push(v.split('='));
const [base, site, reps = '3'] = args;

const { server: scripts, origin: scriptsOrigin } = await serveTrivialScript();
const pages = {
  snippet: { html: html(watch('[data-consent-banner]') + `<script src="${base}/v1/sites/${site}/consent.js" async></script>`), script: '/consent.js' },
  trivial: { html: html(watch('[data-trivial]') + `<script src="${scriptsOrigin}/trivial.js" async></script>`), script: '/trivial.js' },
};
const config = variants.length ? await (await fetch(`${base}/v1/sites/${site}/config`)).text() : null;
const builds = Object.fromEntries(await Promise.all(variants.map(async ([name, file]) =>
  [name, gzipSync((await readFile(file, 'utf8')).replace('__CONSENT_CONFIG__', () => config))])));
const files = createServer((req, res) => {
  const body = builds[new URL(req.url, 'http://x').pathname.slice(1).replace('.js', '')];
  res.writeHead(body ? 200 : 404, { 'Content-Type': 'text/javascript; charset=utf-8', 'Content-Encoding': 'gzip', 'Cache-Control': 'max-age=300', 'Access-Control-Allow-Origin': '*' });
  res.end(body);
});
await new Promise((r) => files.listen(0, '127.0.0.1', r));
for (const [name] of variants) {
  pages[name] = { html: html(watch('[data-consent-banner]') + `<script src="http://127.0.0.1:${files.address().port}/${name}.js" async></script>`), script: `/${name}.js` };
}
const server = createServer((req, res) => {
  const page = pages[new URL(req.url, 'http://x').pathname.slice(1).replace('.html', '')];
  res.writeHead(page ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(page ? page.html : 'not found');
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const pagesOrigin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--no-first-run', '--disable-component-update', '--disable-sync'],
});
const categories = [
  'devtools.timeline', 'disabled-by-default-devtools.timeline', 'blink.user_timing', 'loading', 'v8.execute',
  'toplevel', 'disabled-by-default-devtools.timeline.stack', 'netlog', 'disabled-by-default-netlog', 'blink', 'mojom', 'ipc', 'navigation', 'benchmark', 'rail', 'v8',
].join(',');

async function visible(name) {
  const ctx = await browser.newContext();
  try {
    const tab = await ctx.newPage();
    await tab.goto(`${pagesOrigin}/${name}.html`);
    await tab.waitForFunction(() => window.__visibleAt !== null, null, { timeout: 10000 });
    return { name, visibleAt: await tab.evaluate(() => window.__visibleAt) };
  } finally {
    await ctx.close();
  }
}

async function trace(name) {
  if (plain) return visible(name);
  const cdp = await browser.newBrowserCDPSession();
  const events = [];
  cdp.on('Tracing.dataCollected', ({ value }) => events.push(...value));
  const done = new Promise((r) => cdp.once('Tracing.tracingComplete', r));
  const ctx = await browser.newContext();
  try {
    const tab = await ctx.newPage();
    await cdp.send('Tracing.start', { traceConfig: { includedCategories: categories.split(','), recordMode: 'recordAsMuchAsPossible' }, transferMode: 'ReportEvents' });
    await tab.goto(`${pagesOrigin}/${name}.html`);
    await tab.waitForFunction(() => window.__visibleAt !== null, null, { timeout: 10000 });
    // A frame after visibility, so the paint that shows it is in the trace.
    await tab.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50))));
    const visibleAt = await tab.evaluate(() => window.__visibleAt);
    await cdp.send('Tracing.end');
    await done;
    return { name, visibleAt, events };
  } finally {
    await ctx.close();
    await cdp.detach();
  }
}

// The renderer main thread that ran the page: the thread with the 'visible' user-timing mark.
function summarise({ name, visibleAt, events }) {
  if (!events) return { name, visibleAt: Math.round(visibleAt * 10) / 10, phases: {}, rows: [] };
  const mark = events.find((e) => e.name == 'visible' && e.cat.includes('blink.user_timing'));
  // Trace time of the page's time origin: the mark's timestamp less its performance.now().
  const t0 = mark.ts - visibleAt * 1000;
  const main = events.filter((e) => e.pid == mark.pid && e.tid == mark.tid && e.ts >= t0 && e.ts <= mark.ts + 30000);
  const ms = (ts) => Math.round((ts - t0) / 100) / 10;
  const rows = [];
  const interesting = /^(EvaluateScript|v8\.compile|v8\.run|v8\.callFunction|FunctionCall|ParseHTML|UpdateLayoutTree|RecalculateStyles|Layout|Paint|PrePaint|Commit|TimerFire|FireIdleCallback|FireAnimationFrame|EventDispatch|ScheduleStyleRecalculation|ResourceSendRequest|ResourceReceiveResponse|ResourceFinish|MarkDOMContent|MarkLoad|firstPaint|firstContentfulPaint|ParseAuthorStyleSheet|HitTest|UpdateLayer|Layerize|V8\.GC.*|MajorGC|MinorGC|XHRReadyStateChange|visible|.*StorageArea.*|.*CookieManager.*|.*Sync.*)$/;
  for (const e of main) {
    if (!interesting.test(e.name) && !(e.dur > 2000)) continue;
    const url = e.args?.data?.url || e.args?.data?.stackTrace?.[0]?.url || e.args?.data?.frame && '' || '';
    rows.push({ at: ms(e.ts), dur: e.dur ? Math.round(e.dur / 100) / 10 : undefined, name: e.name, url: url.replace(/^https?:\/\/[^/]+/, '') });
  }
  // Nested events: keep top-level-ish ones with a duration over 0.2 ms, and every instant mark.
  const shown = rows.filter((r) => r.dur === undefined ? /Mark|visible|Resource|firstPaint|firstContentful/.test(r.name) : r.dur >= 0.2);
  const first = (re, from = -Infinity) => rows.find((r) => re.test(r.name) && r.at >= from);
  const scriptRow = rows.find((r) => r.name == 'EvaluateScript' && r.url.endsWith(pages[name].script));
  const sent = rows.find((r) => r.name == 'ResourceSendRequest' && r.url.endsWith(pages[name].script));
  const recv = rows.find((r) => r.name == 'ResourceReceiveResponse' && r.url.endsWith(pages[name].script));
  const fin = rows.find((r) => r.name == 'ResourceFinish' && r.url.endsWith(pages[name].script));
  const dcl = first(/MarkDOMContent/);
  // The script's request as the network stack saw it (timing is relative to requestTime, in s).
  const response = main.concat(events.filter((e) => e.pid == mark.pid)).find((e) => e.name == 'ResourceReceiveResponse' && e.args.data.url == undefined
    && e.args.data.requestId == events.find((x) => x.name == 'ResourceSendRequest' && x.args.data.url?.endsWith(pages[name].script))?.args.data.requestId);
  const timing = response?.args.data.timing;
  const net = timing && {
    connectMs: timing.connectStart >= 0 ? Math.round((timing.connectEnd - timing.connectStart) * 10) / 10 : 0,
    serverWaitMs: Math.round((timing.receiveHeadersStart - timing.sendEnd) * 10) / 10,
    headersAt: ms(timing.requestTime * 1e6 + timing.receiveHeadersEnd * 1000),
  };
  // The end of the first frame the main thread commits after the element is in the DOM: its pixels.
  const painted = main.find((e) => e.name == 'Commit' && e.ts > mark.ts && e.dur);
  // Inside the script's evaluation: what of it is synchronous IPC, style, layout.
  const ev = main.find((e) => e.name == 'EvaluateScript' && e.args?.data?.url?.endsWith(pages[name].script));
  const within = ev ? main.filter((e) => e.ts >= ev.ts && e.ts <= ev.ts + ev.dur) : [];
  const sum = (re) => Math.round(within.filter((e) => re.test(e.name)).reduce((a, e) => a + (e.dur || 0), 0) / 100) / 10;
  const inEval = ev && {
    cookieIpcMs: sum(/^RestrictedCookieManager::GetCookiesString$/),
    storageIpcMs: sum(/^(StorageArea::GetAll|ContentSettingsManager::AllowStorageAccess)$/),
    styleSheetMs: sum(/^StyleElement::processStyleSheet$/),
    styleRecalcMs: sum(/^UpdateLayoutTree$/),
    forcedLayoutMs: sum(/^Blink.ForcedStyleAndLayout.UpdateTime$/),
    fontMatchMs: sum(/^FontDataService::MatchFamilyName$/),
  };
  return {
    name,
    visibleAt: Math.round(visibleAt * 10) / 10,
    phases: {
      requestSent: sent?.at, responseStart: recv?.at, responseEnd: fin?.at, domContentLoaded: dcl?.at,
      evaluateStart: scriptRow?.at, evaluateMs: scriptRow?.dur, visibleMark: ms(mark.ts), paintedAt: painted && ms(painted.ts + painted.dur), ...net, ...inEval,
    },
    rows: shown,
  };
}

const results = [];
try {
  const names = Object.keys(pages);
  for (const name of names) await trace(name); // warm-up: the service's first requests, disk caches
  for (let i = 0; i < Number(reps); i++) {
    // Rotate the order, so no page always runs on a just-warmed machine.
    for (const name of names.map((_, j) => names[(i + j) % names.length])) {
      const t = await trace(name);
      if (jsonDir) await writeFile(`${jsonDir}/${name}-${i}.json`, JSON.stringify({ traceEvents: t.events }));
      results.push(summarise(t));
    }
  }
} finally {
  await browser.close();
  server.close();
  scripts.close();
  files.close();
}
for (const r of process.env.ROWS ? results : []) {
  console.log(`\n== ${r.name}: visible at ${r.visibleAt} ms`, JSON.stringify(r.phases));
  for (const row of r.rows) console.log(`${String(row.at).padStart(8)} ${row.dur === undefined ? '       ' : String(row.dur).padStart(6) + 'ms'} ${row.name} ${row.url}`);
}
const median = (xs) => { const s = xs.filter((x) => x != null).sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
for (const name of Object.keys(pages)) {
  const mine = results.filter((r) => r.name == name);
  const out = { name, visibleAt: median(mine.map((r) => r.visibleAt)) };
  if (!plain) for (const r of mine) console.log(name, JSON.stringify({ visibleAt: r.visibleAt, ...r.phases }));
  for (const k of Object.keys(mine[0].phases)) out[k] = median(mine.map((r) => r.phases[k]));
  if (name != 'trivial') out.minusTrivial = Math.round((out.visibleAt - median(results.filter((r) => r.name == 'trivial').map((r) => r.visibleAt))) * 10) / 10;
  console.log('median', JSON.stringify(out));
}
