# Sourced by scripts/test: makes sure Debian's Prometheus server and
# promtool are installed (the observability test scrapes /metrics with a
# real Prometheus and checks the exposition with promtool). Needs debian.sh.

ensure_prometheus() {
    ensure_debian_package /usr/bin/prometheus prometheus "Prometheus" &&
        ensure_debian_package /usr/bin/promtool prometheus "promtool"
}
