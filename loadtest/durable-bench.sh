#!/usr/bin/env bash
# Issue 17's numbers (docs/benchmarks.md, "Issue 17"): QoS 1 throughput to
# persistent sessions online and offline, with durable sessions on (the
# default, sync: batch) and off, beside clean sessions; then the restart time
# and store size with SESSIONS persistent sessions holding SESSIONS x PER
# stored deliveries in all. Release builds:
#   cargo build --release -p roost -p roost-bench
#   loadtest/durable-bench.sh [duration] [sessions] [messages per session]
# SKIP_ONLINE=1 skips the online runs, SKIP_OFFLINE=1 the offline ones,
# SKIP_SYNC_OS=1 the sync: os one, SKIP_RESTART=1 the restart; RUNS=n repeats
# the online runs n times (clean, durable, durable off, in turn).
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
for r in $(seq 1 "${RUNS:-1}"); do
run_pubsub clean$r ""
run_pubsub durable$r "--persistent --session-expiry 3600"
run_pubsub durable-off$r "--persistent --session-expiry 3600" ROOST__DURABLE_SESSIONS__ENABLE=false
[ "${SKIP_SYNC_OS:-}" = 1 ] || run_pubsub durable-sync-os$r "--persistent --session-expiry 3600" ROOST__DURABLE_STORAGE__SYNC=os
done
fi
if [ "${SKIP_OFFLINE:-}" != 1 ]; then
run_offline durable
run_offline durable-off ROOST__DURABLE_SESSIONS__ENABLE=false
fi

# Restart with SESSIONS persistent sessions and SESSIONS x PER stored
# messages. The sessions are made in waves of at most WAVE connections (the
# open-file limit): each wave's clients connect (clean_start=false, session
# expiry 1 day), subscribe at QoS 1 and leave, RATE connections a second (the
# defaults, 5,000 at 2,000/s, held 4 s, made all 100,000 on a loaded 2-core
# machine; 8,000 at 5,000/s lost 2-3% of them). The broker logs how many
# sessions and messages it restored: read the counts there. SHAPE=distinct (the
# default): each session subscribes to a topic of its own and receives PER messages of
# its own (SESSIONS x PER messages, each held by one session); SHAPE=fanout:
# every session subscribes to one topic and PER messages go to all of them
# (PER messages, each held by every session). Then: SIGKILL (nothing flushed
# but the synced journal), start (the start-up after a crash: every stored
# message must be restored), SIGTERM (a clean close), start again.
[ "${SKIP_RESTART:-}" = 1 ] && { rm -rf "$WORK"; exit 0; }
WAVE=${WAVE:-5000}
RATE=${RATE:-2000}
SHAPE=${SHAPE:-distinct}
dir=$WORK/restart
start "$dir"
waves=$(( (SESSIONS + WAVE - 1) / WAVE ))
topic() { # wave
  if [ "$SHAPE" = fanout ]; then echo 'all/x'; else echo "dev/$1/%i"; fi
}
size_of() { # wave
  local n=$((SESSIONS - $1 * WAVE)); [ "$n" -gt "$WAVE" ] && n=$WAVE; echo "$n"
}
t0=$(date +%s.%N)
for w in $(seq 0 $((waves - 1))); do
  "$BENCH" sub -q -p $PORT --prefix "wave$w" --persistent --session-expiry 86400 -S "$(size_of "$w")" -R "$RATE" -t "$(topic "$w")" -Q 1 -d 4s > /dev/null
done
echo "made $SESSIONS sessions in $(echo "$(date +%s.%N) - $t0" | bc) s"
t0=$(date +%s.%N)
if [ "$SHAPE" = fanout ]; then
  "$BENCH" pub -q -p $PORT -P 1 -t 'all/x' -Q 1 -s 64 -L "$PER" --drain 300 > /dev/null
else
  for w in $(seq 0 $((waves - 1))); do
    "$BENCH" pub -q -p $PORT --prefix "pwave$w" -R "$RATE" -P "$(size_of "$w")" -t "dev/$w/%i" -Q 1 -s 64 -L "$PER" --drain 300 > /dev/null
  done
fi
echo "stored $((SESSIONS * PER)) deliveries ($SHAPE) in $(echo "$(date +%s.%N) - $t0" | bc) s (every PUBACK after its sync)"
kill -KILL "$PID"; wait "$PID" || true
size=$(du -sb "$dir/store" | cut -f1)
echo "store after SIGKILL: $size bytes for $SESSIONS sessions and $((SESSIONS * PER)) stored deliveries"
echo "  per session (with its $PER deliveries): $((size / SESSIONS)) B; per delivery: $((size / (SESSIONS * PER))) B"
for how in SIGKILL SIGTERM; do
  : > "$dir.log"
  start "$dir"
  echo "start after $how: $(grep -o 'sessions_restored.*' "$dir.log" | tail -1)"
  echo "start after $how: $(grep -o 'startup_ms=[0-9]*' "$dir.log" | tail -1)"
  stop
  size=$(du -sb "$dir/store" | cut -f1)
  echo "store after the $how start's SIGTERM: $size bytes"
done
rm -rf "$WORK"
