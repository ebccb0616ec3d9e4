#!/usr/bin/env bash
# Browser tests drive Debian's chromium through Playwright (a browser download by Playwright itself
# cannot work here). Install it when missing and we may; otherwise those tests skip with a reason.
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
    || echo "warning: could not install chromium; browser tests will be skipped"
else
  echo "note: /usr/bin/chromium is missing and we are not root; browser tests will be skipped"
fi
exit 0
