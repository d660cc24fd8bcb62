# Sourced by scripts/test and scripts/demo: makes sure Debian's Chromium is
# installed (the audit stage runs Lighthouse with it). Needs debian.sh.

ensure_chromium() {
    ensure_debian_package /usr/bin/chromium chromium "Chromium (about a minute)"
}
