import { h, field, short } from '../dom.js';
import { call, get, sitePath } from '../api.js';

/** Subject access (a download) and erasure (typed confirmation, then what went and what stays). */
export async function requests({ main, site, params, href, go, announce }) {
  const subject = params.get('subject') || '';
  const form = h('form', { class: 'card row', id: 'request-subject', onsubmit: (e) => {
    e.preventDefault();
    go(href('requests', { subject: String(new FormData(form).get('subject')).trim() }));
  } }, field('Subject id', h('input', { name: 'subject', value: subject, required: true, autocomplete: 'off', spellcheck: 'false' })),
  h('button', { type: 'submit' }, 'Open'));
  main.append(form);
  if (!subject) return;

  const path = sitePath(site, `/subjects/${encodeURIComponent(subject)}`);
  let history = null;
  try {
    history = await get(`${path}/history`);
  } catch (e) {
    if (e.status !== 404) throw e;
  }
  if (!history) {
    main.append(h('p', { class: 'note', role: 'status' }, `Nothing is held on ${subject} on this site (or it was erased).`));
    return;
  }
  const erased = history.records.every((r) => !r.subjectId);
  main.append(h('section', { class: 'card', id: 'access' },
    h('h2', null, 'Subject access / portability'),
    h('p', null, `${history.records.length} records. The export is the JSON the subject is entitled to: every decision, the notice shown, the purposes and recipients, and how to withdraw.`),
    h('a', { class: 'button', id: 'dsar-export', href: `${path}/export`, download: `subject-${subject}.json` }, 'Download access export (JSON)')));

  const confirmText = `erase ${subject}`;
  const typed = h('input', { name: 'confirm', autocomplete: 'off', spellcheck: 'false', required: true });
  const result = h('div', { id: 'erase-result', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', class: 'danger', disabled: true }, 'Erase this person');
  typed.addEventListener('input', () => { button.disabled = typed.value !== confirmText; });
  const eraseForm = h('form', { class: 'card', id: 'erasure', onsubmit: async (e) => {
    e.preventDefault();
    if (typed.value !== confirmText) return;
    button.disabled = true;
    try {
      await call('DELETE', path);
      const after = await get(`${path}/history`).catch(() => null);
      const report = await get(sitePath(site, '/ledger/verify')).catch(() => null);
      const kept = after ? after.records : history.records;
      result.replaceChildren(h('div', { class: 'result verified' }, `Erased ${subject}.`),
        h('h3', null, 'Shredded'),
        h('ul', null,
          h('li', null, 'the subject\u2019s key, so the subject id and the source details (page, user agent, IP prefix) of every record can no longer be read'),
          h('li', null, `the subject id on ${history.records.length} records`)),
        h('h3', null, 'Kept as proof'),
        h('ul', null,
          h('li', null, `${kept.length} record hashes at ledger positions ${kept.map((r) => r.position).join(', ')} (${kept.map((r) => short(r.hash, 8)).join(', ')})`),
          h('li', null, 'the checkpoints that cover them'),
          report && h('li', { id: 'erase-verify' }, report.valid ? `the ledger still verifies (${report.records} records, ${report.checkpoints} checkpoints)` : `ledger verify reports a break: ${report.firstBreak?.detail}`)));
      announce(`Erased ${subject}.`);
      typed.value = '';
    } catch (err) {
      result.replaceChildren(h('p', { class: 'error', role: 'alert' }, err.message));
      button.disabled = false;
    }
  } },
  h('h2', null, 'Erasure'),
  erased ? h('p', { class: 'note' }, 'This person\u2019s personal fields are already shredded.') : null,
  h('p', null, 'Crypto-shredding: the subject\u2019s key and personal fields go; the hashes and checkpoints stay, so the ledger still proves what was decided. This cannot be undone.'),
  field(`Type \u201c${confirmText}\u201d to confirm`, typed),
  button, result);
  main.append(eraseForm);
}
