#!/usr/bin/env bash
# `make bench-worker`: one large object copied server side on a local S3 server, by ferry's copy
# worker (at several parts in flight) and by `aws s3 cp`, in one run, one after the other on the
# same server and the same source object. Prints MB/s for each. The server is moto's standalone
# S3 (from PyPI, pinned in requirements-dev.txt; local/bench/moto_server.py), on 127.0.0.1 and a
# free port, stopped by PID when the script ends, even on failure. Usage: worker.sh [MiB] (default 1024).
set -euo pipefail
cd "$(dirname "$0")/../.."
MIB="${1:-1024}"
PORT="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
PYTHONPATH=local .venv/bin/python local/bench/moto_server.py -H 127.0.0.1 -p "$PORT" > target/bench-moto.log 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
ENDPOINT="http://127.0.0.1:$PORT"
for _ in $(seq 100); do
  curl -s -o /dev/null "$ENDPOINT" && break
  sleep 0.1
done
export AWS_ACCESS_KEY_ID=AKIABENCH AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=eu-west-1
echo "one ${MIB} MiB object, copied server side on moto's S3 ($ENDPOINT)"
target/debug/examples/bench_worker "$ENDPOINT" "$MIB" 64 1 4 16
aws_cp() {
  local label="$1" chunk="$2" concurrency="$3"
  .venv-bench/bin/aws configure set default.s3.multipart_chunksize "$chunk"
  .venv-bench/bin/aws configure set default.s3.max_concurrent_requests "$concurrency"
  local start end
  start=$(date +%s.%N)
  .venv-bench/bin/aws --endpoint-url "$ENDPOINT" s3 cp --quiet \
    s3://bench-source/big/object.bin "s3://bench-destination/aws-$label/big/object.bin"
  end=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'aws s3 cp ({sys.argv[3]})  {sys.argv[4]:>3} in flight  {s:7.2f} s  {int(sys.argv[5])*1048576/1e6/s:8.1f} MB/s')" \
    "$start" "$end" "$label" "$concurrency" "$MIB"
}
export AWS_CONFIG_FILE="$PWD/target/bench-aws-config"
aws_cp "8MB-parts" 8MB 10
aws_cp "64MB-parts" 64MB 16
