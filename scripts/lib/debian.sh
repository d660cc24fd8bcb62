# Sourced by scripts/test and scripts/demo: installs a Debian package when
# the program the project needs from it is missing.
#
# ensure_debian_package PROGRAM PACKAGE [WHAT]
#   Quiet when PROGRAM exists; otherwise apt-get installs PACKAGE (as root,
#   or with sudo) and checks PROGRAM is there afterwards.

ensure_debian_package() {
    local program=$1 package=$2 what=${3:-$2}
    if [ -x "$program" ]; then
        return 0
    fi
    local sudo=()
    if [ "$(id -u)" != "0" ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "error: $program is missing; install it with: apt-get install $package" >&2
            return 1
        fi
        sudo=(sudo)
    fi
    echo "Installing $what (apt-get install $package)..." >&2
    local log
    log=$(mktemp)
    if ! { "${sudo[@]}" apt-get update -qq && \
           DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$package"; } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        rm -f "$log"
        echo "error: could not install $package" >&2
        return 1
    fi
    rm -f "$log"
    [ -x "$program" ]
}
