#!/usr/bin/env node
// Checks a ConsentService receipt with nothing but the files the service hands out, offline, with
// Node 20+'s built-in WebCrypto (no dependencies, nothing to install):
//
//   node scripts/verify-receipt.mjs --receipt receipt.json --jwks jwks.json --policy policy.json [--proof proof.json]
//
//   --receipt  the receipt: the JSON the service answered with (a 201 of POST …/consents, or
//              GET …/consents/{id}), whose "receipt" member is taken, or that member alone
//   --jwks     the JWK set of /.well-known/consent-signing-key (a file, or an http(s) URL to fetch)
//   --policy   GET /v1/sites/{site}/policies/{version}: the policy version the record names
//   --proof    optional: GET …/consents/{id} once a checkpoint covers the record (its "checkpoint"
//              member), or that inclusion proof alone
//
// The checks themselves are in receipt-check.mjs (a pure ES module a browser page imports as well);
// this file only reads the files and prints one line per check, ok or BROKEN, then VERIFIED or BROKEN.
// Exit code 0 when everything holds, 1 when something does not, 2 on bad usage.

import { readFile } from 'node:fs/promises';
import { checkReceipt } from './receipt-check.mjs';

const args = parseArgs(process.argv.slice(2));
if (!args.receipt || !args.jwks || !args.policy) {
  console.error('usage: node verify-receipt.mjs --receipt FILE --jwks FILE|URL --policy FILE [--proof FILE]');
  process.exit(2);
}

let result;
try {
  result = await checkReceipt({
    receipt: await readText(args.receipt),
    jwks: await readJson(args.jwks),
    policy: await readJson(args.policy),
    proof: args.proof ? await readJson(args.proof) : undefined,
  });
} catch (e) {
  result = { ok: false, checks: [{ name: 'input', ok: false, detail: e.message }] };
}
for (const { name, ok, detail } of result.checks) {
  console.log(`${ok ? 'ok     ' : 'BROKEN '} ${name}${detail ? `: ${detail}` : ''}`);
}
const broken = [...new Set(result.checks.filter(c => !c.ok).map(c => c.name))];
console.log(result.ok ? 'VERIFIED' : `BROKEN (${broken.join(', ')})`);
process.exit(result.ok ? 0 : 1);

function parseArgs(argv) {
  const parsed = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) parsed[argv[i].slice(2)] = argv[++i];
  }
  return parsed;
}

async function readText(source) {
  try {
    return (await readFile(source, 'utf8')).trim();
  } catch (e) {
    throw new Error(`${source}: ${e.message}`);
  }
}

async function readJson(source) {
  if (/^https?:\/\//.test(source)) {
    const response = await fetch(source);
    if (!response.ok) throw new Error(`${source} answered ${response.status}`);
    return response.json();
  }
  try {
    return JSON.parse(await readText(source));
  } catch (e) {
    throw new Error(`${source}: ${e.message}`);
  }
}
