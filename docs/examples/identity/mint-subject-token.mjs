// Mints a subject token for a signed-in user (ConsentService, "Identified users"). Node 18+, no dependencies.
import { createHmac } from 'node:crypto';

const part = (json) => Buffer.from(JSON.stringify(json)).toString('base64url');

/**
 * secretId: the identity secret's id ("cid_…", the kid); secret: the identity secret ("cis_…", from
 * configuration, never sent to the browser); siteId: the ConsentService site (aud); userId: your own user id (sub).
 */
export function mintSubjectToken({ secretId, secret, siteId, userId, now = Date.now() }) {
  const iat = Math.floor(now / 1000);
  const body = part({ alg: 'HS256', typ: 'JWT', kid: secretId }) + '.' + part({ sub: userId, aud: siteId, iat, exp: iat + 600 });
  return body + '.' + createHmac('sha256', secret).update(body).digest('base64url');
}
