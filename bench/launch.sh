#!/usr/bin/env bash
# Launch endpoint benchmark: throughput and latency of GET /v1/launch/{id}
# against the same server's trivial endpoint (/healthz), interleaved rounds,
# medians reported; peak memory; start-to-ready time. A second process on
# the same database signs its answers (LAUNCH_SIGNING_KEY_FILE), and each
# round measures it too: signed vs unsigned in one run. A third process does
# not count check-ins (CHECKIN_COUNTING=false): counting on vs off in one
# run. See bench/README.md.
#
#   bench/launch.sh                      # SQLite in a temp folder
#   DATABASE_URL=postgres://... bench/launch.sh
#   ROUNDS=3 DURATION=10s CONNECTIONS=16 SOAK=600 bench/launch.sh
#   SOAK_DEVICES=1000000: distinct device ids during the soak (default a million)
#   PIN=1 bench/launch.sh        # server on core 1 (one tokio worker), wrk on core 0
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-1}
SOAK=${SOAK:-0}
SOAK_DEVICES=${SOAK_DEVICES:-1000000}
PORT=${PORT:-18181}
PIN=${PIN:-0}
server_cpu=() wrk_cpu=()
if [ "$PIN" = 1 ]; then
  server_cpu=(taskset -c 1) wrk_cpu=(taskset -c 0)
  export TOKIO_WORKER_THREADS=1
fi

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
cargo build --release --quiet
binary=target/release/update-mode

work=$(mktemp -d)
trap 'kill "$server" ${signed_server:-} ${uncounted_server:-} 2>/dev/null || true; rm -rf "$work"' EXIT
export JWT_SECRET=bench-secret-bench-secret-bench-secret-0123
export DATABASE_URL=${DATABASE_URL:-sqlite://$work/bench.db}
export LISTEN_ADDR=127.0.0.1:$PORT RUST_LOG=warn

start=$(date +%s%N)
"${server_cpu[@]}" "$binary" serve > "$work/server.log" 2>&1 &
server=$!
until curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null; do sleep 0.005; done
ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))

token=$("$binary" token --workspace bench --role WORKSPACE_ADMIN --role DEVELOPER --role RELEASE_APPROVER)
graphql() {
  curl -sf "http://127.0.0.1:$PORT/graphql" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d "$1"
}
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

program=$(graphql '{"query":"mutation { createMiniProgram(input: { name: \"Bench\", type: DSL }) { miniProgram { id } } }"}' \
  | field 'd["data"]["createMiniProgram"]["miniProgram"]["id"]')
for number in 1.0.0 1.1.0; do
  version=$(graphql "{\"query\":\"mutation { createMiniProgramVersion(input: { miniProgramId: \\\"$program\\\", version: \\\"$number\\\" }) { miniProgramVersion { id } } }\"}" \
    | field 'd["data"]["createMiniProgramVersion"]["miniProgramVersion"]["id"]')
  graphql "{\"query\":\"mutation { submitVersionForReleaseApproval(input: { versionId: \\\"$version\\\" }) { miniProgramVersion { id } } }\"}" > /dev/null
  graphql "{\"query\":\"mutation { decideRelease(input: { versionId: \\\"$version\\\", decision: APPROVE }) { miniProgramVersion { id } } }\"}" > /dev/null
  gray=$([ "$number" = 1.1.0 ] && echo 20 || echo null)
  graphql "{\"query\":\"mutation { releaseVersion(input: { versionId: \\\"$version\\\", grayPercentage: $gray }) { miniProgramVersion { status } } }\"}" > /dev/null
done
key=$(graphql '{"query":"mutation { createClientKey(input: { name: \"bench\" }) { key } }"}' | field 'd["data"]["createClientKey"]["key"]')
# The signing process starts once the data exists: it reads its snapshot at start.
SIGNED_PORT=$((PORT + 1))
openssl genpkey -algorithm ed25519 -out "$work/launch.key.pem" 2> /dev/null
LISTEN_ADDR=127.0.0.1:$SIGNED_PORT LAUNCH_SIGNING_KEY_FILE=$work/launch.key.pem SKIP_MIGRATIONS=true \
  "${server_cpu[@]}" "$binary" serve > "$work/signed.log" 2>&1 &
signed_server=$!
until curl -sf "http://127.0.0.1:$SIGNED_PORT/readyz" > /dev/null; do sleep 0.005; done
UNCOUNTED_PORT=$((PORT + 2))
LISTEN_ADDR=127.0.0.1:$UNCOUNTED_PORT CHECKIN_COUNTING=false SKIP_MIGRATIONS=true \
  "${server_cpu[@]}" "$binary" serve > "$work/uncounted.log" 2>&1 &
