#!/usr/bin/env bash
# Runs the whole test suite against real local storage.
# Needs: .NET 10 SDK and Node.js 20+ (and Chromium, installed from Debian's packages when missing and run as
# root). Installs Azurite and Huawei's SDK from package-lock.json when missing or stale;
# the tests start it themselves (in memory, on free ports). Extra arguments go to `dotnet test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every dev dependency at its pinned version: Azurite, and Huawei's SDK (the signing oracle of the differential test).
stale=$(node -p "Object.entries(require('./package.json').devDependencies).filter(([n, v]) => { try { return require('./node_modules/' + n + '/package.json').version !== v } catch { return true } }).map(([n]) => n).join(' ')")
if [ -n "$stale" ]; then
  echo "scripts/test.sh: installing $stale (npm ci) ..."
  npm ci --no-audit --no-fund --loglevel=error
fi

# The sign-on tests drive a real Chromium: Debian's package (Playwright's own browser download cannot
# work here). Installed when missing and we may install packages; else say how.
chromium="${KOOGALLERY_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "scripts/test.sh: installing Debian's chromium for the browser tests ..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "scripts/test.sh: chromium could not be installed; the browser tests will fail." >&2
  else
    echo "scripts/test.sh: the browser tests need Chromium at $chromium: run 'sudo apt-get install chromium' or set KOOGALLERY_CHROMIUM." >&2
  fi
fi

results="${TEST_RESULTS_DIR:-$PWD/TestResults}"
rm -rf "$results"
exec dotnet test KooGalleryFunctions.sln --logger trx --results-directory "$results" "$@"
