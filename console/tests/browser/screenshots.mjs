// Writes docs/console-*.png (shown in the README's Console section) from a real service's demo
// site:   npm run screenshots   (in console/, after building the service)
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { OPERATOR_KEY, call, launch, openPage, signIn, startService } from './harness.mjs';

const docs = fileURLToPath(new URL('../../../docs/', import.meta.url));
// The demo site with its 60 days of made-up history (Demo:SeedHistory), seen with a legal key.
const service = await startService({ env: { Demo__SeedHistory: 'true' } });
const browser = await launch();
try {
  await mkdir(docs, { recursive: true });
  const demo = 'demo';
  const key = await call(service.url, 'POST', `/v1/sites/${demo}/keys`, OPERATOR_KEY, { role: 'legal', label: 'privacy office' });
  if (key.status !== 201) throw new Error('no legal key: ' + JSON.stringify(key.body));
  // A visitor who decided, withdrew and decided again makes a timeline worth showing.
  const withdrawn = (await call(service.url, 'GET', `/v1/sites/${demo}/consents?method=withdraw&limit=20`, OPERATOR_KEY)).body.items;
  const person = withdrawn.find((r) => r.subjectId)?.subjectId;
  const history = (await call(service.url, 'GET', `/v1/sites/${demo}/subjects/${person}/history`, OPERATOR_KEY)).body.records;
  const site = { id: demo, legal: key.body.key, person, record: history[0].id };
  const { page, problems } = await openPage(browser, { viewport: { width: 1100, height: 760 }, reducedMotion: 'reduce' });
  const shot = async (name, path, ready, fullPage = false) => {
    await page.goto(service.url + path);
    await page.locator(ready).first().waitFor();
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: `${docs}console-${name}.png`, fullPage });
  };
  await shot('signin', '/console/signin', '#main form');
  await signIn(page, service.url, site.legal);
  const q = `site=${site.id}`;
  const day = (n) => new Date(Date.now() - n * 864e5).toISOString().slice(0, 10);
  await shot('person', `/console/people?${q}&q=${site.person}`, '#timeline li');
  await shot('proof', `/console/records?${q}&id=${site.record}`, '#proof-result.verified', true);
  await shot('ledger', `/console/ledger?${q}&purpose=analytics&granted=true`, '#records');
  await shot('numbers', `/console/numbers?${q}&from=${day(59)}&to=${day(0)}&by=week`, '#chart-optin canvas', true);
  await shot('policies', `/console/policies?${q}`, '#policy-diff');
  await shot('health', `/console/health?${q}`, '#verify-result .verified');
  if (problems.length) throw new Error(problems.join('\n'));
  console.log('wrote docs/console-{signin,person,proof,ledger,numbers,policies,health}.png');
} finally {
  await browser.close();
  await service.stop();
}
