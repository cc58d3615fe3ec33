"""Appends consent records straight into a site's SQLite ledger until it holds COUNT of them, in the
store's real table shape (see Storage/Sqlite/SqliteConsentStore.cs, Schema): one subject each,
positions continuing the site's ledger. For the export-memory benchmark; the hashes are well-formed
but not a valid chain (the export does not verify them).
Usage: python3 fill.py DB SITE_ID POLICY_HASH COUNT"""
import hashlib, json, sqlite3, sys, time, uuid

db, site, policy_hash, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
con = sqlite3.connect(db, timeout=30)
con.execute("PRAGMA journal_mode=WAL")
start = con.execute("SELECT coalesce(max(position), 0) FROM consents WHERE site_id = ?", (site,)).fetchone()[0]
now = int(time.time() * 1000)
purposes = [json.dumps({"necessary": True, "analytics": a, "marketing": m, "model_improvement": False}, separators=(",", ":"))
            for a in (True, False) for m in (True, False)]
source = json.dumps({"url": "https://bench.example/shop", "locale": "en", "jurisdiction": "gdpr",
                     "userAgent": "Chrome 131", "ipPrefix": "203.0.113.0/24"}, separators=(",", ":"))

def h(*parts):
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()

def rows(first, last):
    for position in range(first, last + 1):
        subject = "sub_" + uuid.uuid4().hex[:22]
        yield (str(uuid.uuid4()), site, subject, h("s", subject), 1, position, 1, policy_hash,
               purposes[position % 4], "custom", source, h("src", position), now - (last - position), None,
               h("req", position), None, h("rec", position))

position = start
while position < count:
    last = min(count, position + 50_000)
    with con:
        con.executemany("""INSERT INTO consents (id, site_id, subject_id, subject_commitment, sequence, position, policy_version,
            policy_hash, purposes, method, source, source_commitment, recorded_at, idempotency_key, request_hash, prev_hash, hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""", rows(position + 1, last))
    position = last
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
con.close()
