#!/usr/bin/env bash
# Benchmarks of verge serve / submit / loadgen on this machine, each against
# its own Mosquitto on a free loopback port (results: docs/benchmarks.md).
#
#   bench/mqtt/run.sh [BUILD_DIR] [DEVICES] [SECONDS]
#
# 1. job round-trip overhead against a raw MQTT round trip (target <= 2x)
# 2. throughput of 1 and 2 workers (target: 2 workers >= 1.8x one worker)
# 3. the load generator: DEVICES (default 10000) devices at 1 message/s for
#    SECONDS (default 60) at QoS 1, delivery measured by a subscriber
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
DEVICES=${2:-10000}
SECONDS_RUN=${3:-60}
MODEL=${VERGE_MODEL_DIR:-.cache/models}/face_detection_short_range.tflite
IMAGE=tests/data/images/grace_hopper.jpg
VERGE=$BUILD/verge

cmake --build "$BUILD" --target verge bench_mqtt_roundtrip -j 2 >/dev/null

dir=$(mktemp -d /tmp/verge-bench-mqtt-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

port=21883
while (: </dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done
url=mqtt://127.0.0.1:$port

# One descriptor per device in the broker too.
ulimit -n "$(ulimit -Hn)"
user_line=""
if [ "$(id -u)" -eq 0 ]; then user_line="user root"; fi
cat > "$dir/mosquitto.conf" <<CONF
$user_line
listener $port 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
max_connections -1
log_dest file $dir/broker.log
CONF
mosquitto -c "$dir/mosquitto.conf" 2>/dev/null & pids+=($!)
for _ in $(seq 100); do (: </dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "broker: $(mosquitto -h | head -1), open-file limit $(ulimit -n)"

start_worker() {
  "$VERGE" serve --broker "$url" --model "$MODEL" 2>>"$dir/serve.log" & pids+=($!)
  for _ in $(seq 200); do
    [ "$(grep -c ' ready' "$dir/serve.log" || true)" -ge "$1" ] && return
    sleep 0.05
  done
}

echo
echo "== 1. round trip (one job at a time, $IMAGE)"
start_worker 1
"$BUILD/bench/mqtt/bench_mqtt_roundtrip" "$url" face_detection_short_range "$IMAGE" 300

echo
echo "== 2. worker throughput"
for i in $(seq 600); do echo "$IMAGE"; done > "$dir/jobs.txt"
rate() {
  "$VERGE" submit --broker "$url" --model "$MODEL" --list "$dir/jobs.txt" --window 16 \
      2>&1 >/dev/null | grep -o '([0-9.]* jobs/s)' | tr -d '(' | cut -d' ' -f1
}
one=$(rate)
echo "1 worker:  $one jobs/s"
start_worker 2
two=$(rate)
echo "2 workers: $two jobs/s"
echo "scaling: $(awk -v a="$one" -v b="$two" 'BEGIN { printf "%.2f", b / a }')x (target >= 1.8x)"
kill "${pids[1]}" "${pids[2]}" 2>/dev/null || true
wait "${pids[1]}" "${pids[2]}" 2>/dev/null || true
grep 'stopped after' "$dir/serve.log" || true

echo
echo "== 3. load generator: $DEVICES devices at 1 message/s for $SECONDS_RUN s, QoS 1"
timer=()
if [ -x /usr/bin/time ]; then
  timer=(/usr/bin/time -f "loadgen process: %e s wall, %U s user, %S s system, %M KiB peak")
fi
"${timer[@]}" "$VERGE" loadgen --broker "$url" --devices "$DEVICES" --rate 1 --duration "$SECONDS_RUN" \
  --subscribe
