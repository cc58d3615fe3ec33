/** Random ids: 16 bytes from crypto.getRandomValues as base64url without padding (22 characters). */
export const base64url = (bytes) =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

export const randomId = (prefix, random = crypto) => prefix + base64url(random.getRandomValues(new Uint8Array(16)));

/** The only subject ids the service accepts without a secret key (DESIGN §3). */
export const SUBJECT_ID = /^sub_[\w-]{22}$/;
