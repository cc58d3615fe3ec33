const primary = (tag) => tag.split('-')[0];

/**
 * The locale of `texts` to show: the page's language (`<html lang>`) exactly, then its primary
 * language (de-AT → de), then any variant of it (pt → pt-BR), then the site default, then the first.
 */
export function resolveLocale(texts, lang, fallback) {
  const keys = Object.keys(texts);
  const norm = (tag) => (tag || '').replace(/_/g, '-').toLowerCase();
  const pick = (tag) => {
    tag = norm(tag);
    return tag && (keys.find((k) => norm(k) == tag)
      || keys.find((k) => norm(k) == primary(tag))
      || keys.find((k) => primary(norm(k)) == primary(tag)));
  };
  return pick(lang) || pick(fallback) || keys[0];
}
