// The in-browser proof check: the same steps as scripts/verify-receipt.mjs, with WebCrypto only,
// over what the service hands out (the record's proof, the policy version, the public JWK set).
// Each step says ok or broken and where, so "broken" always names the place.

const RECEIPT_TYPE = 'consent-receipt';
const TREE_HEAD_TYPE = 'consent-tree-head';
const subtle = globalThis.crypto.subtle;

/**
 * @param {{ proof: object, policy: object, jwks: { keys: object[] } }} input
 *   proof: GET …/consents/{id}; policy: GET …/policies/{version}; jwks: /.well-known/consent-signing-key
 * @returns {Promise<{ verified: boolean, steps: { what: string, ok: boolean, detail: string }[] }>}
 */
export async function checkProof({ proof, policy, jwks }) {
  const steps = [];
  const report = (ok, what, detail = '') => { steps.push({ what, ok, detail }); return ok; };
  try {
    const head = await verifyJws(proof.receipt, jwks, RECEIPT_TYPE, 'receipt signature', report);
    const payload = decodeJson(String(proof.receipt).split('.')[1], 'receipt payload');
    const record = payload.record;
    if (!record || typeof record !== 'object') throw new Error('the receipt payload has no "record"');
    void head;

    // The record as signed must be the record the service shows (an edited row shows up here
    // even where the receipt was signed afresh over it).
    const recomputed = await sha256Hex(canonicalJson(record));
    report(recomputed === payload.hash, 'record hash',
      recomputed === payload.hash
        ? `${payload.hash} (position ${record.position}, ${record.method})`
        : `SHA-256 of the canonical record is ${recomputed}, the receipt says ${payload.hash}`);
    const shown = proof.record;
    const same = ['id', 'position', 'sequence', 'method', 'policyVersion', 'policyHash', 'prevHash', 'hash', 'subjectCommitment']
      .filter((k) => k in record && k in shown && JSON.stringify(record[k]) !== JSON.stringify(shown[k]));
    const purposesDiffer = JSON.stringify(sortKeys(record.purposes)) !== JSON.stringify(sortKeys(shown.purposes));
    report(same.length === 0 && !purposesDiffer && payload.hash === shown.hash, 'record matches the receipt',
      same.length === 0 && !purposesDiffer ? 'every field shown is the field signed' : `differs in ${[...same, ...(purposesDiffer ? ['purposes'] : [])].join(', ')}`);

    const content = { purposes: policy.purposes, texts: policy.texts };
    if ('privacyPolicyUrl' in policy) content.privacyPolicyUrl = policy.privacyPolicyUrl;
    const contentHash = await sha256Hex(canonicalJson(content));
    report(contentHash === policy.contentHash, 'policy text',
      contentHash === policy.contentHash ? `hashes to its contentHash ${contentHash}` : `hashes to ${contentHash}, not its contentHash ${policy.contentHash}`);
    report(policy.contentHash === record.policyHash && policy.version === record.policyVersion, 'policy bound by the record',
      `record: version ${record.policyVersion}, hash ${record.policyHash}; policy: version ${policy.version}, hash ${policy.contentHash}`);

    const inclusion = proof.checkpoint;
    if (!inclusion) {
      report(true, 'checkpoint', 'no checkpoint covers this record yet (seal one on Ledger health, or wait for the next interval)');
    } else {
      report(inclusion.leafIndex === record.position - 1, 'leaf index', `proof leaf ${inclusion.leafIndex}, record position ${record.position}`);
      const leaf = await sha256(concat([0x00], hexToBytes(payload.hash)));
      const root = await rootFromInclusionProof(inclusion.leafIndex, inclusion.treeSize, leaf, inclusion.auditPath.map(hexToBytes));
      report(root !== null && bytesToHex(root) === inclusion.rootHash, 'Merkle inclusion',
        root === null ? 'the audit path does not fit the tree size'
          : bytesToHex(root) === inclusion.rootHash ? `root ${inclusion.rootHash} (tree of ${inclusion.treeSize} records)`
            : `the path gives root ${bytesToHex(root)}, the checkpoint says ${inclusion.rootHash}`);
      const sth = await verifyJws(inclusion.signedTreeHead, jwks, TREE_HEAD_TYPE, 'checkpoint signature', report);
      if (sth) {
        report(sth.rootHash === inclusion.rootHash && sth.treeSize === inclusion.treeSize && sth.siteId === record.siteId, 'signed tree head',
          `site ${sth.siteId}, size ${sth.treeSize}, root ${sth.rootHash}, signed ${sth.timestamp}`);
      }
    }
  } catch (e) {
    report(false, 'input', e.message);
  }
  return { verified: steps.every((s) => s.ok), steps };
}

async function verifyJws(jws, jwks, type, what, report) {
  const parts = String(jws).split('.');
  if (parts.length !== 3) {
    report(false, what, 'not a compact JWS');
    return null;
  }
  const header = decodeJson(parts[0], `${what} header`);
  if (header.alg !== 'ES256' || header.typ !== type) {
    report(false, what, `header says alg ${header.alg}, typ ${header.typ}; expected ES256, ${type}`);
    return null;
  }
  const candidates = (jwks.keys || []).filter((k) => k.kty === 'EC' && k.crv === 'P-256' && (!header.kid || k.kid === header.kid));
  if (candidates.length === 0) {
    report(false, what, `no P-256 key with kid ${header.kid} in the JWK set`);
    return null;
  }
  const data = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
  const signature = base64UrlDecode(parts[2]);
  for (const jwk of candidates) {
    const key = await subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    if (await subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, signature, data)) {
      report(true, what, `ES256, key ${jwk.kid}`);
      return decodeJson(parts[1], `${what} payload`);
    }
  }
  report(false, what, `does not verify with key ${header.kid || '(any)'}`);
  return null;
}

/** RFC 8785 for the values the service hashes: strings, integers, booleans, null, arrays, objects. */
export function canonicalJson(value) {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`only integers are hashed, found ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
}

const sortKeys = (o) => Object.fromEntries(Object.entries(o || {}).sort(([a], [b]) => (a < b ? -1 : 1)));

/** RFC 9162 §2.1.3.2. */
async function rootFromInclusionProof(leafIndex, treeSize, leafHash, path) {
  if (!Number.isInteger(leafIndex) || !Number.isInteger(treeSize) || leafIndex < 0 || leafIndex >= treeSize) return null;
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = leafHash;
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(concat([0x01], p, r));
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      }
    } else {
      r = await sha256(concat([0x01], r, p));
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

function decodeJson(part, what) {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64UrlDecode(part)));
  } catch (e) {
    throw new Error(`${what} is not base64url JSON (${e.message})`);
  }
}

function base64UrlDecode(text) {
  const b64 = String(text).replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

const sha256 = async (bytes) => new Uint8Array(await subtle.digest('SHA-256', bytes));
const sha256Hex = async (text) => bytesToHex(await sha256(new TextEncoder().encode(text)));

function concat(...chunks) {
  const parts = chunks.map((c) => (c instanceof Uint8Array ? c : new Uint8Array(c)));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function hexToBytes(hex) {
  if (typeof hex !== 'string' || !/^([0-9a-f]{2})*$/.test(hex)) throw new Error(`not lower-case hex: ${hex}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const bytesToHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
