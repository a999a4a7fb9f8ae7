#!/usr/bin/env bash
# The whole test suite. Starts (and stops) whatever real servers the tests need, then runs vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json --noEmit
npx vitest run "$@"
