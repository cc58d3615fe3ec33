// Writes docs/banner.png and docs/preferences.png (shown in the READMEs) from the demo page:
//   npm run screenshots
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { context, launch, startService } from './harness.mjs';

const docs = fileURLToPath(new URL('../../../docs/', import.meta.url));
const service = await startService();
const browser = await launch();
try {
  await mkdir(docs, { recursive: true });
  const { ctx } = await context(browser, { viewport: { width: 1000, height: 620 }, reducedMotion: 'reduce' });
  const p = await ctx.newPage();
  await p.goto(service.url + '/');
  await p.locator('[data-consent-banner]').waitFor();
  await p.screenshot({ path: docs + 'banner.png' });
  await p.locator('[data-consent-banner] [data-consent-action=preferences]').click();
  await p.locator('[data-consent-preferences]').waitFor();
  await p.locator('input[data-consent-purpose=analytics]').check();
  await p.screenshot({ path: docs + 'preferences.png' });
  console.log('wrote docs/banner.png and docs/preferences.png');
} finally {
  await browser.close();
  await service.stop();
}
