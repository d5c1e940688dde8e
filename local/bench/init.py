"""Cold start of a Lambda function on this machine, against a mock Runtime API.

For each candidate (a command that runs a Lambda runtime client), `--runs` times, interleaved
(one run of every candidate, then the next round), the harness:

1. starts the process with Lambda's environment, its Runtime API at a local mock;
2. measures **init**: from the spawn to the function's first `GET .../invocation/next`;
3. hands it the event and measures the **first invocation**: from the event handed over to the
   function's `POST .../response` (for ferry's function this holds its first AWS call: a TLS
   handshake, with the first use of randomness, and the root certificates loaded);
4. hands it the event again and measures the **second invocation** (warm);
5. stops it.

The AWS endpoint is a local HTTPS server (a certificate of a throwaway CA, generated here, that
the candidates trust through SSL_CERT_FILE or AWS_CA_BUNDLE), which answers S3 Control's
DescribeJob and S3's HeadBucket. Everything listens on 127.0.0.1, on free ports.

Prints a Markdown table of medians and 90th percentiles in milliseconds.

    python init.py --runs 30 --event EVENT.json NAME=COMMAND [NAME=COMMAND ...]

A candidate's COMMAND may start with VAR=value words, set in its environment only.
"""

import argparse
import datetime
import http.server
import json
import os
import queue
import shlex
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

DESCRIBE_JOB = b"""<?xml version="1.0" encoding="UTF-8"?>
<DescribeJobResult xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/"><Job>
<JobId>job-1</JobId><Description>ferry photos-2026</Description><Status>Active</Status>
<Priority>10</Priority><CreationTime>2026-11-30T10:00:00Z</CreationTime>
<ProgressSummary><TotalNumberOfTasks>100</TotalNumberOfTasks><NumberOfTasksSucceeded>40</NumberOfTasksSucceeded>
<NumberOfTasksFailed>0</NumberOfTasksFailed></ProgressSummary></Job></DescribeJobResult>"""


# The platform's CA bundle: Debian's, then Amazon Linux's (Lambda's provided.al2023).
SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


