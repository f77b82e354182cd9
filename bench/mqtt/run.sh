#!/usr/bin/env bash
# Benchmarks of verge serve / submit / loadgen on this machine, each against
# its own Mosquitto on a free loopback port (results: docs/benchmarks.md).
#
#   bench/mqtt/run.sh [BUILD_DIR] [DEVICES] [SECONDS] [ROUNDS]
#
# 1. job round trip against a raw MQTT request/response of the same sizes
#    through the same broker (bench_mqtt_roundtrip; target: overhead <= 2x)
# 2. throughput of 1 and 2 workers (target: 2 workers >= 1.8x one worker),
#    ROUNDS (default 5) interleaved pairs, with the CPU time of the workers,
#    the broker and the submitter in each run
# 3. the load generator: DEVICES (default 10000) devices at 1 message/s for
#    SECONDS (default 60) at QoS 1, delivery measured by a subscriber
#
# Environment: JOBS (default 1000) jobs per throughput run, THROUGHPUT_MODEL
# (default face_detection_full_range, the heaviest detector of the zoo, so
# that the workers' compute dominates the broker's and the submitter's),
# SKIP_ROUNDTRIP=1, SKIP_LOADGEN=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
DEVICES=${2:-10000}
SECONDS_RUN=${3:-60}
ROUNDS=${4:-5}
JOBS=${JOBS:-1000}
MODELS=${VERGE_MODEL_DIR:-.cache/models}
MODEL=$MODELS/face_detection_short_range.tflite
THROUGHPUT_MODEL=$MODELS/${THROUGHPUT_MODEL:-face_detection_full_range}.tflite
IMAGE=tests/data/images/grace_hopper.jpg
VERGE=$BUILD/verge
HZ=$(getconf CLK_TCK)

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
mosquitto -c "$dir/mosquitto.conf" 2>/dev/null & broker=$!
pids+=("$broker")
for _ in $(seq 100); do (: </dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "broker: $(mosquitto -h | head -1), open-file limit $(ulimit -n)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# Starts a worker (extra arguments go to verge serve) and waits until it is ready; sets $worker.
start_worker() {
  local log=$dir/serve-$RANDOM.log
  : > "$log"
  "$VERGE" serve --broker "$url" "$@" 2>"$log" & worker=$!
  pids+=("$worker")
  for _ in $(seq 200); do
    grep -q ' ready' "$log" && return
    sleep 0.05
  done
  echo "worker did not start: $(cat "$log")" >&2
  exit 1
}

stop_worker() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# CPU time of a process so far, in clock ticks.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

if [ "${SKIP_ROUNDTRIP:-0}" != 1 ]; then
  echo
  echo "== 1. round trip (one job at a time, $IMAGE)"
  start_worker --model "$MODEL"
  "$BUILD/bench/mqtt/bench_mqtt_roundtrip" "$url" face_detection_short_range "$IMAGE" 400 10
  stop_worker "$worker"
fi

echo
echo "== 2. worker throughput: $JOBS jobs of $IMAGE for $(basename "$THROUGHPUT_MODEL" .tflite),"
echo "   --window 16, workers with --concurrency 2"
for _ in $(seq "$JOBS"); do echo "$IMAGE"; done > "$dir/jobs.txt"

# One run with the workers given; prints a line and appends jobs/s to $dir/rate-N.
throughput() {
  local n=$# b0 w0=0 w1=0 p rate cpu_times
  b0=$(ticks "$broker")
  for p in "$@"; do w0=$((w0 + $(ticks "$p"))); done
  TIMEFORMAT='%U %S %R'
  { time "$VERGE" submit --broker "$url" --model "$THROUGHPUT_MODEL" --list "$dir/jobs.txt" --window 16 \
      >/dev/null 2>"$dir/submit.err"; } 2>"$dir/submit.time"
  for p in "$@"; do w1=$((w1 + $(ticks "$p"))); done
  rate=$(grep -o '([0-9.]* jobs/s)' "$dir/submit.err" | tr -d '(' | cut -d' ' -f1)
  cpu_times=$(cat "$dir/submit.time")
  echo "$rate" >> "$dir/rate-$n"
  awk -v n="$n" -v rate="$rate" -v w="$((w1 - w0))" -v b="$(($(ticks "$broker") - b0))" \
      -v hz="$HZ" -v t="$cpu_times" -v load="$(cut -d' ' -f1 /proc/loadavg)" -v jobs="$JOBS" \
      -v costs="$dir/costs" 'BEGIN {
    split(t, s, " ");
    printf "%d worker%s %7.1f jobs/s  %.2f s; CPU s: workers %.2f (%.2f ms/job), broker %.2f, submitter %.2f; load %s\n",
      n, (n > 1 ? "s:" : ": "), rate, s[3], w / hz, w / hz / jobs * 1000, b / hz, s[1] + s[2], load
    # CPU milliseconds per job: of the workers, and of the broker and the submitter together.
    printf "%f %f\n", w / hz / jobs * 1000, (b / hz + s[1] + s[2]) / jobs * 1000 >> costs
  }'
}

median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

start_worker --model "$THROUGHPUT_MODEL" --concurrency 2; first=$worker
for round in $(seq "$ROUNDS"); do
  throughput "$first"
  start_worker --model "$THROUGHPUT_MODEL" --concurrency 2; second=$worker
  throughput "$first" "$second"
  stop_worker "$second"
done
stop_worker "$first"
one=$(median "$dir/rate-1")
two=$(median "$dir/rate-2")
echo "medians: 1 worker $one jobs/s, 2 workers $two jobs/s; scaling $(awk -v a="$one" -v b="$two" \
  'BEGIN { printf "%.2f", b / a }')x (target >= 1.8x)"
# One worker can use a whole core while the broker and the submitter run on the other; two
# workers share the machine's cores with them. W ms of worker CPU and I ms of broker and
# submitter CPU per job thus allow at most CORES * W / (W + I) times one worker's rate.
cut -d' ' -f1 "$dir/costs" > "$dir/worker-ms"
cut -d' ' -f2 "$dir/costs" > "$dir/other-ms"
awk -v w="$(median "$dir/worker-ms")" -v i="$(median "$dir/other-ms")" -v cores="$(nproc)" 'BEGIN {
  printf "CPU per job (medians): workers %.2f ms, broker + submitter %.2f ms (%.0f%%); on %d idle cores, 2 workers can reach at most %.2fx\n",
    w, i, 100 * i / (w + i), cores, (cores < 2 ? cores : 2) * w / (w + i)
}'

if [ "${SKIP_LOADGEN:-0}" = 1 ]; then exit 0; fi
echo
echo "== 3. load generator: $DEVICES devices at 1 message/s for $SECONDS_RUN s, QoS 1"
timer=()
if [ -x /usr/bin/time ]; then
  timer=(/usr/bin/time -f "loadgen process: %e s wall, %U s user, %S s system, %M KiB peak")
fi
"${timer[@]}" "$VERGE" loadgen --broker "$url" --devices "$DEVICES" --rate 1 --duration "$SECONDS_RUN" \
  --subscribe