uncounted_server=$!
until curl -sf "http://127.0.0.1:$UNCOUNTED_PORT/readyz" > /dev/null; do sleep 0.005; done
launch_path=/v1/launch/$program
export CLIENT_KEY=$key

rss() { awk '/VmRSS/ { print $2 }' "/proc/$server/status"; }
peak() { awk '/VmHWM/ { print $2 }' "/proc/$server/status"; }
# run PATH [LAUNCH_PATH [PORT]]: the launch path makes wrk.lua ask for launches.
run() {
  LAUNCH_PATH=${2:-} "${wrk_cpu[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
    -s bench/wrk.lua "http://127.0.0.1:${3:-$PORT}$1" | grep '^RESULT'
}

# Warm-up, not reported.
LAUNCH_PATH=$launch_path wrk -t1 -c"$CONNECTIONS" -d2s -s bench/wrk.lua "http://127.0.0.1:$PORT$launch_path" > /dev/null
LAUNCH_PATH=$launch_path wrk -t1 -c"$CONNECTIONS" -d2s -s bench/wrk.lua "http://127.0.0.1:$SIGNED_PORT$launch_path" > /dev/null
LAUNCH_PATH=$launch_path wrk -t1 -c"$CONNECTIONS" -d2s -s bench/wrk.lua "http://127.0.0.1:$UNCOUNTED_PORT$launch_path" > /dev/null
: > "$work/results"
for round in $(seq 1 "$ROUNDS"); do
  echo "ceiling $round $(run /healthz)" | tee -a "$work/results"
  echo "launch $round $(run "$launch_path" "$launch_path")" | tee -a "$work/results"
  echo "signed $round $(run "$launch_path" "$launch_path" "$SIGNED_PORT")" | tee -a "$work/results"
  echo "uncounted $round $(run "$launch_path" "$launch_path" "$UNCOUNTED_PORT")" | tee -a "$work/results"
done

median() {
  grep "^$1 " "$work/results" | sed -n "s/.* $2=\([0-9]*\).*/\1/p" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
failures=$(grep -o 'failures=[0-9]*' "$work/results" | cut -d= -f2 | awk '{ s += $1 } END { print s + 0 }')
socket_errors=$(grep -o 'socket_errors=[0-9]*' "$work/results" | cut -d= -f2 | awk '{ s += $1 } END { print s + 0 }')
ceiling=$(median ceiling rps)
launch=$(median launch rps)
signed=$(median signed rps)
uncounted=$(median uncounted rps)
echo
echo "database:            ${DATABASE_URL%%://*}, pinned: $PIN"
echo "start to ready:      ${ready_ms} ms"
echo "ceiling (/healthz):  ${ceiling} req/s, p50 $(median ceiling p50_us) us, p99 $(median ceiling p99_us) us"
echo "launch:              ${launch} req/s, p50 $(median launch p50_us) us, p99 $(median launch p99_us) us"
echo "launch / ceiling:    $(python3 -c "print(round($launch / $ceiling, 2))")"
echo "signed launch:       ${signed} req/s, p50 $(median signed p50_us) us, p99 $(median signed p99_us) us"
echo "signed / unsigned:   $(python3 -c "print(round($signed / $launch, 2))")"
echo "not counting:        ${uncounted} req/s, p50 $(median uncounted p50_us) us, p99 $(median uncounted p99_us) us"
echo "counting / not:      $(python3 -c "print(round($launch / $uncounted, 2))")"
echo "RSS after runs:      $(( $(rss) / 1024 )) MiB (peak $(( $(peak) / 1024 )) MiB)"
echo "non-200 answers:     $failures, socket errors: $socket_errors (any makes the run void)"

if [ "$SOAK" -gt 0 ]; then
  before=$(rss)
  DEVICES=$SOAK_DEVICES LAUNCH_PATH=$launch_path wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SOAK}s" --latency -s bench/wrk.lua \
    "http://127.0.0.1:$PORT$launch_path" | grep '^RESULT' | sed 's/^/soak /' | tee "$work/soak"
  echo "soak ${SOAK}s:           RSS $(( before / 1024 )) MiB -> $(( $(rss) / 1024 )) MiB (peak $(( $(peak) / 1024 )) MiB), up to $SOAK_DEVICES device ids per wrk thread"
  # The soak's check-ins reach the database at the next flush (10 s).
  sleep 12
  graphql "{\"query\":\"{ miniProgram(id: \\\"$program\\\") { adoption(sinceHours: 2) { checkIns devices } } }\"}" \
    | field '"check-ins (all runs): %(checkIns)s; devices estimated: %(devices)s (the ids of the rounds are among those of the soak)" % d["data"]["miniProgram"]["adoption"]'
fi
