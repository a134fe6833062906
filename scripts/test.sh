#!/usr/bin/env bash
# Runs the whole test suite against real local storage.
# Needs: .NET 10 SDK and Node.js 20+. Installs Azurite from package-lock.json when it is missing or stale;
# the tests start it themselves (in memory, on free ports). Extra arguments go to `dotnet test`.
set -euo pipefail
cd "$(dirname "$0")/.."

pinned=$(node -p "require('./package.json').devDependencies.azurite")
installed=$(node -p "try { require('./node_modules/azurite/package.json').version } catch { '' }")
if [ "$installed" != "$pinned" ]; then
  echo "scripts/test.sh: installing Azurite $pinned (npm ci) ..."
  npm ci --no-audit --no-fund --loglevel=error
fi

results="${TEST_RESULTS_DIR:-$PWD/TestResults}"
rm -rf "$results"
exec dotnet test KooGalleryFunctions.sln --logger trx --results-directory "$results" "$@"
