#!/usr/bin/env bash
# Refreshes the vendored Public Suffix List (https://publicsuffix.org, MPL-2.0) that the service
# uses to refuse a site's cookieDomain when it is a public suffix, and the official test cases the
# unit tests run. Run from the repository root, then build, run the PSL tests and commit both files
# with the new date in src/ConsentService/Sites/public_suffix_list.NOTICE.
set -euo pipefail
dir=src/ConsentService/Sites
tests=tests/ConsentService.Tests/Unit
curl -fsSL --retry 3 https://publicsuffix.org/list/public_suffix_list.dat -o "$dir/public_suffix_list.dat.new"
curl -fsSL --retry 3 https://raw.githubusercontent.com/publicsuffix/list/main/tests/test_psl.txt -o "$tests/test_psl.txt.new"
# A truncated download must not replace a good list: both sections must be complete.
for marker in '===BEGIN ICANN DOMAINS===' '===END ICANN DOMAINS===' '===BEGIN PRIVATE DOMAINS===' '===END PRIVATE DOMAINS==='; do
  grep -q "$marker" "$dir/public_suffix_list.dat.new" || { echo "downloaded list lacks '$marker'" >&2; exit 1; }
done
mv "$dir/public_suffix_list.dat.new" "$dir/public_suffix_list.dat"
mv "$tests/test_psl.txt.new" "$tests/test_psl.txt"
sed -i "s/^Retrieved: .*/Retrieved: $(date -u +%Y-%m-%d)/" "$dir/public_suffix_list.NOTICE"
echo "Updated; now: dotnet test tests/ConsentService.Tests --filter FullyQualifiedName~PublicSuffix"
