// A receiver for ConsentService webhooks in Node (no dependencies): verifies the Standard Webhooks signature
// with node:crypto, then tells PostHog and builds Segment/RudderStack consent fields. Run:
//   WEBHOOK_SECRET=whsec_... PORT=8080 POSTHOG_HOST=https://eu.i.posthog.com POSTHOG_API_KEY=phc_... node receiver.mjs
// Run by the test suite against real signed deliveries (tests/ConsentService.Tests/Webhooks/RecipeTests.cs).
import { createServer } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';

const secret = Buffer.from((process.env.WEBHOOK_SECRET ?? '').replace(/^whsec_/, ''), 'base64');
const toleranceSeconds = 5 * 60;

/** True when the body was signed with our secret (any of the space-separated v1 signatures) within five minutes. */
export function verify(headers, body, nowSeconds = Date.now() / 1000) {
  const id = headers['webhook-id'], timestamp = headers['webhook-timestamp'], signatures = headers['webhook-signature'];
  if (!id || !timestamp || !signatures || Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(' ').some((signature) => {
    const [version, value] = signature.split(',');
    const actual = Buffer.from(value ?? '', 'base64');
    return version === 'v1' && actual.length === expected.length && timingSafeEqual(actual, expected);
  });
}

/** Segment / RudderStack: the consent fields to put on the context of that user's next calls. */
export function segmentContext(data) {
  const granted = Object.entries(data.purposes).filter(([, yes]) => yes).map(([purpose]) => purpose);
  return {
    consent: { categoryPreferences: data.purposes }, // Segment Consent Management
    consentManagement: { provider: 'custom', allowedConsentIds: granted, deniedConsentIds: Object.keys(data.purposes).filter((p) => !data.purposes[p]) }, // RudderStack
  };
}

/** PostHog: the person property that drives opt-out, set server-side with the site's own user id. */
export function posthogEvent(data) {
  return {
    api_key: process.env.POSTHOG_API_KEY ?? 'phc_test',
    event: '$set',
    distinct_id: data.subjectId,
    properties: { $set: { consent_analytics: data.purposes.analytics === true, consent_method: data.method, consent_policy_version: data.policyVersion } },
  };
}

async function handle(event) {
  const line = { id: event.id, type: event.type };
  if (event.type === 'consent.recorded') {
    line.segment = segmentContext(event.data);
    line.posthog = posthogEvent(event.data);
    if (process.env.POSTHOG_HOST) {
      await fetch(`${process.env.POSTHOG_HOST}/i/v0/e/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(line.posthog) });
    }
  }
  console.log(JSON.stringify(line));
}

const server = createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', async () => {
    const body = Buffer.concat(chunks).toString('utf8');
    if (request.method !== 'POST' || !verify(request.headers, body)) {
      response.writeHead(401).end();
      return;
    }
    const event = JSON.parse(body);
    try {
      await handle({ id: request.headers['webhook-id'], ...event });
      response.writeHead(204).end();
    } catch {
      response.writeHead(500).end(); // ConsentService retries with backoff
    }
  });
});
server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', () => console.log(`listening ${server.address().port}`));
