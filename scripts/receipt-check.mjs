// The one implementation of "check a ConsentService receipt yourself": a pure ES module (WebCrypto and
// TextEncoder only, no Node API), imported by the command line (scripts/verify-receipt.mjs) and by a
// browser page alike. Offline: it never fetches anything; the caller hands it what the service published.
//
//   import { checkReceipt } from './receipt-check.mjs';
//   const { ok, checks } = await checkReceipt({ receipt, jwks, policy, proof });
//
// Input (plain objects as parsed from JSON; strings holding JSON are parsed too):
//   receipt  the receipt object { record, hash, leafIndex, auditPath, batchHead }, or an answer that
//            holds it as its "receipt" member (the 201 of POST …/consents, GET …/consents/{id})
//   jwks     the JWK set of /.well-known/consent-signing-key ({ keys: [...] }); the key is picked by kid
//   policy   optional: GET /v1/sites/{site}/policies/{version}, the version the record names
//   proof    optional: a checkpoint inclusion proof (GET …/consents/{id} once sealed: its "checkpoint"
//            member, the whole answer, or the proof alone)
//
// Result: { ok, checks: [{ name, ok, detail }] }, ok when every check holds. Checks, in order:
//   batch head signature        ES256 over the batch head (JWS typ consent-batch-head), key by kid
//   record hash                 SHA-256 of the record's canonical JSON (RFC 8785) equals "hash"
//   batch inclusion             RFC 9162 audit path from leaf H(0x00‖hash) at leafIndex to the head's rootHash
//   batch head                  the head names the record's site, the signing kid, and position = firstPosition + leafIndex
//   policy content, policy bound by the record      (with policy)
//   leaf index, inclusion proof, tree head signature, signed tree head   (with proof)
// A receipt is bad input (a single failing "input" check) when it is not the shape above.

export const BATCH_HEAD_TYPE = 'consent-batch-head';
export const TREE_HEAD_TYPE = 'consent-tree-head';

export async function checkReceipt({ receipt, jwks, policy, proof } = {}) {
  const checks = [];
  const add = (name, ok, detail = '') => {
    checks.push({ name, ok: Boolean(ok), detail });
    return Boolean(ok);
  };
  try {
    const r = unwrapReceipt(receipt);
    const keySet = typeof jwks === 'string' ? JSON.parse(jwks) : jwks;
    if (!keySet || !Array.isArray(keySet.keys)) throw new Error('the JWK set has no "keys"');
    const { record } = r;

    // 1. The signature over the batch head.
    const head = await verifyJws(r.batchHead, keySet, BATCH_HEAD_TYPE, 'batch head signature', add);

    // 2. The record's hash.
    const recomputed = await sha256Hex(canonicalJson(record));
    add('record hash', recomputed === r.hash,
      recomputed === r.hash
        ? `${r.hash} (record ${record.id}, site ${record.siteId}, position ${record.position}, ${record.method}, ` +
          `purposes ${JSON.stringify(record.purposes)}, ${record.recordedAt})`
        : `SHA-256 of the canonical record is ${recomputed}, the receipt says ${r.hash}`);

    // 3. The record's leaf under the signed root. The leaf is built from the recomputed hash, so an
    //    edited record fails here too, whatever "hash" says.
    if (head) {
      const leaf = await sha256(concat([0x00], hexToBytes(recomputed)));
      const root = await rootFromInclusionProof(r.leafIndex, head.treeSize, leaf, r.auditPath.map(hexToBytes));
      add('batch inclusion', root !== null && bytesToHex(root) === head.rootHash,
        root === null
          ? `the audit path (${r.auditPath.length} hashes, leaf ${r.leafIndex}) does not fit a batch of ${head.treeSize}`
          : `leaf ${r.leafIndex} of ${head.treeSize} → root ${bytesToHex(root)}${bytesToHex(root) === head.rootHash ? '' : `, the signed head says ${head.rootHash}`}`);
      const kid = decodeJson(String(r.batchHead).split('.')[0], 'batch head header').kid;
      const bound = head.siteId === record.siteId && head.kid === kid && Number.isSafeInteger(head.firstPosition)
        && record.position === head.firstPosition + r.leafIndex;
      add('batch head', bound,
        `site ${head.siteId}, key ${head.kid}, positions ${head.firstPosition}–${head.firstPosition + head.treeSize - 1}, signed ${head.timestamp}` +
        (bound ? '' : `; the record is site ${record.siteId}, position ${record.position}, leaf ${r.leafIndex}, header kid ${kid}`));
    } else {
      add('batch inclusion', false, 'no trusted batch head to check the path against');
    }

    // 4. The policy the decision was made under.
    if (policy) {
      const p = typeof policy === 'string' ? JSON.parse(policy) : policy;
      const content = { purposes: p.purposes, texts: p.texts };
      if ('privacyPolicyUrl' in p) content.privacyPolicyUrl = p.privacyPolicyUrl;
      const contentHash = await sha256Hex(canonicalJson(content));
      add('policy content', contentHash === p.contentHash,
        contentHash === p.contentHash ? `hashes to its contentHash ${contentHash}` : `hashes to ${contentHash}, not its contentHash ${p.contentHash}`);
      add('policy bound by the record', p.contentHash === record.policyHash && p.version === record.policyVersion,
        `record: version ${record.policyVersion}, policyHash ${record.policyHash}; policy: version ${p.version}, contentHash ${p.contentHash}`);
    }

    // 5. The record in a signed checkpoint of the whole site ledger.
    if (proof) {
      const file = typeof proof === 'string' ? JSON.parse(proof) : proof;
      const inclusion = file.auditPath ? file : file.checkpoint;
      if (!inclusion) {
        add('inclusion proof', false, 'no checkpoint yet (the record is not sealed)');
      } else {
        add('leaf index', inclusion.leafIndex === record.position - 1, `proof leaf ${inclusion.leafIndex}, record position ${record.position}`);
        const leaf = await sha256(concat([0x00], hexToBytes(recomputed)));
        const root = await rootFromInclusionProof(inclusion.leafIndex, inclusion.treeSize, leaf, inclusion.auditPath.map(hexToBytes));
        add('inclusion proof', root !== null && bytesToHex(root) === inclusion.rootHash,
          root === null ? 'the audit path does not fit the tree size' : `root ${bytesToHex(root)} (tree of ${inclusion.treeSize} records)`);
        const treeHead = await verifyJws(inclusion.signedTreeHead, keySet, TREE_HEAD_TYPE, 'tree head signature', add);
        if (treeHead) {
          add('signed tree head', treeHead.rootHash === inclusion.rootHash && treeHead.treeSize === inclusion.treeSize && treeHead.siteId === record.siteId,
            `site ${treeHead.siteId}, size ${treeHead.treeSize}, root ${treeHead.rootHash}, signed ${treeHead.timestamp}`);
        }
      }
    }
  } catch (e) {
    add('input', false, e.message);
  }
  return { ok: checks.length > 0 && checks.every(c => c.ok), checks };
}

