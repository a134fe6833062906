#!/usr/bin/env bash
# Builds and lints every .bicep file with the Bicep CLI from NuGet; fails on any error or warning.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's:.*<BicepVersion>\(.*\)</BicepVersion>.*:\1:p' tools/BicepCli/BicepCli.csproj)
dotnet restore tools/BicepCli/BicepCli.csproj --nologo -v quiet >/dev/null
packages=$(dotnet nuget locals global-packages --list | sed 's/^global-packages: //')
bicep="$packages/azure.bicep.commandline.linux-x64/$version/tools/bicep"
chmod +x "$bicep"
echo "bicep-check: $("$bicep" --version)"

out=$(mktemp -d)
status=0
while IFS= read -r file; do
  file_status=0
  for step in build lint; do
    if [ "$step" = build ]; then
      log=$("$bicep" build "$file" --outdir "$out" 2>&1) || file_status=1
    else
      log=$("$bicep" lint "$file" 2>&1) || file_status=1
    fi
    if [ -n "$log" ]; then
      echo "$log"
    fi
    if grep -Eq "(Warning|Error) [A-Za-z0-9-]+:|: (Warning|Error) " <<<"$log"; then
      file_status=1
    fi
  done
  if [ $file_status -eq 0 ]; then
    echo "bicep-check: $file: built and linted, no warnings"
  else
    echo "bicep-check: $file: FAILED"
    status=1
  fi
done < <(find infra -name '*.bicep' | sort)

if [ $status -ne 0 ]; then
  echo "bicep-check: FAILED (errors or warnings above)" >&2
fi
exit $status
