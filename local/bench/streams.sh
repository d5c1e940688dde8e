#!/usr/bin/env bash
# ferry's streaming readers (inventory data, completion report) against DuckDB, 1 and 2 threads,
# and Python's csv module, on the same 5,000,000-row files, side by side (local/bench/streams.py).
#
#   bash local/bench/streams.sh [ROWS] [ROUNDS]        (make bench-streams)
set -euo pipefail
cd "$(dirname "$0")/../.."
rows="${1:-5000000}"
rounds="${2:-3}"
cargo build --quiet --release --locked -p ferry-core --example bench_streams
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
target/release/examples/bench_streams "$rows" "$dir" > /dev/null
.venv-bench/bin/python local/bench/streams.py "$dir" "$rows" "$rounds" target/release/examples/bench_streams