/** The receipt object out of whatever was handed over; throws naming what is missing. */
export function unwrapReceipt(input) {
  let value = typeof input === 'string' ? JSON.parse(input) : input;
  if (value && typeof value === 'object' && value.receipt && typeof value.receipt === 'object') value = value.receipt;
  if (!value || typeof value !== 'object') throw new Error('no receipt given');
  const missing = ['record', 'hash', 'leafIndex', 'auditPath', 'batchHead'].filter(k => !(k in value));
  if (missing.length > 0) throw new Error(`the receipt has no ${missing.map(k => `"${k}"`).join(', ')}`);
  if (!value.record || typeof value.record !== 'object') throw new Error('the receipt\'s "record" is not an object');
  if (!Number.isSafeInteger(value.leafIndex) || value.leafIndex < 0) throw new Error('the receipt\'s "leafIndex" is not a non-negative integer');
  if (!Array.isArray(value.auditPath)) throw new Error('the receipt\'s "auditPath" is not an array');
  if (typeof value.batchHead !== 'string') throw new Error('the receipt\'s "batchHead" is not a compact JWS');
  return value;
}

// ---- JWS (RFC 7515, compact, ES256) ---------------------------------------------------------

async function verifyJws(jws, jwks, type, what, add) {
  const parts = String(jws).split('.');
  if (parts.length !== 3) {
    add(what, false, 'not a compact JWS');
    return null;
  }
  const header = decodeJson(parts[0], `${what} header`);
  if (header.alg !== 'ES256' || header.typ !== type) {
    add(what, false, `header says alg ${header.alg}, typ ${header.typ}; expected ES256, ${type}`);
    return null;
  }
  const jwk = jwks.keys.find(k => k.kty === 'EC' && k.crv === 'P-256' && k.kid === header.kid);
  if (!jwk) {
    add(what, false, `no P-256 key with kid ${header.kid} in the JWK set`);
    return null;
  }
  const data = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
  const signature = base64UrlDecode(parts[2]); // r‖s, as WebCrypto expects for ECDSA
  const key = await crypto.subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  if (!(await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, signature, data))) {
    add(what, false, `does not verify with key ${header.kid}`);
    return null;
  }
  add(what, true, `ES256, key ${jwk.kid}${jwk.status && jwk.status !== 'active' ? ` (${jwk.status})` : ''}`);
  return decodeJson(parts[1], `${what} payload`);
}

// ---- canonical JSON (RFC 8785 for the values used here: strings, integers, booleans, null) ----

export function canonicalJson(value) {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`only integers are hashed, found ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value !== 'object') throw new Error(`cannot hash a ${typeof value}`);
  // Default sort compares UTF-16 code units, as RFC 8785 §3.2.3 asks.
  return `{${Object.keys(value).sort().map(k => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
}

// ---- Merkle tree (RFC 9162 §2.1.3.2) -------------------------------------------------------

async function rootFromInclusionProof(leafIndex, treeSize, leafHash, path) {
  if (!Number.isSafeInteger(leafIndex) || !Number.isSafeInteger(treeSize) || leafIndex < 0 || leafIndex >= treeSize) return null;
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

// ---- plumbing (no Buffer: this runs in browsers too) -----------------------------------------

function decodeJson(part, what) {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64UrlDecode(part)));
  } catch (e) {
    throw new Error(`${what} is not base64url JSON (${e.message})`);
  }
}

function base64UrlDecode(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url');
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4));
  return Uint8Array.from(binary, c => c.charCodeAt(0));
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

async function sha256Hex(text) {
  return bytesToHex(await sha256(new TextEncoder().encode(text)));
}

function concat(...chunks) {
  const parts = chunks.map(c => (c instanceof Uint8Array ? c : new Uint8Array(c)));
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

function bytesToHex(bytes) {
  return Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');
}
