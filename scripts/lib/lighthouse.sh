# Sourced by scripts/test and scripts/demo: installs the pinned Lighthouse
# (tools/lighthouse/package.json + package-lock.json) with `npm ci`.
#
# ensure_lighthouse runs `npm ci` in tools/lighthouse when its node_modules is
# missing or was installed from another lock file. Quiet when already
# installed. Lighthouse 12 needs Node >= 18.20 (13.x would need Node 22,
# hence the pin).

lighthouse_lock_stamp() {
    sha256sum tools/lighthouse/package-lock.json | cut -d' ' -f1
}

ensure_lighthouse() {
    local dir=tools/lighthouse
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        echo "error: Node.js (>= 18.20) and npm are needed for Lighthouse; install them (e.g. apt-get install nodejs npm)" >&2
        return 1
    fi
    if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>18||(a===18&&b>=20)?0:1)'; then
        echo "error: Lighthouse 12 needs Node.js >= 18.20; found $(node --version)" >&2
        return 1
    fi
    local stamp="$dir/node_modules/.prospector-lock-sha256"
    if [ -x "$dir/node_modules/.bin/lighthouse" ] && [ -f "$stamp" ] \
        && [ "$(cat "$stamp")" = "$(lighthouse_lock_stamp)" ]; then
        return 0
    fi
    echo "Installing Lighthouse (npm ci in $dir, about a minute)..." >&2
    local log
    log=$(mktemp)
    if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        rm -f "$log"
        echo "error: npm ci failed in $dir" >&2
        return 1
    fi
    rm -f "$log"
    lighthouse_lock_stamp >"$stamp"
}
