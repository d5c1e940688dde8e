"""ferry's streaming readers against DuckDB (1 and 2 threads) and Python's csv module, on the
same files, side by side, interleaved (every candidate once per round), each in a process of
its own so that its peak memory is its own (wait4's ru_maxrss).

The work, for each:
- inventory: every row of a gzipped inventory data file (8 documented columns) read and the
  objects S3PutObjectCopy cannot copy counted (delete markers, over 5 GB, archived, SSE-C), their
  keys URL-decoded (none here); ferry: what job-submit does with each row (`bench_streams`), and
  apart, every column of every row copied out with its key decoded (the readers' iterator).
- report: every row of a completion report's result CSV read and counted by error code, and the
  retryable rows' bucket and key written to a retry manifest (DuckDB: a GROUP BY and a COPY).

    python streams.py DIR ROWS ROUNDS FERRY_BENCH_BINARY
"""

import re
import statistics
import subprocess
import sys

PEAK = r"""
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0
"""

DUCKDB = PEAK + r"""
import sys, time, duckdb
directory, threads = sys.argv[1], int(sys.argv[2])
con = duckdb.connect()
con.execute("SET threads = %d" % threads)
columns = {"Bucket": "VARCHAR", "Key": "VARCHAR", "Size": "BIGINT", "LastModifiedDate": "VARCHAR",
           "ETag": "VARCHAR", "StorageClass": "VARCHAR", "IsMultipartUploaded": "VARCHAR",
           "EncryptionStatus": "VARCHAR"}
t = time.perf_counter()
n, obstacles = con.execute(
    "SELECT count(*), count(*) FILTER (WHERE Size > 5368709120 "
    "OR StorageClass IN ('GLACIER', 'DEEP_ARCHIVE') OR EncryptionStatus = 'SSE-C') "
    "FROM read_csv(?, header = false, compression = 'gzip', columns = ?)",
    [directory + "/data.csv.gz", columns]).fetchone()
inventory = time.perf_counter() - t
t = time.perf_counter()
report_columns = {"bucket": "VARCHAR", "key": "VARCHAR", "version": "VARCHAR",
                  "status": "VARCHAR", "code": "VARCHAR", "http": "VARCHAR", "message": "VARCHAR"}
codes = con.execute(
    "SELECT code, count(*) FROM read_csv(?, header = false, columns = ?) GROUP BY code",
    [directory + "/results.csv", report_columns]).fetchall()
con.execute(
    "COPY (SELECT bucket, key FROM read_csv('%s', header = false, columns = %s) WHERE status = 'failed' "
    "AND code IN ('SlowDown', 'InternalError', 'ServiceUnavailable', 'RequestTimeout')) "
    "TO '%s' (HEADER false)" % (directory + "/results.csv", report_columns, directory + "/retry-duck.csv"))
report = time.perf_counter() - t
print("inventory %d %.4f" % (n, inventory))
print("report %d %.4f" % (sum(c for _, c in codes), report))
print("peak %d" % peak())
"""

PYTHON = PEAK + r"""
import collections, csv, gzip, sys, time, urllib.parse
directory = sys.argv[1]
t = time.perf_counter()
n = size = obstacles = 0
with gzip.open(directory + "/data.csv.gz", "rt", newline="") as f:
    for row in csv.reader(f):
        s = int(row[2]) if row[2] else 0
        n += 1
        if s > 5368709120 or row[5] in ("GLACIER", "DEEP_ARCHIVE") or row[7] == "SSE-C":
            obstacles += 1
            urllib.parse.unquote_plus(row[1])
inventory = time.perf_counter() - t
t = time.perf_counter()
codes = collections.Counter()
with open(directory + "/results.csv", newline="") as f, open(directory + "/retry-py.csv", "w", newline="") as out:
    w = csv.writer(out)
    for row in csv.reader(f):
        codes[row[4]] += 1
        if row[3] == "failed" and row[4] in ("SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"):
            w.writerow([row[0], row[1]])
report = time.perf_counter() - t
print("inventory %d %.4f" % (n, inventory))
print("report %d %.4f" % (sum(codes.values()), report))
print("peak %d" % peak())
"""


# What each reader prints: (name, pattern giving rows and seconds). ferry's lines come from
# bench_streams; DuckDB's and Python's from the scripts above.
PATTERNS = [
    ("whole", r"inventory rows whole: (\d+) rows, .*?([\d.]+) s,"),
    ("inventory", r"inventory: (\d+) rows, ([\d.]+) s,"),
    ("report", r"report: (\d+) failed .*?, ([\d.]+) s,"),
    ("inventory", r"inventory (\d+) ([\d.]+)$"),
    ("report", r"report (\d+) ([\d.]+)$"),
]


def run(command):
    """(inventory seconds, report seconds, inventory rows, peak RSS KiB, whole rows or None)."""
    process = subprocess.run(command, capture_output=True, text=True)
    if process.returncode != 0:
        raise SystemExit("%s failed: %s%s" % (command[0], process.stdout, process.stderr))
    found, rss = {}, 0
    for line in process.stdout.splitlines():
        for name, pattern in PATTERNS:
            m = re.match(pattern, line)
            if m:
                found[name] = (int(m.group(1)), float(m.group(2)))
                break
        # Each process's own peak (VmHWM): wait4's ru_maxrss would count the Python parent's
        # pages that the child held between fork and exec.
        m = re.match(r"peak (\d+)$", line) or re.match(r"peak RSS KiB: .* after report (\d+)$", line)
        if m:
            rss = int(m.group(1))
    return found["inventory"][1], found["report"][1], found["inventory"][0], rss, found.get("whole")


WHOLE = "ferry (1 thread), every column of every row"


def main():
    directory, rows, rounds, ferry = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    python = sys.executable
    candidates = [
        ("ferry (1 thread)", [ferry, str(rows), directory]),
        ("DuckDB, 1 thread", [python, "-c", DUCKDB, directory, "1"]),
        ("DuckDB, 2 threads", [python, "-c", DUCKDB, directory, "2"]),
        ("Python csv", [python, "-c", PYTHON, directory]),
    ]
    results = {name: [] for name, _ in candidates}
    for r in range(rounds):
        for name, command in candidates:
            inventory, report, n, rss, whole = run(command)
            if n != rows:
                raise SystemExit("%s read %d inventory rows, not %d" % (name, n, rows))
            results[name].append((inventory, report, rss))
            if whole:
                results.setdefault(WHOLE, []).append((whole[1], report, rss))
        print("round %d of %d" % (r + 1, rounds), file=sys.stderr, flush=True)
    print("| reader | inventory rows/s | report rows/s | peak RSS |")
    print("|---|---|---|---|")
    for name in [c[0] for c in candidates[:1]] + [WHOLE] + [c[0] for c in candidates[1:]]:
        inventory = statistics.median(x[0] for x in results[name])
        report = statistics.median(x[1] for x in results[name])
        rss = max(x[2] for x in results[name])
        print("| %s | %.2f M (%.2f s) | %.2f M (%.2f s) | %s MiB |" % (
            name, rows / inventory / 1e6, inventory, rows / report / 1e6, report,
            "%.1f" % (rss / 1024)))


if __name__ == "__main__":
    main()
