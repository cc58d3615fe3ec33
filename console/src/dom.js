// The console's only way to build the page: elements from data, never HTML strings, so a value
// the ledger holds (a URL, a user agent) can never become markup, and no style attribute is written
// (the CSP forbids inline styles).

/** h('button', { class: 'x', onclick: f }, 'text', child…) */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.className = value;
    else if (name === 'value' || name === 'checked' || name === 'disabled' || name === 'selected') el[name] = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const clear = (el) => { el.replaceChildren(); return el; };

let ids = 0;
/** A labelled form field: the label's `for` and the control's id always match. */
export function field(label, control, hint) {
  const id = control.id || (control.id = 'f' + ++ids);
  const hintEl = hint ? h('span', { class: 'hint', id: id + '-hint' }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

/** A table with a caption; `rows` are arrays of cells (strings or nodes). */
export function table(caption, head, rows, props = {}) {
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption },
    h('table', props,
      h('caption', null, caption),
      h('thead', null, h('tr', null, head.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, rows.map((r) => h('tr', null, r.map((c, i) => (i === 0 ? h('th', { scope: 'row' }, c) : h('td', null, c))))))));
}

export const fmtTime = (iso) => (iso ? new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace(/:\d\dZ$/, (m) => m) : '—');
export const short = (hex, n = 12) => (hex ? hex.slice(0, n) + '…' : '—');
