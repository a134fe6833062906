#!/usr/bin/env bash
# Runs the whole local marketplace: Azurite, the KooGallery open-API emulator (127.0.0.1:8090) and the
# function app at http://localhost:7071/api/koogallery — no Huawei account needed.
# Needs: .NET 10 SDK and Node.js 20+. Installs what is missing through npm (Azurite from package-lock.json,
# Azure Functions Core Tools v4 into .tools/) and says so. Stops what it started on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# Everything started here is stopped on every way out (Ctrl+C, a failed step, func exiting).
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

# The Core Tools first: without them nothing below is worth the wait.
func_bin=$(command -v func || true)
if [ -z "$func_bin" ] && [ -x .tools/node_modules/.bin/func ]; then
  func_bin="$root/.tools/node_modules/.bin/func"
fi
if [ -z "$func_bin" ]; then
  echo "run-local: Azure Functions Core Tools (func) not found; installing azure-functions-core-tools@4 into .tools/ with npm ..."
  if ! npm install --prefix .tools --no-audit --no-fund --loglevel=error azure-functions-core-tools@4; then
    echo "run-local: could not install Azure Functions Core Tools (its npm package downloads the tools from Microsoft's CDN," >&2
    echo "run-local: which must be reachable). Install them another way (https://aka.ms/func-install) and run this again." >&2
    exit 1
  fi
  func_bin="$root/.tools/node_modules/.bin/func"
fi

pinned=$(node -p "require('./package.json').devDependencies.azurite")
installed=$(node -p "try { require('./node_modules/azurite/package.json').version } catch { '' }")
if [ "$installed" != "$pinned" ]; then
  echo "run-local: installing Azurite $pinned (npm ci) ..."
  npm ci --no-audit --no-fund --loglevel=error
fi

app=functions/KooGallery.Functions
if [ ! -f "$app/local.settings.json" ]; then
  echo "run-local: creating $app/local.settings.json from local.settings.sample.json (edit it; it is git-ignored)."
  cp local.settings.sample.json "$app/local.settings.json"
fi

mkdir -p .azurite
echo "run-local: starting Azurite on 127.0.0.1:10000-10002 (data in .azurite/) ..."
node_modules/.bin/azurite --silent --skipApiVersionCheck --loose --location .azurite \
  --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 &
pids+=($!)

echo "run-local: starting the KooGallery open-API emulator on http://127.0.0.1:8090 ..."
dotnet build tools/KooGallery.Simulator --nologo -v quiet
# The built program itself (not `dotnet run`), so the process stopped on exit is the emulator.
dotnet tools/KooGallery.Simulator/bin/Debug/net10.0/KooGallery.Simulator.dll serve --urls http://127.0.0.1:8090 \
  --key "$(node -p "require('./$app/local.settings.json').Values['KooGallery__Keys__0']")" &
pids+=($!)

cd "$app"
echo "run-local: starting the function app; KooGallery calls go to POST http://localhost:7071/api/koogallery"
"$func_bin" start
