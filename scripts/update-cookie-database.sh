#!/usr/bin/env bash
# Refreshes the vendored Open Cookie Database (Apache-2.0) the tracker scan names vendors with.
# Usage: scripts/update-cookie-database.sh [path-to-a-clone-of-Open-Cookie-Database]
# Without a path it clones the upstream repository into a temporary folder.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
target="$here/src/ConsentService/Scans/Catalogue"
repo="${1:-}"
if [[ -z "$repo" ]]; then
  repo="$(mktemp -d)/ocd"
  git clone --depth 1 https://github.com/jkwakman/Open-Cookie-Database.git "$repo"
fi
commit="$(git -C "$repo" log -1 --format=%H)"
date="$(git -C "$repo" log -1 --format=%cs)"
head -1 "$repo/open-cookie-database.csv" | grep -q '^ID,Platform,Category,Cookie / Data Key name,Domain,Description,Retention period,Data Controller,User Privacy & GDPR Rights Portals,Wildcard match' \
  || { echo "The upstream columns changed: adapt CookieCatalogue.cs first." >&2; exit 1; }
cp "$repo/open-cookie-database.csv" "$target/open-cookie-database.csv"
sed -i -E "s/^- Upstream commit: .*/- Upstream commit: $commit/; s/^- Upstream date: .*/- Upstream date: $date/" "$target/NOTICE.md"
sed -i -E "s/(public const string Version = \")[^\"]*(\";)/\1$date ($commit)\2/" "$target/CookieCatalogue.cs"
echo "Open Cookie Database $date ($commit): $(($(wc -l < "$target/open-cookie-database.csv") - 1)) entries. Build and run the scan tests."
