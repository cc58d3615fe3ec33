// The in-browser proof check. The checking itself is scripts/receipt-check.mjs, the one module the
// command line (scripts/verify-receipt.mjs) uses too, so the console and the CLI can never disagree;
// this file only adds the console's own comparison: the record shown is the record signed.
import { checkReceipt } from '../../scripts/receipt-check.mjs';

/**
 * @param {{ proof: object, policy: object, jwks: { keys: object[] } }} input
 *   proof: GET …/consents/{id}; policy: GET …/policies/{version}; jwks: /.well-known/consent-signing-key
 * @returns {Promise<{ verified: boolean, steps: { what: string, ok: boolean, detail: string }[] }>}
 */
export async function checkProof({ proof, policy, jwks }) {
  const { checks } = await checkReceipt({ receipt: proof.receipt, jwks, policy, proof: proof.checkpoint || undefined });
  const steps = checks.map((c) => ({ what: c.name, ok: c.ok, detail: c.detail }));
  const signed = proof.receipt && proof.receipt.record;
  if (signed && proof.record) {
    const fields = ['id', 'position', 'sequence', 'method', 'policyVersion', 'policyHash', 'prevHash', 'hash', 'subjectCommitment', 'purposes', 'recordedAt'];
    const differ = fields.filter((k) => k in signed && JSON.stringify(sorted(signed[k])) !== JSON.stringify(sorted(proof.record[k])) &&
      !(k === 'recordedAt' && Date.parse(signed[k]) === Date.parse(proof.record[k])));
    steps.push({ what: 'record shown is the record signed', ok: differ.length === 0,
      detail: differ.length === 0 ? 'every field on this page is the field the receipt signs' : `differs in ${differ.join(', ')}` });
  }
  if (!proof.checkpoint) {
    steps.push({ what: 'checkpoint', ok: true, detail: 'no checkpoint covers this record yet (an admin can seal one on Ledger health; otherwise at the next interval)' });
  }
  return { verified: steps.length > 0 && steps.every((s) => s.ok), steps };
}

const sorted = (v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v);
