// Writes docs/console-*.png (shown in the README's Console section) from a real service with a
// seeded site:   npm run screenshots   (in console/, after building the service)
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { call, launch, openPage, seedSite, signIn, startService } from './harness.mjs';

const docs = fileURLToPath(new URL('../../../docs/', import.meta.url));
const service = await startService();
const browser = await launch();
try {
  await mkdir(docs, { recursive: true });
  const site = await seedSite(service.url, 'Example shop');
  // A day's mix of decisions, as a banner collects them.
  const methods = ['accept_all', 'accept_all', 'reject_all', 'custom', 'gpc', 'accept_all', 'custom', 'reject_all'];
  for (let i = 0; i < 40; i++) {
    const method = methods[i % methods.length];
    const analytics = method === 'accept_all' || (method === 'custom' && i % 3 !== 0);
    await call(service.url, 'POST', `/v1/sites/${site.id}/consents`, site.admin, {
      subjectId: `visitor-${i}`, policyVersion: 2, method,
      purposes: { analytics, marketing: method === 'accept_all', model_improvement: method === 'accept_all' && i % 2 === 0 },
      source: { url: 'https://shop.example/', locale: 'en' },
    });
  }
  await call(service.url, 'POST', `/v1/sites/${site.id}/ledger/checkpoints`, site.admin);
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
  await shot('person', `/console/people?${q}&q=alice-1`, '#timeline li');
  await shot('proof', `/console/records?${q}&id=${site.records[2].id}`, '#proof-result.verified', true);
  await shot('ledger', `/console/ledger?${q}&purpose=analytics&granted=true`, '#records');
  await shot('numbers', `/console/numbers?${q}`, '#chart-optin canvas', true);
  await shot('policies', `/console/policies?${q}`, '#policy-diff');
  await shot('health', `/console/health?${q}`, '#verify-result .verified');
  if (problems.length) throw new Error(problems.join('\n'));
  console.log('wrote docs/console-{signin,person,proof,ledger,numbers,policies,health}.png');
} finally {
  await browser.close();
  await service.stop();
}
