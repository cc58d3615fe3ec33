#!/usr/bin/env node
// Checks a ConsentService receipt with nothing but the files the service hands out, offline, with
// Node 20+'s built-in WebCrypto (no dependencies, nothing to install):
//
//   node scripts/verify-receipt.mjs --receipt receipt.json --jwks jwks.json --policy policy.json [--proof proof.json]
//
//   --receipt  the receipt: a compact JWS, or the JSON the service answered with (a 201 of
//              POST …/consents, or GET …/consents/{id}), whose "receipt" member is taken
//   --jwks     the JWK set of /.well-known/consent-signing-key (a file, or an http(s) URL to fetch)
//   --policy   GET /v1/sites/{site}/policies/{version}: the policy version the record names
//   --proof    optional: GET …/consents/{id} once a checkpoint covers the record (its "checkpoint"
//              member), or that inclusion proof alone
//
// What it checks, in order (each line says ok or BROKEN and where):
//   1. the receipt's ES256 signature, with the key its "kid" names in the JWK set;
//   2. SHA-256 over the canonical JSON (RFC 8785: members sorted, no white space) of the receipt's
//      "record", which must equal its "hash": the record binds its purposes, method, time, policy
//      hash, position, previous hash and the subject and source commitments;
//   3. the policy file: its content hashes to its "contentHash", which must be the record's
//      "policyHash" (and its version the record's "policyVersion");
//   4. with --proof: the RFC 9162 audit path from the record's leaf H(0x00‖hash) to the root, and the
//      signed tree head's signature, site, size and root.
// Exit code 0 when everything holds ("VERIFIED"), 1 when something does not ("BROKEN"), 2 on bad usage.

import { readFile } from 'node:fs/promises';
import { webcrypto as crypto } from 'node:crypto';

const RECEIPT_TYPE = 'consent-receipt';
const TREE_HEAD_TYPE = 'consent-tree-head';

const args = parseArgs(process.argv.slice(2));
if (!args.receipt || !args.jwks || !args.policy) {
  console.error('usage: node verify-receipt.mjs --receipt FILE --jwks FILE|URL --policy FILE [--proof FILE]');
  process.exit(2);
}

const failures = [];
const report = (ok, what, detail = '') => {
  console.log(`${ok ? 'ok     ' : 'BROKEN '} ${what}${detail ? `: ${detail}` : ''}`);
  if (!ok) failures.push(what);
  return ok;
};

try {
  const jwks = await readJson(args.jwks);
  const receiptText = (await readFile(args.receipt, 'utf8')).trim();
  const jws = receiptText.startsWith('{') ? JSON.parse(receiptText).receipt : receiptText;
  if (typeof jws !== 'string') throw new Error(`${args.receipt} holds no "receipt"`);

  // 1. The signature.
  await verifyJws(jws, jwks, RECEIPT_TYPE, 'receipt signature');
  const payload = decodeJson(jws.split('.')[1], 'receipt payload');
  const record = payload.record;
  if (!record || typeof record !== 'object') throw new Error('the receipt payload has no "record"');

  // 2. The record's hash.
  const recomputed = await sha256Hex(canonicalJson(record));
  report(recomputed === payload.hash, 'record hash',
    recomputed === payload.hash
      ? `${payload.hash} (record ${record.id}, site ${record.siteId}, position ${record.position}, ${record.method}, ` +
        `purposes ${JSON.stringify(record.purposes)}, ${record.recordedAt})`
      : `SHA-256 of the canonical record is ${recomputed}, the receipt says ${payload.hash}`);

  // 3. The policy the decision was made under.
  const policy = await readJson(args.policy);
  const content = { purposes: policy.purposes, texts: policy.texts };
  if ('privacyPolicyUrl' in policy) content.privacyPolicyUrl = policy.privacyPolicyUrl;
  const contentHash = await sha256Hex(canonicalJson(content));
  report(contentHash === policy.contentHash, 'policy content',
    contentHash === policy.contentHash ? `hashes to its contentHash ${contentHash}` : `hashes to ${contentHash}, not its contentHash ${policy.contentHash}`);
  report(policy.contentHash === record.policyHash && policy.version === record.policyVersion, 'policy bound by the record',
    `record: version ${record.policyVersion}, policyHash ${record.policyHash}; policy file: version ${policy.version}, contentHash ${policy.contentHash}`);

  // 4. The inclusion proof in a signed checkpoint.
  if (args.proof) {
    const file = await readJson(args.proof);
    const proof = file.auditPath ? file : file.checkpoint;
    if (!proof) {
      report(false, 'inclusion proof', `${args.proof} holds no checkpoint yet (the record is not sealed)`);
    } else {
      report(proof.leafIndex === record.position - 1, 'leaf index', `proof leaf ${proof.leafIndex}, record position ${record.position}`);
      const leaf = await sha256(concat([0x00], hexToBytes(payload.hash)));
      const root = await rootFromInclusionProof(proof.leafIndex, proof.treeSize, leaf, proof.auditPath.map(hexToBytes));
      report(root !== null && bytesToHex(root) === proof.rootHash, 'inclusion proof',
        root === null ? 'the audit path does not fit the tree size' : `root ${bytesToHex(root)} (tree of ${proof.treeSize} records)`);
      const head = await verifyJws(proof.signedTreeHead, jwks, TREE_HEAD_TYPE, 'tree head signature');
      if (head) {
        report(head.rootHash === proof.rootHash && head.treeSize === proof.treeSize && head.siteId === record.siteId, 'signed tree head',
          `site ${head.siteId}, size ${head.treeSize}, root ${head.rootHash}, signed ${head.timestamp}`);
      }
    }
  }
} catch (e) {
  report(false, 'input', e.message);
}

