#!/usr/bin/env bash
# Cross-node forwarding: 50 1:1 pairs with the publisher on node 1 and the
# subscriber on node 2 of a two-node Roost cluster, beside the same pairs with
# both on node 1, in the same run (ratios matter: the machine is shared): as
# fast as the in-flight window allows at QoS 0, 1 and 2, then QoS 1 at a fixed
# total rate (RATE, default 20000 msgs/s) below what one node can deliver.
#   loadtest/cluster-bench.sh [duration, default 10s]
# It stops with an error if the two nodes do not list each other as up within
# CLUSTER_WAIT seconds (default 30).
# Everything runs on 127.0.0.0/8 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
dur="${1:-10s}"
cargo build --release -q -p roost -p roost-bench
roost="${CARGO_TARGET_DIR:-target}/release/roost"
bench="${CARGO_TARGET_DIR:-target}/release/roost-bench"
logs=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$logs"; }
trap cleanup EXIT

for i in 1 2; do
    ip=127.0.0.4$i
    ROOST__NODE__NAME="bench$i@$ip" ROOST__CLUSTER__ENABLED=true \
    ROOST__CLUSTER__BIND="$ip:4370" ROOST__CLUSTER__SEEDS="127.0.0.41:4370,127.0.0.42:4370" \
    ROOST__LISTENERS__TCP__BIND="$ip:1883" ROOST__HTTP__BIND="$ip:18083" \
    ROOST__NODE__DATA_DIR="$logs/data$i" \
    ROOST__LOG__LEVEL=warn "$roost" start >"$logs/node$i.log" 2>&1 &
    pids+=($!)
done
# Wait until each node lists the other as `up` (GET /api/v5/cluster, what
# `roost ctl cluster status` shows); stop if the cluster does not form within
# CLUSTER_WAIT seconds (default 30): cross-node figures from nodes that do not
# see each other would measure nothing.
up_on() { # node-number peer-name: whether node i lists peer as up
    curl -sf -m 2 -u admin:public "http://127.0.0.4$1:18083/api/v5/cluster" 2>/dev/null |
        python3 -c "
import json, sys
members = json.load(sys.stdin).get('members', [])
sys.exit(0 if any(m.get('node') == '$2' and m.get('state') == 'up' for m in members) else 1)" 2>/dev/null
}
wait_for_cluster() {
    local deadline=$((SECONDS + ${CLUSTER_WAIT:-30}))
    while ((SECONDS < deadline)); do
        for i in 1 2; do
            if ! kill -0 "${pids[$((i - 1))]}" 2>/dev/null; then
                echo "cluster-bench: node $i exited before the cluster formed; its log:" >&2
                tail -n 20 "$logs/node$i.log" >&2
                exit 1
            fi
        done
        if up_on 1 bench2@127.0.0.42 && up_on 2 bench1@127.0.0.41; then
            return
        fi
        sleep 0.2
    done
    echo "cluster-bench: the cluster did not form within ${CLUSTER_WAIT:-30} s" \
        "(bench1@127.0.0.41 and bench2@127.0.0.42 must list each other as up):" >&2
    for i in 1 2; do
        echo "--- node $i: GET /api/v5/cluster" >&2
        curl -s -m 2 -u admin:public "http://127.0.0.4$i:18083/api/v5/cluster" >&2 || echo "(no answer)" >&2
        echo >&2
        echo "--- node $i: last log lines" >&2
        tail -n 20 "$logs/node$i.log" >&2
    done
    exit 1
}
wait_for_cluster
echo "cluster formed: bench1@127.0.0.41 and bench2@127.0.0.42 see each other up"

run() { # label qos sub-addr [extra roost-bench args]
    local out
    out=$("$bench" pubsub -q -H 127.0.0.41 -p 1883 -P 50 -S 50 --topic 'bench/%i' --sub-topic 'bench/%i' \
        --qos "$2" -d "$dur" ${3:+--sub-addr "$3"} "${@:4}")
    echo "$out" | python3 -c "
import json, sys
s = json.load(sys.stdin)
print(f\"$1 qos $2: {s['msgs_per_s']:>10.0f} msgs/s  lost {s['lost']}  dup {s['duplicated']}  p99 {s['latency']['p99_us'] / 1000:.2f} ms\")
print(s['msgs_per_s'], file=open('$logs/$1-$2', 'w'))"
}
printf '%s\n' "same run, $(nproc) cores, $dur per scenario"
for q in 0 1 2; do
    run same-node "$q" ""
    run cross-node "$q" 127.0.0.42:1883
    python3 -c "print(f'  cross/same ratio qos $q: {float(open(\"$logs/cross-node-$q\").read()) / float(open(\"$logs/same-node-$q\").read()):.2f}')"
done
rate="${RATE:-20000}"
run same-node-rate 1 "" --total-rate "$rate"
run cross-node-rate 1 127.0.0.42:1883 --total-rate "$rate"