def make_certificates(directory):
    """A CA and a server certificate for 127.0.0.1 signed by it (webpki refuses a CA
    certificate as the server's own). Returns (ca.pem, server.pem, server.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ferry bench CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = [os.path.join(directory, n) for n in ("ca.pem", "server.pem", "server.key")]
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(server.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return paths


class Endpoint(http.server.BaseHTTPRequestHandler):
    """The AWS endpoint: DescribeJob for GET, an empty 200 for HEAD (HeadBucket)."""

    protocol_version = "HTTP/1.1"
    # Headers and body leave at once: with Nagle's algorithm the body waits for the client's
    # delayed ACK of the headers (40 ms), which would be measured instead of the function.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _drain(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)

    def do_GET(self):
        self._drain()
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(DESCRIBE_JOB)))
        self.end_headers()
        self.wfile.write(DESCRIBE_JOB)

    def do_HEAD(self):
        self._drain()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Runtime:
    """The Lambda Runtime API of one candidate process at a time."""

    def __init__(self):
        self.events = queue.Queue()
        self.answers = queue.Queue()
        # When the process asked for its next event (each GET .../invocation/next).
        self.asked = queue.Queue()
        runtime = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def handle(self):
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # a process stopped by the harness

            def log_message(self, *args):
                pass

            def do_GET(self):
                if not self.path.endswith("/invocation/next"):
                    self.send_error(404)
                    return
                runtime.asked.put(time.perf_counter())
                request_id, body = runtime.events.get()
                if body is None:  # the harness is stopping this process
                    self.send_error(500)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                deadline = int(time.time() * 1000) + 60_000
                self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline))
                self.send_header(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:eu-west-1:222222222222:function:ferry-bench",
                )
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                at = time.perf_counter()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                kind = "error" if self.path.endswith("/error") else "response"
                runtime.answers.put((at, kind, body))

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = "127.0.0.1:%d" % self.server.server_address[1]

    def next_request(self, command):
        """The time the process asked for its next event."""
        try:
            return self.asked.get(timeout=30)
        except queue.Empty:
            raise SystemExit("%s: no request for an event in 30 s" % command)

    def invoke(self, request_id, event):
        """Hands over the event the process asked for; the time it took to answer."""
        start = time.perf_counter()
        self.events.put((request_id, event))
        at, kind, body = self.answers.get(timeout=60)
        if kind != "response":
            raise SystemExit("the function failed its invocation: %s" % body.decode(errors="replace"))
        return at - start


def lambda_environment(runtime, endpoint, ca):
    env = dict(os.environ)
    env.update(
        {
            "AWS_LAMBDA_RUNTIME_API": runtime.address,
            "AWS_LAMBDA_FUNCTION_NAME": "ferry-bench",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/ferry-bench",
            "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "AWS_SESSION_TOKEN": "bench",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_CA_BUNDLE": ca,
            "SSL_CERT_FILE": ca,
            "AWS_EC2_METADATA_DISABLED": "true",
            "RUST_LOG": "warn",
            "AWS_LAMBDA_LOG_LEVEL": "WARN",
            # ferry's stack configuration (the template's Globals), the destination side.
            "FERRY_ACCOUNT_ID": "222222222222",
            "FERRY_BUCKET": "ferry-222222222222-eu-west-1",
            "FERRY_SOURCE_ACCOUNT_IDS": "111111111111",
            "FERRY_SOURCE_BUCKETS": "src-photos",
            "FERRY_DESTINATION_ACCOUNT_IDS": "222222222222",
            "FERRY_DESTINATION_BUCKETS": "dst-photos",
            "FERRY_MANIFEST_BUCKETS": "",
            "FERRY_SOURCE_KMS_KEY_ARNS": "",
            "FERRY_BOUNDARY_ARN": "arn:aws:iam::222222222222:policy/ferry/ferry-boundary-eu-west-1",
        }
    )
    env.pop("SSL_CERT_DIR", None)
    return env


def measure(command, base_env, runtime, event, round_no):
    words = shlex.split(command)
    env = dict(base_env)
    while words and "=" in words[0] and not words[0].startswith(("/", ".")):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    while not runtime.asked.empty():
        runtime.asked.get()
    # stderr to a file: a pipe nobody reads could fill and stall the process being measured.
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        process = subprocess.Popen(words, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        try:
            init = runtime.next_request(command) - start
            first = runtime.invoke("r%d-1" % round_no, event)
            runtime.next_request(command)
            second = runtime.invoke("r%d-2" % round_no, event)
            runtime.next_request(command)
            runtime.events.put(("stop", None))
            return init, first, second
        except SystemExit as e:
            errors.seek(0)
            raise SystemExit("%s (its stderr: %s)" % (e, errors.read().decode(errors="replace")))
        finally:
            process.kill()
            process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--event", required=True, help="the JSON event each invocation gets")
    parser.add_argument("candidates", nargs="+", metavar="NAME=COMMAND")
    args = parser.parse_args()
    candidates = [c.split("=", 1) for c in args.candidates]
    with open(args.event, "rb") as f:
        event = f.read()
    json.loads(event)

    directory = tempfile.mkdtemp(prefix="ferry-init-")
    ca, cert, key = make_certificates(directory)
    # What the functions trust: the platform's bundle (as Lambda's SSL_CERT_FILE names it) with
    # the throwaway CA added, so that every candidate parses a full set of roots.
    bundle = os.path.join(directory, "bundle.pem")
    with open(bundle, "wb") as out:
        for system in SYSTEM_BUNDLES:
            if os.path.exists(system):
                with open(system, "rb") as f:
                    out.write(f.read())
                break
        with open(ca, "rb") as f:
            out.write(f.read())
    endpoint = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    endpoint.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    endpoint.socket = context.wrap_socket(endpoint.socket, server_side=True)
    threading.Thread(target=endpoint.serve_forever, daemon=True).start()
    endpoint_url = "https://127.0.0.1:%d" % endpoint.server_address[1]
    runtime = Runtime()
    base_env = lambda_environment(runtime, endpoint_url, bundle)

    results = {name: ([], [], []) for name, _ in candidates}
    for round_no in range(args.runs):
        for name, command in candidates:
            for series, value in zip(results[name], measure(command, base_env, runtime, event, round_no)):
                series.append(value * 1000)
        print("round %d of %d" % (round_no + 1, args.runs), file=sys.stderr, flush=True)

    def cell(values):
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
        return "%.1f (p90 %.1f)" % (statistics.median(values), p90)

    print("| candidate | init: spawn to first /next, ms | first invocation, ms | second invocation, ms |")
    print("|---|---|---|---|")
    for name, _ in candidates:
        init, first, second = results[name]
        print("| %s | %s | %s | %s |" % (name, cell(init), cell(first), cell(second)))


if __name__ == "__main__":
    main()
