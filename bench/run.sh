#!/usr/bin/env bash
# The HTTP benchmarks of bench/README.md: mscommerce's evaluate endpoint (single, and a batch of
# 100) against a minimal hyper server answering a fixed body of the same size, in the same run,
# with load from a separate process (wrk). Writes bench/RESULTS.md.
#   bench/run.sh [seconds per scenario, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }

cargo build --release --locked -p mscommerce -p mscommerce-bench
tmp=$(mktemp -d)
cleanup() { kill "${server_pid:-}" "${baseline_pid:-}" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

target/release/mscommerce server --dev --listen 127.0.0.1:0 --data-dir "$tmp/data" >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
target/release/baseline 127.0.0.1:0 >"$tmp/baseline.out" &
baseline_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$tmp/server.out" 2>/dev/null && grep -q "listening on" "$tmp/baseline.out" 2>/dev/null && break
  sleep 0.1
done
server=$(sed -n 's/^mscommerce listening on //p' "$tmp/server.out")
baseline=$(sed -n 's/^baseline listening on //p' "$tmp/baseline.out")

creds="$tmp/data/dev-credentials.json"
read -r tenant client_id client_secret password < <(python3 -c '
import json,sys; c=json.load(open(sys.argv[1]))
t=c["tenants"][0]; u=[x for x in t["users"] if x["upn"].startswith("user@")][0]
print(t["id"], c["checkout_credential"]["client_id"], c["checkout_credential"]["client_secret"], u["password"])' "$creds")
basic=$(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)
token=$(curl -s -X POST "$server/contoso.example/oauth2/v2.0/token" \
  --data-urlencode grant_type=password --data-urlencode username=user@contoso.example \
  --data-urlencode "password=$password" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

single="{\"kind\":\"purchase\",\"productId\":\"CFQ7TTC0H9MP\",\"tenantId\":\"$tenant\",\"userId\":\"user@contoso.example\"}"
batch=$(python3 -c 'import sys; r=sys.argv[1]; print("{\"requests\":[" + ",".join([r]*100) + "]}")' "$single")
own='{"kind":"purchase","productId":"CFQ7TTC0H9MP"}'

script() { # body, authorization header → a wrk script
  local f="$tmp/$RANDOM.lua"
  printf 'wrk.method = "POST"\nwrk.body = [[%s]]\nwrk.headers["Content-Type"] = "application/json"\n' "$1" >"$f"
  [ -n "${2:-}" ] && printf 'wrk.headers["Authorization"] = "%s"\n' "$2" >>"$f"
  echo "$f"
}

results=()
run() { # name, url, script
  local out; out=$(wrk -t1 -c16 -d"${secs}s" --latency -s "$3" "$2")
  if grep -q "Non-2xx" <<<"$out"; then echo "$1: some answers were not 2xx" >&2; echo "$out" >&2; exit 1; fi
  local rps p50 p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  echo "$1: $rps req/s, p50 $p50, p99 $p99" >&2
  results+=("$1|$rps|$p50|$p99")
}

run "baseline, one decision's body" "$baseline/" "$(script "$single")"
run "evaluate, single (checkout credential)" "$server/v1.0/selfServicePurchases/evaluate" "$(script "$single" "Basic $basic")"
run "baseline, a batch's body" "$baseline/batch" "$(script "$batch")"
run "evaluate, batch of 100 (checkout credential)" "$server/v1.0/selfServicePurchases/evaluate" "$(script "$batch" "Basic $basic")"
run "evaluate, single (user's own token)" "$server/v1.0/selfServicePurchases/evaluate" "$(script "$own" "Bearer $token")"

# The in-process decision, with criterion.
decide=$(cargo bench --locked -p mscommerce-bench --bench decision 2>/dev/null | awk '/^decide\// {name=$1} /time:/ {sub(/^.*time: *\[/, ""); split($0, t, " "); if (name!="") print name " " t[3] " " t[4]; name=""}')

ratio() { python3 -c "print(f'{float(\"$1\")/float(\"$2\"):.2f}')"; }
IFS='|' read -r _ b1 _ _ <<<"${results[0]}"
IFS='|' read -r _ b2 _ _ <<<"${results[2]}"
{
  echo "# Benchmark results"
  echo
  echo "Made by \`bench/run.sh $secs\` on $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD), $(nproc) cores,"
  echo "$(uname -m). Load: \`wrk -t1 -c16 -d${secs}s --latency\` from a separate process on the same machine, so"
  echo "server and load share the two cores. Each mscommerce row is compared with the baseline of the"
  echo "same body size measured in the same run."
  echo
  echo "| scenario | requests/s | p50 | p99 | vs baseline |"
  echo "|---|---:|---:|---:|---:|"
  for i in "${!results[@]}"; do
    IFS='|' read -r name rps p50 p99 <<<"${results[$i]}"
    case $i in 1|4) base=$b1 ;; 3) base=$b2 ;; *) base=$rps ;; esac
    echo "| $name | $rps | $p50 | $p99 | $(ratio "$rps" "$base") |"
  done
  echo
  echo "A batch of 100 is 100 decisions per request: decisions/s = 100 × its requests/s."
  echo
  echo "In-process decision (\`cargo bench -p mscommerce-bench --bench decision\`, criterion, median):"
  echo
  echo "| benchmark | time |"
  echo "|---|---:|"
  while read -r name value unit; do [ -n "$name" ] && echo "| $name | $value $unit |"; done <<<"$decide"
  echo
  echo "Reproduce: \`apt-get install wrk\` once, then \`bench/run.sh\`."
} > bench/RESULTS.md
cat bench/RESULTS.md
