#!/usr/bin/env bash
# Real Lighthouse on the sample sites of build_site.
#
# Renders the six fixtures (jobs/src/build_site/fixtures) with indexable=true
# through the ignored test `write_fixture_sites_for_lighthouse`, writes a
# placeholder SVG for every photo path they use and a robots.txt, serves the
# directory from a local HTTP server, and runs the project's pinned
# Lighthouse (tools/lighthouse) on each site, mobile and desktop, one audit at
# a time. Prints a table of the four category scores and exits non-zero when
# any score is under 95.
#
# Run from the repository root:   bash jobs/src/build_site/lighthouse.sh
# Needs: cargo, python3, node/npm (tools/lighthouse installed with npm ci),
# /usr/bin/chromium. CARGO_TARGET_DIR and SQLX_OFFLINE are honoured.
set -euo pipefail

port=${PORT:-8765}
out=$(mktemp -d)
reports=${REPORTS:-$out/reports}
mkdir -p "$reports"
lighthouse=tools/lighthouse/node_modules/.bin/lighthouse
[ -x "$lighthouse" ] || { echo "run: (cd tools/lighthouse && npm ci)" >&2; exit 1; }

BUILD_SITE_OUT=$out BUILD_SITE_BASE="http://127.0.0.1:$port" \
    cargo test -q -p prospector-jobs --lib build_site::tests::write_fixture_sites_for_lighthouse \
    -- --ignored --nocapture

# Placeholder photos: the fixtures refer to /photos/<name>.svg with their sizes.
mkdir -p "$out/photos"
python3 - "$out" <<'PY'
import json, pathlib, sys, hashlib
out = pathlib.Path(sys.argv[1])
for fixture in pathlib.Path("jobs/src/build_site/fixtures").glob("*.json"):
    for p in json.loads(fixture.read_text()).get("photos", []):
        if not p["url"].startswith("/photos/"):
            continue
        w, h = p.get("width") or 1200, p.get("height") or 800
        hue = int(hashlib.sha256(p["url"].encode()).hexdigest()[:2], 16) * 360 // 256
        svg = f"""<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
<stop offset="0" stop-color="hsl({hue},45%,62%)"/><stop offset="1" stop-color="hsl({(hue+40)%360},50%,32%)"/></linearGradient></defs>
<rect width="{w}" height="{h}" fill="url(#g)"/>
<circle cx="{w*0.3:.0f}" cy="{h*0.45:.0f}" r="{min(w,h)*0.22:.0f}" fill="hsl({hue},60%,85%)" opacity=".55"/>
<rect x="{w*0.55:.0f}" y="{h*0.3:.0f}" width="{w*0.3:.0f}" height="{h*0.45:.0f}" rx="24" fill="hsl({(hue+180)%360},35%,25%)" opacity=".45"/>
</svg>"""
        (out / p["url"].lstrip("/")).write_text(svg)
PY
printf 'User-agent: *\nAllow: /\n' > "$out/robots.txt"

python3 -m http.server "$port" --bind 127.0.0.1 --directory "$out" >"$out/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    curl -fsS "http://127.0.0.1:$port/robots.txt" >/dev/null 2>&1 && break
    sleep 0.1
done

flags='--headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --disable-dev-shm-usage --host-resolver-rules="MAP accounts.google.com ~NOTFOUND, MAP *.googleapis.com ~NOTFOUND, MAP clients2.google.com ~NOTFOUND"'
status=0
printf '%-20s %-8s %5s %5s %5s %5s\n' site form perf a11y bp seo
for dir in "$out"/*/index.html; do
    name=$(basename "$(dirname "$dir")")
    for form in mobile desktop; do
        preset=()
        [ "$form" = desktop ] && preset=(--preset=desktop)
        report="$reports/$name-$form.json"
        profile=$(mktemp -d)
        CHROME_PATH=/usr/bin/chromium "$lighthouse" "http://127.0.0.1:$port/$name/" \
            --output=json --output-path="$report" --quiet "${preset[@]}" \
            --chrome-flags="$flags --user-data-dir=$profile" || true
        rm -rf "$profile"
        line=$(node -e '
            const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
            if (r.runtimeError) { console.log("ERROR " + r.runtimeError.code); process.exit(0); }
            const c = r.categories, s = k => Math.round(c[k].score * 100);
            const low = [];
            for (const k of ["performance", "accessibility", "best-practices", "seo"])
                for (const ref of c[k].auditRefs)
                    if (ref.weight > 0 && r.audits[ref.id].score !== null && r.audits[ref.id].score < 1)
                        low.push(ref.id);
            console.log([s("performance"), s("accessibility"), s("best-practices"), s("seo")].join(" ") + (low.length ? "  below 1: " + low.join(",") : ""));
        ' "$report")
        printf '%-20s %-8s %s\n' "$name" "$form" "$line"
        read -r perf a11y bp seo _ <<<"$line"
        for v in "$perf" "$a11y" "$bp" "$seo"; do
            if ! [[ "$v" =~ ^[0-9]+$ ]] || [ "$v" -lt 95 ]; then status=1; fi
        done
    done
done
echo "reports: $reports"
exit $status
