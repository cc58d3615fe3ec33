import { h, fmtTime } from '../dom.js';
import { get, sitePath } from '../api.js';
import { checkProof } from '../verify.js';

/**
 * One decision with everything that proves it, checked here in the browser (WebCrypto), and a
 * bundle a regulator can check without the service (scripts/verify-receipt.mjs reads its parts).
 */
export async function proof({ main, site, params, link, href, announce }) {
  const id = params.get('id');
  if (!id) {
    main.append(h('p', null, 'Open a record from a person\u2019s timeline or from the ledger query.'));
    return;
  }
  const proofData = await get(sitePath(site, `/consents/${encodeURIComponent(id)}`));
  const r = proofData.record;
  const [policy, jwks] = await Promise.all([
    get(sitePath(site, `/policies/${r.policyVersion}`)),
    get('/.well-known/consent-signing-key'),
  ]);
  const result = h('div', { id: 'proof-result', class: 'result', 'aria-live': 'polite' }, 'Checking in this browser…');
  const steps = h('ol', { id: 'proof-steps', class: 'steps' });
  main.append(
    h('p', { class: 'lead' }, 'Record ', h('code', null, r.id), r.subjectId ? [' of subject ', link(href('people', { q: r.subjectId }), r.subjectId)] : ' (subject erased)'),
    result,
    h('section', { class: 'card' },
      h('h2', null, 'The check'),
      h('p', { class: 'hint' }, 'Recomputed here with WebCrypto (the same module as scripts/verify-receipt.mjs): the ES256 signatures against /.well-known/consent-signing-key, the record hash, the Merkle paths to the signed batch head and checkpoint, and the policy text hash.'),
      steps,
      h('button', { type: 'button', id: 'recheck', class: 'secondary', onclick: () => run() }, 'Check again')),
    h('section', { class: 'card' },
      h('h2', null, 'The record'),
      h('dl', { class: 'pairs' },
        h('dt', null, 'Time'), h('dd', null, fmtTime(r.recordedAt)),
        h('dt', null, 'Method'), h('dd', null, r.method),
        h('dt', null, 'Purposes'), h('dd', null, Object.entries(r.purposes).map(([k, v]) => `${k}: ${v ? 'granted' : 'refused'}`).join(', ')),
        h('dt', null, 'Policy'), h('dd', null, link(href('policies', { version: r.policyVersion }), `version ${r.policyVersion}`), ' · hash ', h('code', { class: 'hash' }, proofData.policy.contentHash)),
        h('dt', null, 'Chain'), h('dd', null, `ledger position ${proofData.chain.position}, subject sequence ${proofData.chain.sequence}`),
        h('dt', null, 'Record hash'), h('dd', null, h('code', { class: 'hash' }, proofData.chain.hash)),
        h('dt', null, 'Previous hash'), h('dd', null, h('code', { class: 'hash' }, proofData.chain.prevHash || '— (first of this subject)')),
        h('dt', null, 'Checkpoint'), h('dd', null, proofData.checkpoint
          ? `leaf ${proofData.checkpoint.leafIndex} of a tree of ${proofData.checkpoint.treeSize}, signed ${fmtTime(proofData.checkpoint.signedAt)}`
          : 'not yet covered by a checkpoint'))),
    h('section', { class: 'card' },
      h('h2', null, 'The policy text'),
      h('p', { class: 'hint' }, `Version ${policy.version}, published ${fmtTime(policy.publishedAt)}, content hash `, h('code', { class: 'hash' }, policy.contentHash)),
      Object.entries(policy.texts || {}).slice(0, 1).map(([language, t]) => [
        h('h3', { lang: language }, t.title),
        h('p', { class: 'wrap', lang: language }, t.description),
        h('ul', null, (policy.purposes || []).map((p) => h('li', null, h('strong', null, t.purposes?.[p.id]?.title || p.id),
          `${p.required ? ' (required)' : ''} — ${p.legalBasis}: `, t.purposes?.[p.id]?.description || '')))])),
    h('section', { class: 'card no-print' },
      h('h2', null, 'Take it away'),
      h('p', null, 'The bundle holds the record, its receipt, its checkpoint inclusion, the policy version and the signing keys: everything ',
        h('code', null, 'node scripts/verify-receipt.mjs'), ' needs to check it offline, without this service.'),
      h('div', { class: 'actions' },
        bundleLink(r, proofData, policy, jwks),
        h('button', { type: 'button', id: 'print', class: 'secondary', onclick: () => window.print() }, 'Print this page'))));

  async function run() {
    steps.replaceChildren();
    const outcome = await checkProof({ proof: proofData, policy, jwks });
    for (const s of outcome.steps) {
      steps.append(h('li', { class: s.ok ? 'ok' : 'broken' }, h('strong', null, s.ok ? '\u2713 ok ' : '\u2717 BROKEN '), s.what, s.detail ? [': ', h('span', { class: 'wrap' }, s.detail)] : ''));
    }
    const broken = outcome.steps.filter((s) => !s.ok);
    result.className = 'result ' + (outcome.verified ? 'verified' : 'failed');
    result.textContent = outcome.verified ? 'Verified: this decision is as signed and sealed.' : `Broken: ${broken.map((s) => s.what).join(', ')}.`;
    announce(result.textContent);
  }
  await run();
}

/** A small JSON file built from what is on screen (one record: kilobytes, not the ledger). */
function bundleLink(record, proofData, policy, jwks) {
  const bundle = {
    about: 'A ConsentService proof bundle. Check it offline: save the "policy" member as policy.json and the "jwks" member as ' +
      'jwks.json, then: node scripts/verify-receipt.mjs --receipt bundle.json --proof bundle.json --policy policy.json --jwks jwks.json',
    exportedAt: new Date().toISOString(),
    record: proofData.record,
    chain: proofData.chain,
    receipt: proofData.receipt,
    checkpoint: proofData.checkpoint,
    policy,
    jwks,
  };
  const url = URL.createObjectURL(new Blob([JSON.stringify(bundle, null, 2)], { type: 'application/json' }));
  return h('a', { href: url, download: `proof-${record.id}.json`, id: 'bundle', class: 'button' }, 'Download proof bundle (JSON)');
}
