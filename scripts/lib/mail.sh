# Sourced by scripts/test: makes sure the mail servers the send_email tests
# start on loopback are installed, and tells the tests where they are.
# Needs debian.sh.
#
# ensure_mail_servers
#   - aiosmtpd 1.4.6 (PyPI) in a private virtualenv, .local/mail/venv, so
#     neither the system Python nor pyenv is touched; exports
#     PROSPECTOR_TEST_AIOSMTPD_PYTHON (a python that can `-m aiosmtpd`).
#   - Dovecot's IMAP server (Debian's dovecot-imapd); exports
#     PROSPECTOR_TEST_DOVECOT (the dovecot binary). Each test writes its own
#     config in a temporary directory; the system service is never used.

AIOSMTPD_VERSION=1.4.6

aiosmtpd_ready() {
    "$1" -c "import sys, aiosmtpd; sys.exit(aiosmtpd.__version__ != '$AIOSMTPD_VERSION')" >/dev/null 2>&1
}

ensure_aiosmtpd() {
    local venv python log
    venv="$(pwd)/.local/mail/venv"
    python="$venv/bin/python"
    if [ -x "$python" ] && aiosmtpd_ready "$python"; then
        export PROSPECTOR_TEST_AIOSMTPD_PYTHON="$python"
        return 0
    fi
    if ! command -v python3 >/dev/null 2>&1; then
        ensure_debian_package /usr/bin/python3 python3 "Python 3" || return 1
    fi
    # Debian's own python3 needs python3-venv for `-m venv` (pyenv's has it).
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        local minor
        minor=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
        ensure_debian_package "/usr/lib/python$minor/ensurepip/__init__.py" "python$minor-venv" \
            "Python's venv module" || return 1
    fi
    echo "Installing aiosmtpd $AIOSMTPD_VERSION (pip, in $venv)..." >&2
    log=$(mktemp)
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    if ! { python3 -m venv "$venv" &&
           "$python" -m pip install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION"; } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        rm -f "$log"
        echo "error: could not install aiosmtpd $AIOSMTPD_VERSION" >&2
        return 1
    fi
    rm -f "$log"
    aiosmtpd_ready "$python" || {
        echo "error: aiosmtpd $AIOSMTPD_VERSION does not import from $python" >&2
        return 1
    }
    export PROSPECTOR_TEST_AIOSMTPD_PYTHON="$python"
}

ensure_dovecot() {
    ensure_debian_package /usr/sbin/dovecot dovecot-imapd "Dovecot IMAP server" || return 1
    export PROSPECTOR_TEST_DOVECOT=/usr/sbin/dovecot
}

ensure_mail_servers() {
    ensure_aiosmtpd && ensure_dovecot
}
