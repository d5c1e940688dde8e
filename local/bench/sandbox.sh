#!/usr/bin/env bash
# The sandbox's S3 Batch Operations throughput, in tasks per second, as `ferry demo` sees it:
# a copy of N objects (its S3PutObjectCopy job; flow B by default, `inventory` for flow A), then
# the verification job (the copy worker through LambdaInvoke, one invocation per task). The rates come from the watch's own
# timestamps: from "job ... submitted" to "job ... Complete"; the demo's total is the wall time
# of the whole demo (sandbox start, seeding, the copy, its check).
#
#   bash local/bench/sandbox.sh [N] [csv|inventory]        (make bench-sandbox)
set -euo pipefail
cd "$(dirname "$0")/../.."
objects="${1:-1000}"
flow="${2:-csv}"
cargo build --quiet --locked -p ferry-cli --features demo
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
start=$(date +%s.%N)
target/debug/ferry demo --flow "$flow" --objects "$objects" > "$log" 2>&1 || { cat "$log"; exit 1; }
end=$(date +%s.%N)
python3 - "$log" "$objects" "$start" "$end" "$flow" <<'PY'
import re, sys
log, objects, start, end, flow = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
submitted, complete, kinds = {}, {}, {}
for line in open(log):
    m = re.match(r"\[\s*([\d.]+)s\] (verification job|job) (\S+) submitted", line)
    if m:
        submitted[m.group(3)[:12]] = float(m.group(1))
        kinds[m.group(3)[:12]] = "verification (LambdaInvoke)" if m.group(2).startswith("verification") else "copy (S3PutObjectCopy)"
    m = re.match(r"\[\s*([\d.]+)s\] job (\S+) Complete: (\d+)/", line)
    if m:
        complete[m.group(2)[:12]] = (float(m.group(1)), int(m.group(3)))
for job, t0 in submitted.items():
    t1, tasks = complete[job]
    print(f"{kinds[job]:30} {tasks} tasks in {t1 - t0:6.1f} s: {tasks / (t1 - t0):6.1f} tasks/s")
print(f"ferry demo --flow {flow} --objects {objects}: {end - start:.1f} s in all")
PY
