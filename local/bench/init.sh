#!/usr/bin/env bash
# Cold start of ferry's functions against a mock Runtime API (local/bench/init.py), side by side
# in one run, interleaved: ferry-job-track as shipped (AWS-LC without jitter entropy, root
# certificates from one file, clients built on first use), the same function with the platform's
# certificate directory scanned too, the same function built with AWS-LC's jitter entropy, a bare
# lambda_runtime binary, and Python with boto3. Release builds, as `make package` builds them.
#
#   bash local/bench/init.sh [RUNS]        (make bench-init; RUNS=30 by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-30}"
cargo build --quiet --release --locked -p ferry-job-track -p ferry-bench-bare-runtime
# The comparison build: jitter entropy back in (.cargo/config.toml leaves it out), in a target
# directory of its own so that neither build undoes the other.
AWS_LC_SYS_NO_JITTER_ENTROPY=0 cargo build --quiet --release --locked -p ferry-job-track \
  --target-dir target/bench-jitter
# The job-track event: the state machine's input to "Track the job" (a unit test of job-track
# keeps this fixture equal to the one its tests use).
event=shared/fixtures/track-input.json
# The platform's certificate directory, as rustls-native-certs finds it when neither
# SSL_CERT_FILE nor SSL_CERT_DIR is set (openssl-probe's first existing directory).
certdir=""
for d in /etc/ssl/certs /etc/pki/tls/certs /etc/pki/ca-trust/extracted/pem; do
  if [ -d "$d" ]; then certdir="$d"; break; fi
done
candidates=(
  "ferry-job-track=target/release/ferry-job-track"
  "ferry-job-track, with jitter entropy=target/bench-jitter/release/ferry-job-track"
  "bare lambda_runtime=target/release/ferry-bench-bare-runtime"
  "Python $(.venv/bin/python -c 'import sys, boto3; print("%d.%d + boto3 %s" % (sys.version_info[:2] + (boto3.__version__,)))')=.venv/bin/python local/bench/python_runtime.py"
)
if [ -n "$certdir" ]; then
  candidates+=("ferry-job-track, certificate directory scanned ($certdir)=SSL_CERT_DIR=$certdir target/release/ferry-job-track")
fi
.venv/bin/python local/bench/init.py --runs "$runs" --event "$event" "${candidates[@]}"
