/** A status worth retrying: no answer at all (0), a timeout, too many requests, or a server error. */
export const retryable = (status) => !status || status == 408 || status == 425 || status == 429 || status >= 500;

/** 1 s, 2 s, 4 s … capped at 5 minutes. */
export const backoff = (attempt) => Math.min(1000 * 2 ** attempt, 300000);

/**
 * Decisions waiting to reach the service, oldest first, kept in localStorage so a failed post
 * survives a reload. Posts go one at a time in order (a later withdrawal must never land before
 * the consent it withdraws); an entry leaves on 2xx or on a 4xx no retry can fix. Each entry
 * carries its idempotency key, so a retry of a post that did arrive records nothing twice.
 */
export function outbox(storage, key, send, timer = setTimeout) {
  let memory = [];
  let attempt = 0;
  let running = false;
  let again = false;
  let pending;
  const load = () => {
    try {
      return JSON.parse(storage.getItem(key)) || [];
    } catch {
      return memory;
    }
  };
  const save = (queue) => {
    memory = queue;
    try {
      queue.length ? storage.setItem(key, JSON.stringify(queue)) : storage.removeItem(key);
    } catch {
      // Storage full or blocked: the queue lives in memory for this page.
    }
  };
  const flush = async () => {
    if (running) return void (again = true);
    running = true;
    clearTimeout(pending);
    try {
      for (let item; (item = load()[0]);) {
        const status = await send(item.b);
        if (retryable(status)) {
          // Whatever was added meanwhile waits behind this entry, for the same retry.
          again = false;
          pending = timer(flush, backoff(attempt++));
          break;
        }
        if (status >= 300) console.warn('ConsentService: HTTP ' + status, item.b);
        attempt = 0;
        save(load().filter((x) => x.k != item.k));
      }
    } finally {
      running = false;
      if (again) {
        again = false;
        flush();
      }
    }
  };
  return {
    flush,
    add(k, body) {
      save([...load(), { k, b: body }]);
      return flush();
    },
    items: load,
  };
}