console.log(failures.length === 0 ? 'VERIFIED' : `BROKEN (${[...new Set(failures)].join(', ')})`);
process.exit(failures.length === 0 ? 0 : 1);

// ---- JWS (RFC 7515, compact, ES256) ---------------------------------------------------------

async function verifyJws(jws, jwks, type, what) {
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
  const candidates = (jwks.keys ?? []).filter(k => k.kty === 'EC' && k.crv === 'P-256' && (!header.kid || k.kid === header.kid));
  if (candidates.length === 0) {
    report(false, what, `no P-256 key with kid ${header.kid} in the JWK set`);
    return null;
  }
  const data = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
  const signature = base64UrlDecode(parts[2]); // r‖s, as WebCrypto expects for ECDSA
  for (const jwk of candidates) {
    const key = await crypto.subtle.importKey('jwk', { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
    if (await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, signature, data)) {
      report(true, what, `ES256, key ${jwk.kid}`);
      return decodeJson(parts[1], `${what} payload`);
    }
  }
  report(false, what, `does not verify with key ${header.kid ?? '(any)'}`);
  return null;
}

// ---- canonical JSON (RFC 8785 for the values used here: strings, integers, booleans, null) ----

function canonicalJson(value) {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`only integers are hashed, found ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  // Default sort compares UTF-16 code units, as RFC 8785 §3.2.3 asks.
  return `{${Object.keys(value).sort().map(k => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
}

// ---- Merkle tree (RFC 9162 §2.1.3.2) -------------------------------------------------------

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

// ---- plumbing ------------------------------------------------------------------------------

function parseArgs(argv) {
  const parsed = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) parsed[argv[i].slice(2)] = argv[++i];
  }
  return parsed;
}

async function readJson(source) {
  if (/^https?:\/\//.test(source)) {
    const response = await fetch(source);
    if (!response.ok) throw new Error(`${source} answered ${response.status}`);
    return response.json();
  }
  try {
    return JSON.parse(await readFile(source, 'utf8'));
  } catch (e) {
    throw new Error(`${source}: ${e.message}`);
  }
}

function decodeJson(part, what) {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64UrlDecode(part)));
  } catch (e) {
    throw new Error(`${what} is not base64url JSON (${e.message})`);
  }
}

function base64UrlDecode(text) {
  return new Uint8Array(Buffer.from(text, 'base64url'));
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
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

function bytesToHex(bytes) {
  return Buffer.from(bytes).toString('hex');
}
