// Seeds a site through the public API: COUNT visitors' decisions (new subjects), CONCURRENCY at a
// time; prints the subject ids, one a line. Every write also puts the subject in the read cache.
// Usage: node seed.mjs BASE_URL SITE_ID COUNT [CONCURRENCY] [SECRETS_FILE]
// SECRETS_FILE: also writes "subjectId subjectSecret" a line (the secret the service minted and showed
// once), for scenarios of returning visitors, who must prove their id.
import { writeFileSync } from 'node:fs';

const [base, site, count, concurrency = '16', secretsFile] = process.argv.slice(2);
const total = Number(count);
const methods = ['accept_all', 'reject_all', 'custom'];
let next = 0;
const subjects = [];
const returning = [];

async function worker() {
  while (next < total) {
    const i = next++;
    const method = methods[i % methods.length];
    const body = { policyVersion: 1, method, source: { url: 'https://bench.example/', locale: 'en' } };
    if (method === 'custom') body.purposes = { analytics: i % 2 === 0 };
    const r = await fetch(`${base}/v1/sites/${site}/consents`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
      body: JSON.stringify(body),
    });
    if (r.status !== 201) throw new Error(`seed write ${i}: ${r.status} ${await r.text()}`);
    const created = await r.json();
    subjects.push(created.subjectId);
    returning.push(`${created.subjectId} ${created.subjectSecret}`);
  }
}

await Promise.all(Array.from({ length: Number(concurrency) }, worker));
if (secretsFile) writeFileSync(secretsFile, returning.join('\n') + '\n');
process.stdout.write(subjects.join('\n') + '\n');
