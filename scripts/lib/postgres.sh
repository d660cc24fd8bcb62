# Sourced by the scripts in scripts/: finds a PostgreSQL server or starts one.
#
# ensure_postgres sets PG_BASE_URL (postgres://USER@HOST:PORT, no database).
# Order: $PROSPECTOR_PG_BASE_URL if set; a server already answering on
# 127.0.0.1:5432 (user postgres, trust auth); otherwise a private cluster in
# .local/postgres on port 55432, created on first use with this machine's
# PostgreSQL server binaries.

pg_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$dir" ]; then
        echo "error: no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)" >&2
        return 1
    fi
    echo "$dir"
}

pg_answers() {
    psql "$1/postgres" -Atqc 'select 1' >/dev/null 2>&1
}

ensure_postgres() {
    if [ -n "${PROSPECTOR_PG_BASE_URL:-}" ]; then
        PG_BASE_URL=$PROSPECTOR_PG_BASE_URL
        return 0
    fi
    if pg_answers "postgres://postgres@127.0.0.1:5432"; then
        PG_BASE_URL="postgres://postgres@127.0.0.1:5432"
        return 0
    fi

    local root bindir data port run_as
    root="$(pwd)/.local/postgres"
    data="$root/data"
    port=55432
    PG_BASE_URL="postgres://postgres@127.0.0.1:$port"
    if pg_answers "$PG_BASE_URL"; then
        return 0
    fi
    bindir=$(pg_bindir) || return 1
    mkdir -p "$root"
    # The server refuses to run as root: use the postgres system user then.
    run_as=()
    if [ "$(id -u)" = "0" ]; then
        if ! id postgres >/dev/null 2>&1; then
            useradd --system --home-dir "$root" --shell /usr/sbin/nologin postgres
        fi
        chown -R postgres "$root"
        run_as=(runuser -u postgres --)
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
        echo "Creating a private PostgreSQL cluster in $data" >&2
        "${run_as[@]}" "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >"$root/initdb.log" 2>&1 || {
            cat "$root/initdb.log" >&2
            return 1
        }
    fi
    echo "Starting PostgreSQL on 127.0.0.1:$port" >&2
    "${run_as[@]}" "$bindir/pg_ctl" -D "$data" -l "$root/server.log" -w -t 60 \
        -o "-p $port -k $root -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >&2 || {
        tail -n 30 "$root/server.log" >&2
        return 1
    }
    pg_answers "$PG_BASE_URL"
}
