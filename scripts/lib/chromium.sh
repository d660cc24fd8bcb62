# Sourced by scripts/test and scripts/demo: makes sure Debian's Chromium is
# installed (the audit stage runs Lighthouse with it), and ChromeDriver for
# the console's browser tests (WebDriver). Needs debian.sh.

ensure_chromium() {
    ensure_debian_package /usr/bin/chromium chromium "Chromium (about a minute)"
}

ensure_chromedriver() {
    ensure_debian_package /usr/bin/chromedriver chromium-driver "ChromeDriver"
}
