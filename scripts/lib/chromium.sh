# Sourced by scripts/test and scripts/demo: makes sure Debian's Chromium is
# installed (the audit stage runs Lighthouse with it).
#
# ensure_chromium installs the `chromium` package with apt-get when
# /usr/bin/chromium is missing (as root, or with sudo). Quiet when present.

ensure_chromium() {
    if [ -x /usr/bin/chromium ]; then
        return 0
    fi
    local sudo=()
    if [ "$(id -u)" != "0" ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "error: /usr/bin/chromium is missing; install it with: apt-get install chromium" >&2
            return 1
        fi
        sudo=(sudo)
    fi
    echo "Installing Chromium (apt-get install chromium, about a minute)..." >&2
    local log
    log=$(mktemp)
    if ! { "${sudo[@]}" apt-get update -qq && \
           DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium; } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        rm -f "$log"
        echo "error: could not install chromium" >&2
        return 1
    fi
    rm -f "$log"
    [ -x /usr/bin/chromium ]
}
