#!/usr/bin/env bash
# The HTTP benchmarks of bench/README.md, on SQLite and on PostgreSQL side by side: the decision
# path (evaluate, single and a batch of 100) against a minimal hyper server answering a fixed body
# of the same size, measured in the same run, and the write path (a purchase, decided and recorded
# in one transaction). Load comes from wrk in a separate process. Writes bench/RESULTS.md.
#   bench/run.sh [seconds per scenario, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/postgres.sh
secs=${1:-10}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }

cargo build --release --locked -p mscommerce -p mscommerce-bench
tmp=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; pg_stop; rm -rf "$tmp"; }
trap cleanup EXIT
pg_start
psql -q "$PG_URL/postgres" -c "CREATE DATABASE bench" >/dev/null

wait_for() { for _ in $(seq 200); do grep -q "listening on" "$1" 2>/dev/null && return; sleep 0.1; done; echo "no start: $1" >&2; exit 1; }

target/release/baseline 127.0.0.1:0 >"$tmp/baseline.out" &
pids+=($!)
wait_for "$tmp/baseline.out"
baseline=$(sed -n 's/^baseline listening on //p' "$tmp/baseline.out")

start_server() { # name, extra args… → prints the URL
  local name=$1; shift
  MSCOMMERCE_LOG=warn target/release/mscommerce server --dev --listen 127.0.0.1:0 --data-dir "$tmp/$name" "$@" \
    >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pids+=($!)
  wait_for "$tmp/$name.out"
  sed -n 's/^mscommerce listening on //p' "$tmp/$name.out"
}
sqlite=$(start_server sqlite)
postgres=$(start_server postgres --database "$PG_URL/bench")

script() { # body, authorization header → a wrk script
  local f="$tmp/$RANDOM$RANDOM.lua"
  printf 'wrk.method = "POST"\nwrk.body = [[%s]]\nwrk.headers["Content-Type"] = "application/json"\n' "$1" >"$f"
  [ -n "${2:-}" ] && printf 'wrk.headers["Authorization"] = "%s"\n' "$2" >>"$f"
  echo "$f"
}

measure() { # url, script → "rps|p50|p99"
  local out
  out=$(wrk -t1 -c16 -d"${secs}s" --latency -s "$2" "$1")
  if grep -q "Non-2xx" <<<"$out"; then echo "$1: some answers were not 2xx" >&2; echo "$out" >&2; exit 1; fi
  echo "$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")|$(awk '$1=="50%" {print $2}' <<<"$out")|$(awk '$1=="99%" {print $2}' <<<"$out")"
}

declare -A row
for backend in sqlite postgres; do
  url=${!backend}
  creds="$tmp/$backend/dev-credentials.json"
  read -r tenant client_id client_secret password < <(python3 -c '
import json,sys; c=json.load(open(sys.argv[1]))
t=c["tenants"][0]; u=[x for x in t["users"] if x["upn"].startswith("user@")][0]
print(t["id"], c["checkout_credential"]["client_id"], c["checkout_credential"]["client_secret"], u["password"])' "$creds")
  basic=$(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)
  token=$(curl -s -X POST "$url/contoso.example/oauth2/v2.0/token" \
    --data-urlencode grant_type=password --data-urlencode username=user@contoso.example \
    --data-urlencode "password=$password" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  single="{\"kind\":\"purchase\",\"productId\":\"CFQ7TTC0H9MP\",\"tenantId\":\"$tenant\",\"userId\":\"user@contoso.example\"}"
  batch=$(python3 -c 'import sys; r=sys.argv[1]; print("{\"requests\":[" + ",".join([r]*100) + "]}")' "$single")
  echo "== $backend" >&2
  row[$backend,single]=$(measure "$url/v1.0/selfServicePurchases/evaluate" "$(script "$single" "Basic $basic")")
  row[$backend,batch]=$(measure "$url/v1.0/selfServicePurchases/evaluate" "$(script "$batch" "Basic $basic")")
  row[$backend,own]=$(measure "$url/v1.0/selfServicePurchases/evaluate" "$(script '{"kind":"purchase","productId":"CFQ7TTC0H9MP"}' "Bearer $token")")
  row[$backend,write]=$(measure "$url/v1.0/selfServicePurchases" "$(script '{"kind":"purchase","productId":"CFQ7TTC0H9MP"}' "Bearer $token")")
  if [ "$backend" = sqlite ]; then
    # The baselines, between the two backends' runs, in the same invocation.
    row[base,single]=$(measure "$baseline/" "$(script "$single")")
    row[base,batch]=$(measure "$baseline/batch" "$(script "$batch")")
  fi
done

decide=$(cargo bench --locked -p mscommerce-bench --bench decision 2>/dev/null | awk '/^decide\// {name=$1} /time:/ {sub(/^.*time: *\[/, ""); split($0, t, " "); if (name!="") print name " " t[3] " " t[4]; name=""}')

cell() { IFS='|' read -r rps p50 p99 <<<"$1"; printf '%s | %s | %s' "$rps" "$p50" "$p99"; }
rps() { cut -d'|' -f1 <<<"$1"; }
ratio() { python3 -c "print(f'{float(\"$1\")/float(\"$2\"):.2f}')"; }
line() { # label, key, baseline key or ""
  local s=${row[sqlite,$2]} p=${row[postgres,$2]} vs="—"
  if [ -n "$3" ]; then vs="$(ratio "$(rps "$s")" "$(rps "${row[base,$3]}")") / $(ratio "$(rps "$p")" "$(rps "${row[base,$3]}")")"; fi
  echo "| $1 | $(cell "$s") | $(cell "$p") | $vs |"
}
{
  echo "# Benchmark results"
  echo
  echo "Made by \`bench/run.sh $secs\` on $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD), $(nproc) cores,"
  echo "$(uname -m). Load: \`wrk -t1 -c16 -d${secs}s --latency\` from a separate process on the same machine"
  echo "(server, database and load share the cores). Servers log at warn. PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}')"
  echo "runs on the same machine with fsync on."
  echo
  echo "| scenario | SQLite req/s | p50 | p99 | PostgreSQL req/s | p50 | p99 | vs baseline (SQLite / PostgreSQL) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  line "evaluate, single (checkout credential)" single single
  line "evaluate, batch of 100 (checkout credential)" batch batch
  line "evaluate, single (user's own token)" own single
  line "purchase: decided and recorded (write path)" write ""
  echo
  echo "| baseline (minimal hyper server, fixed body) | req/s | p50 | p99 |"
  echo "|---|---:|---:|---:|"
  echo "| one decision's body | $(cell "${row[base,single]}") |"
  echo "| a batch of 100's body | $(cell "${row[base,batch]}") |"
  echo
  echo "Decisions are served from memory on both backends, so they should not differ; the write path"
  echo "commits a transaction per purchase (the purchase, notifications, outbox). A batch of 100 is"
  echo "100 decisions per request."
  echo
  echo "In-process decision (\`cargo bench -p mscommerce-bench --bench decision\`, criterion, median):"
  echo
  echo "| benchmark | time |"
  echo "|---|---:|"
  while read -r name value unit; do [ -n "$name" ] && echo "| $name | $value $unit |"; done <<<"$decide"
  echo
  echo "Reproduce: \`apt-get install wrk postgresql\` once, then \`bench/run.sh\`."
} > bench/RESULTS.md
cat bench/RESULTS.md
