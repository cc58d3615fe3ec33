import { h, table, fmtTime, short } from '../dom.js';
import { call, get, sitePath } from '../api.js';

export async function health({ main, site, announce, isAdmin }) {
  const result = h('div', { id: 'verify-result', 'aria-live': 'polite' });
  const verify = async () => {
    result.replaceChildren(h('p', null, 'Recomputing every hash, chain and checkpoint root…'));
    const r = await get(sitePath(site, '/ledger/verify'));
    result.replaceChildren(...[
      h('div', { class: 'result ' + (r.valid ? 'verified' : 'failed') },
        r.valid ? `Intact: ${r.records} records, ${r.chains} subject chains, ${r.checkpoints} checkpoints.` : 'Broken.'),
      !r.valid && r.firstBreak && h('dl', { class: 'pairs', id: 'last-break' },
        h('dt', null, 'Kind'), h('dd', null, r.firstBreak.kind),
        h('dt', null, 'Where'), h('dd', null, [r.firstBreak.recordId && `record ${r.firstBreak.recordId}`, r.firstBreak.position && `position ${r.firstBreak.position}`, r.firstBreak.treeSize && `checkpoint of ${r.firstBreak.treeSize}`].filter(Boolean).join(', ') || '—'),
        h('dt', null, 'Detail'), h('dd', { class: 'wrap' }, r.firstBreak.detail)),
      h('p', { class: 'hint' }, `Checked ${fmtTime(r.verifiedAt)}.`)].filter(Boolean));
    announce(r.valid ? 'The ledger verifies.' : `The ledger is broken: ${r.firstBreak?.detail || ''}`);
  };
  const checkpointsBox = h('div', { id: 'checkpoints' });
  const loadCheckpoints = async () => {
    const list = await get(sitePath(site, '/ledger/checkpoints'));
    // The newest hundred: a busy ledger seals thousands over its life.
    const shown = list.slice(-100).reverse();
    checkpointsBox.replaceChildren(list.length === 0 ? h('p', { class: 'note' }, 'No checkpoint yet.')
      : table(`Checkpoints, newest first (${shown.length} of ${list.length})`, ['Tree size', 'Signed', 'Root'],
        shown.map((c) => [String(c.treeSize), fmtTime(c.signedAt), h('code', { class: 'hash', title: c.rootHash }, short(c.rootHash, 16))])));
  };
  main.append(
    h('section', { class: 'card' }, h('h2', null, 'Verify'),
      h('button', { type: 'button', id: 'verify', onclick: () => verify().catch((e) => result.replaceChildren(h('p', { class: 'error', role: 'alert' }, e.message))) }, 'Verify the ledger now'),
      result),
    h('section', { class: 'card' }, h('h2', null, 'Checkpoints'),
      isAdmin && h('button', { type: 'button', id: 'seal', class: 'secondary', onclick: async () => {
        try {
          const c = await call('POST', sitePath(site, '/ledger/checkpoints'));
          announce(c ? `Sealed a checkpoint of ${c.treeSize} records.` : 'Nothing new to seal.');
        } catch (e) {
          announce(e.message);
        }
        await loadCheckpoints();
      } }, 'Seal new records now'),
      checkpointsBox));
  await Promise.all([verify(), loadCheckpoints()]);
}
