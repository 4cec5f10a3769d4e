#!/usr/bin/env bash
# The whole test suite (README's second command calls this after installing).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pytest -q -p no:cacheprovider "$@"
