#!/usr/bin/env bash
# Installs what the browser test of report.html (tests/test_html_report_browser.py) needs: Debian's
# chromium and chromium-driver, as root with apt-get. `make test` calls it, as CI does. selenium
# comes with the project's dev extra. Where they cannot be installed, it says so; the test then
# fails in one sentence naming them (it never skips).
set -u
command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: the browser test needs Debian's chromium and chromium-driver; install them as root" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
packages=(chromium chromium-driver)
log="${TMPDIR:-/tmp}/bench-install-browser.log"
echo "installing ${packages[*]} for the browser test of report.html (log: $log)"
started=$(date +%s)
if ! apt-get install -y -q "${packages[@]}" >"$log" 2>&1; then
  apt-get update -q >>"$log" 2>&1
  apt-get install -y -q "${packages[@]}" >>"$log" 2>&1 || {
    echo "note: apt-get could not install ${packages[*]} (see $log)" >&2
    exit 0
  }
fi
echo "installed in $(( $(date +%s) - started )) s"
