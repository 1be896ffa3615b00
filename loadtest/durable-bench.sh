#!/usr/bin/env bash
# Issue 17's numbers (docs/benchmarks.md, "Issue 17"): QoS 1 throughput to
# persistent sessions online and offline, with durable sessions on (the
# default, sync: batch) and off, beside clean sessions; then the restart time
# and store size with SESSIONS persistent sessions holding MESSAGES stored
# deliveries in all. Release builds:
#   cargo build --release -p roost -p roost-bench
#   loadtest/durable-bench.sh [duration] [sessions] [messages per session]
set -euo pipefail
D=${1:-10s}
SESSIONS=${2:-100000}
PER=${3:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
ROOST=${ROOST:-$TARGET/release/roost}
BENCH=${BENCH:-$TARGET/release/roost-bench}
ulimit -n "$(ulimit -Hn)" || true
PORT=18830
WORK=$(mktemp -d /tmp/roost-durable-bench.XXXXXX)
PID=

start() { # $1: data dir, then env assignments
  local dir=$1; shift
  env "$@" ROOST__NODE__DATA_DIR="$dir" ROOST__LISTENERS__TCP__BIND=127.0.0.1:$PORT \
    ROOST__HTTP__BIND=127.0.0.1:0 \
    "$ROOST" start > "$dir.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 600); do grep -q listener_ready "$dir.log" 2>/dev/null && return; sleep 0.1; done
  echo "roost did not start"; cat "$dir.log"; exit 1
}
stop() { kill -TERM "$PID"; wait "$PID" || true; }
rate() { grep -o '"msgs_per_s": *[0-9.]*' | head -1 | cut -d: -f2 | tr -d ' '; }

run_pubsub() { # label, extra bench args, roost env...
  local label=$1 args=$2; shift 2
  local dir=$WORK/$label
  start "$dir" "$@"
  local r
  r=$("$BENCH" pubsub -q -p $PORT -P 50 -S 50 -Q 1 --inflight 32 -d "$D" $args | rate)
  stop
  echo "online  $label: $r msgs/s"
}

run_offline() { # label, roost env...
  local label=$1; shift
  local dir=$WORK/off-$label
  start "$dir" "$@"
  # 10 persistent subscribers subscribe, then go away: their sessions stay.
  "$BENCH" sub -q -p $PORT --persistent --session-expiry 3600 -S 10 -t 'off/#' -Q 1 -d 2s > /dev/null
  local r
  r=$("$BENCH" pub -q -p $PORT -P 10 -t 'off/%i' -Q 1 -L 2000 | rate)
  stop
  echo "offline $label: $r msgs/s (10 publishers -> 10 offline sessions each)"
}

if [ "${SKIP_ONLINE:-}" != 1 ]; then
run_pubsub clean ""
run_pubsub durable "--persistent --session-expiry 3600"
run_pubsub durable-off "--persistent --session-expiry 3600" ROOST__DURABLE_SESSIONS__ENABLE=false
run_pubsub durable-sync-os "--persistent --session-expiry 3600" ROOST__DURABLE_STORAGE__SYNC=os
fi
run_offline durable
run_offline durable-off ROOST__DURABLE_SESSIONS__ENABLE=false

# Restart with SESSIONS sessions and SESSIONS x PER stored messages. The
# sessions are made in waves of at most WAVE connections (the open-file limit),
# each wave connecting, subscribing and leaving.
WAVE=${WAVE:-8000}
dir=$WORK/restart
start "$dir"
made=0
w=0
while [ "$made" -lt "$SESSIONS" ]; do
  n=$((SESSIONS - made < WAVE ? SESSIONS - made : WAVE))
  "$BENCH" sub -q -p $PORT --prefix "wave$w" --persistent --session-expiry 86400 -S "$n" -R 5000 -t 'all/x' -Q 1 -d 1s > /dev/null
  made=$((made + n)); w=$((w + 1))
done
t0=$(date +%s.%N)
"$BENCH" pub -q -p $PORT -P 1 -t 'all/x' -Q 1 -s 64 -L "$PER" --drain 300 > /dev/null
echo "stored $((SESSIONS * PER)) deliveries in $(echo "$(date +%s.%N) - $t0" | bc) s"
stop
size=$(du -sb "$dir/store" | cut -f1)
: > "$dir.log"
start "$dir"
stop
echo "restart: $(grep -o 'sessions_restored.*' "$dir.log" | tail -1)"
echo "restart: $(grep -o 'startup_ms=[0-9]*' "$dir.log" | tail -1)"
echo "store: $size bytes for $SESSIONS sessions and $((SESSIONS * PER)) stored messages"
rm -rf "$WORK"
