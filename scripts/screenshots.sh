#!/usr/bin/env bash
# Regenerate the till's screenshots in docs/screenshots/: runs the browser tests (Playwright on
# Debian's chromium) with TILL_SCREENSHOTS set, so each step of a cashier's work is saved as a PNG.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
TILL_SCREENSHOTS=docs/screenshots "$PY" -m pytest -q -p no:cacheprovider tests/cashier/test_till_browser.py
ls docs/screenshots
