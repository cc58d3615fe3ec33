import CSS from './ui.css';

/**
 * The banner (first layer: accept all, reject all, preferences, all alike) and the preferences
 * dialog. Texts are data: every node is built with createElement and text nodes, never innerHTML.
 */

/**
 * @param on {granted(id): bool, decided(): bool, act(method, chosen), gpc: bool}
 * `decided()` says whether a current decision exists: then Esc closes the preferences, else it
 * goes back to the banner, which stays until the visitor chooses.
 */
export function ui(doc, config, texts, locale, on) {
  let root;
  let opener;
  const el = (tag, attrs, ...kids) => {
    const node = doc.createElement(tag);
    // Absent, false and null attributes and children are left out (tabindex -1 is truthy).
    for (const k in attrs) if (attrs[k]) node.setAttribute(k, attrs[k] === true ? '' : attrs[k]);
    node.append(...kids.filter(Boolean));
    return node;
  };
  const button = (action, label) => el('button', { type: 'button', class: 'cs-btn', 'data-consent-action': action }, label);
  const url = config.privacyPolicyUrl;
  // The policy has no localised word for "privacy policy"; its address reads the same in every language.
  // target=_blank implies rel=noopener (HTML, every current browser): the opened page gets no window.opener.
  const privacy = () => url && el('a', { href: url, target: '_blank' }, url.replace(/^https?:\/\/(www\.)?/, ''));

  const banner = () => [el('div', {
    class: 'cs-b', role: 'dialog', tabindex: -1, 'data-consent-banner': true,
    'aria-labelledby': 'cs-t', 'aria-describedby': 'cs-d',
  },
  el('h2', { id: 'cs-t' }, texts.title),
  el('p', { id: 'cs-d' }, texts.description, ' ', privacy()),
  el('div', { class: 'cs-a' }, button('accept_all', texts.acceptAll), button('reject_all', texts.rejectAll), button('preferences', texts.preferences)))];

  const purpose = ({ id, required, vendors }) => {
    const t = texts.purposes[id] || { title: id };
    const box = 'cs-' + id;
    return el('div', { class: 'cs-pp' },
      el('label', {},
        el('input', {
          type: 'checkbox', id: box, 'data-consent-purpose': id, 'aria-describedby': box + '-d',
          checked: required || on.granted(id), disabled: required || (on.gpc && id == 'marketing'),
        }),
        t.title),
      el('p', { id: box + '-d' }, t.description),
      vendors?.[0] && el('small', {}, vendors.map((v) => v.name + (v.cookies ? ` (${v.cookies.join(', ')})` : '')).join(', ')));
  };

  const preferences = () => [el('div', { class: 'cs-o' }), el('div', {
    class: 'cs-p', role: 'dialog', 'aria-modal': 'true', tabindex: -1, 'data-consent-preferences': true,
    'aria-labelledby': 'cs-pt',
  },
  el('h2', { id: 'cs-pt' }, texts.preferences),
  // The wording of the CCPA regulations' own example (§7025(c)(6)).
  on.gpc && el('p', { role: 'status' }, 'Opt-Out Request Honored'),
  ...config.purposes.map(purpose),
  el('div', { class: 'cs-a' }, button('reject_all', texts.rejectAll), button('accept_all', texts.acceptAll), button('save', texts.save)))];

  const show = (view, soon) => {
    if (!root) {
      doc.head.append(el('style', {}, CSS));
      root = el('div', { id: 'cs-root', lang: locale });
      root.onkeydown = keys;
    }
    // Focus goes back where it was when the first layer opened, not to a button of ours.
    if (!root.firstChild) opener = doc.activeElement;
    root.replaceChildren(...view);
    if (!root.isConnected) doc.body.append(root);
    const target = view.at(-1);
    // A target replaced meanwhile is no longer in the document, and focus() on it does nothing.
    const focus = () => target.focus();
    // focus() lays the page out at once. The banner that opens on load takes focus with its first
    // frame, whose layout that is anyway: no layout forced while the script (and often the page's
    // parser, which adds content after it) is still changing the DOM. A dialog the visitor opened
    // takes it now.
    soon ? requestAnimationFrame(focus) : focus();
  };

  const close = () => {
    if (!root?.firstChild) return;
    root.replaceChildren();
    // focus() does nothing on an opener that has left the document.
    opener?.focus?.();
    opener = null;
  };

  function keys(e) {
    const dialog = root.querySelector('[aria-modal]');
    if (!dialog) return;
    if (e.key == 'Escape') {
      e.preventDefault();
      if (on.decided()) return close();
      show(banner());
      root.querySelector('[data-consent-action=preferences]').focus();
    } else if (e.key == 'Tab') {
      // Modal: Tab and Shift+Tab cycle inside the dialog.
      const all = dialog.querySelectorAll('button,input:not([disabled]),a[href]');
      const first = all[0];
      const last = all[all.length - 1];
      const at = doc.activeElement;
      if (e.shiftKey ? at == first || at == dialog : at == last) {
        e.preventDefault();
        (e.shiftKey ? last : first).focus();
      }
    }
  }

  doc.addEventListener('click', (e) => {
    const target = e.target.closest?.('[data-consent-action]');
    if (!target) return;
    const action = target.dataset.consentAction;
    if (action == 'preferences') {
      // Also the site's own footer links and buttons: the way back to the choice.
      e.preventDefault();
      show(preferences());
    } else if (root?.contains(target)) {
      const chosen = {};
      for (const box of root.querySelectorAll('[data-consent-purpose]')) chosen[box.dataset.consentPurpose] = box.checked;
      on.act(action == 'save' ? 'custom' : action, chosen);
    }
  });

  return { banner: () => show(banner(), 1), preferences: () => show(preferences()), close };
}
