/** Random ids: 16 bytes from crypto.getRandomValues as base64url without padding (22 characters). */
export const base64url = (bytes) =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').split('=')[0];

export const randomId = (prefix, random = crypto) => prefix + base64url(random.getRandomValues(new Uint8Array(16)));

/** The only subject ids the service accepts without a secret key (DESIGN §3). */
export const SUBJECT_ID = /^sub_[\w-]{22}$/;

/**
 * The subject id and its write secret (DESIGN §3), kept together in localStorage as "id secret":
 * origin-scoped and never sent with a request, unlike the consent cookie the site's servers read.
 * `me(cookieId)` answers {s, k} for the cookie's id, minting a secret for an id that has none here
 * (a cookie from before write secrets: the first post establishes it); `me(0, true)` starts a new
 * subject. Without storage they live in memory for the page.
 */
export function keeper(storage, name, random = crypto) {
  let mem = '';
  const read = () => {
    try {
      return storage.getItem(name);
    } catch {
      // Blocked storage: memory only; a later page load mints a new subject if the service refuses.
    }
  };
  return (id, fresh) => {
    let [s, k] = (fresh ? '' : read() || mem).split(' ');
    if (!k || (id && s != id)) {
      s = (!fresh && id) || randomId('sub_', random);
      mem = s + ' ' + (k = randomId('', random));
      try {
        storage.setItem(name, mem);
      } catch {}
    }
    return { s, k };
  };
}
