"""S3 Batch Operations for the sandbox: CreateJob, DescribeJob, ListJobs and UpdateJobStatus on
the S3 Control API paths, and a runner that takes each job through New, Preparing, Active and
Complete (or Failed / Cancelled) the way AWS documents it.

Each task copies one object as the job's role: it is refused with AccessDenied unless the role's
policies (within its permissions boundary) and, across accounts, the bucket policy allow it (see
policy.py). Objects over 5 GB fail with S3's InvalidRequest. The completion report is written as
AWS writes it (Report_CSV_20180820; rows carry the HTTP status before the error code, the
manifest's Results[].Key is the full key). Tests can inject failures by key pattern, hold jobs in Active
and fake object sizes through the control API (launcher.py).

A LambdaInvoke job (schema 2.0, as ferry's copy worker speaks it) invokes the function host
for each task as the job's role (lambda:InvokeFunction through the strict evaluator), one task
per invocation; a TemporaryFailure is invoked again (up to `LAMBDA_REDRIVES` times) before the
job completes, as AWS redrives it. The copy limit (5 GB) is set lower through the control API
(`/copy-limit`) so that objects of a few MB take the copy worker's path with real parts.
"""

import csv
import fnmatch
import gzip
import hashlib
import io
import json
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import parse_qs, quote, unquote_plus, urlparse

from . import archive, authz, capture, generator, kms
from .s3xml import el as _el, members as _members, plain as _plain, strip as _strip, to_dict as _xml_to_dict, xml_map as _xml_map


NS = "http://awss3control.amazonaws.com/doc/2018-08-20/"
COPY_SIZE_MAX = 5 * 1024 * 1024 * 1024
# How often a task answered TemporaryFailure is invoked again before it counts as failed.
LAMBDA_REDRIVES = 20
TERMINAL = {"Complete", "Failed", "Cancelled"}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _bucket_of(arn: str) -> str:
    return arn.split(":::", 1)[1].split("/", 1)[0]


class Failure(Exception):
    def __init__(self, code: str, http: int, message: str):
        self.code, self.http, self.message = code, http, message


class Controls:
    """What tests steer: injected failures, held jobs, faked sizes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failures: list[dict] = []
        self.hold = False
        self.sizes: dict[tuple[str, str], int] = {}
        self.attempts: dict[tuple[str, str], int] = {}
        # S3PutObjectCopy's limit; lowered by tests so that a few MB count as "over 5 GB".
        self.copy_limit = COPY_SIZE_MAX
        self.lambda_redrives = LAMBDA_REDRIVES

    def failure_for(self, bucket: str, key: str) -> Failure | None:
        with self.lock:
            n = self.attempts.get((bucket, key), 0) + 1
            self.attempts[(bucket, key)] = n
            for f in self.failures:
                if fnmatch.fnmatchcase(key, f["pattern"]):
                    times = f.get("times")
                    if times is None or n <= int(times):
                        return Failure(f.get("code", "SlowDown"), int(f.get("http", 503)), f.get("message", "Please reduce your request rate."))
        return None


class Job:
    def __init__(self, account: str, job_id: str, request: dict):
        self.redrives = 0
        self.account = account
        self.id = job_id
        self.request = request
        self.status = "New"
        self.total = 0
        self.succeeded = 0
        self.failed = 0
        self.failure_reasons: list[tuple[str, str]] = []
        self.status_update_reason = ""
        self.created = _now()
        # The CreateJob request's Operation element, as DescribeJob gives it back.
        self.operation: ET.Element | None = None
        self.active_since: float | None = None
        self.active_seconds = 0
        self.cancel_requested = False
        self.results: list[tuple[str, str, str, str, str, str, str]] = []
        # A generated manifest's descriptor (Format, ObjectArn, ETag) once it is written.
        self.generated: dict | None = None


class Batch:
    """The jobs of every account, and the S3 Control handlers."""

    def __init__(self, world: Any, controls: Controls):
        # `world` gives the runner what a job touches: roles and their policies, bucket owners
        # and policies, objects (get / put), all through moto's public API.
        self.world = world
        self.controls = controls
        self.lock = threading.Lock()
        self.jobs: dict[tuple[str, str], Job] = {}
        self.tokens: dict[tuple[str, str], tuple[str, str]] = {}

    # ---- HTTP handlers (moto's dispatch convention: request, full_url, headers) ----

    def routes(self) -> dict[str, Callable]:
        return {
            "/v20180820/jobs": self.jobs_collection,
            "/v20180820/jobs/<job_id>": self.job_resource,
            "/v20180820/jobs/<job_id>/status": self.job_status,
        }

    @staticmethod
    def _account(headers: Any) -> str:
        return headers.get("x-amz-account-id") or headers.get("X-Amz-Account-Id") or ""

    @staticmethod
    def _error(status: int, code: str, message: str) -> tuple:
        root = ET.Element("ErrorResponse")
        err = _el(root, "Error")
        _el(err, "Code", code)
        _el(err, "Message", message)
        return status, {"Content-Type": "application/xml"}, ET.tostring(root)

    @staticmethod
    def _ok(root: ET.Element) -> tuple:
        return 200, {"Content-Type": "application/xml"}, ET.tostring(root, xml_declaration=True, encoding="UTF-8")

    def jobs_collection(self, request: Any, full_url: str, headers: Any) -> tuple:
        account = self._account(headers)
        if request.method == "POST":
            return self.create_job(account, request.data)
        return self.list_jobs(account, parse_qs(urlparse(full_url).query))

    def job_resource(self, request: Any, full_url: str, headers: Any) -> tuple:
        job_id = urlparse(full_url).path.rstrip("/").split("/")[-1]
        job = self.jobs.get((self._account(headers), job_id))
        if job is None:
            return self._error(404, "NoSuchJob", f"The specified job does not exist: {job_id}")
        return self._ok(self.describe(job))

    def job_status(self, request: Any, full_url: str, headers: Any) -> tuple:
        parts = urlparse(full_url)
        job_id = parts.path.rstrip("/").split("/")[-2]
        query = parse_qs(parts.query)
        job = self.jobs.get((self._account(headers), job_id))
        if job is None:
            return self._error(404, "NoSuchJob", f"The specified job does not exist: {job_id}")
        wanted = query.get("requestedJobStatus", [""])[0]
        with self.lock:
            if wanted == "Cancelled":
                if job.status in TERMINAL:
                    return self._error(400, "JobStatusException", f"job {job_id} is {job.status}")
                job.cancel_requested = True
                job.status = "Cancelling"
                job.status_update_reason = query.get("statusUpdateReason", [""])[0]
            elif wanted == "Ready":
                if job.status != "Suspended":
                    return self._error(400, "JobStatusException", f"job {job_id} is {job.status}")
                job.status = "Ready"
            else:
                return self._error(400, "InvalidRequest", f"requestedJobStatus {wanted!r}")
        root = ET.Element("UpdateJobStatusResult", xmlns=NS)
        _el(root, "JobId", job.id)
        _el(root, "Status", job.status)
        _el(root, "StatusUpdateReason", job.status_update_reason)
        return self._ok(root)

    def create_job(self, account: str, body: bytes) -> tuple:
        req = _xml_to_dict(ET.fromstring(body))
        if bool(req.get("Manifest")) == bool(req.get("ManifestGenerator")):
            # "Jobs must be created with either a manifest file or a ManifestGenerator, but not
            # both" (S3 Control API, CreateJob); BadRequestException is the call's error for it.
            return self._error(400, "BadRequestException", "Jobs must be created with either a manifest file or a ManifestGenerator, but not both")
        token = req.get("ClientRequestToken", "")
        fingerprint = hashlib.sha256(json.dumps(req, sort_keys=True).encode()).hexdigest()
        with self.lock:
            seen = self.tokens.get((account, token))
            if seen is not None:
                job_id, earlier = seen
                if earlier != fingerprint:
                    return self._error(400, "IdempotencyException", "ClientRequestToken was used with a different request")
            else:
                job_id = str(uuid.uuid4())
                self.tokens[(account, token)] = (job_id, fingerprint)
                job = Job(account, job_id, req)
                job.operation = next((c for c in ET.fromstring(body) if _strip(c.tag) == "Operation"), None)
                self.jobs[(account, job_id)] = job
                threading.Thread(target=self.run, args=(job,), daemon=True, name=f"job-{job_id}").start()
        root = ET.Element("CreateJobResult", xmlns=NS)
        _el(root, "JobId", job_id)
        return self._ok(root)

    def list_jobs(self, account: str, query: dict) -> tuple:
        statuses = set(query.get("jobStatuses", []))
        root = ET.Element("ListJobsResult", xmlns=NS)
        jobs = _el(root, "Jobs")
        for (acct, _), job in sorted(self.jobs.items(), key=lambda kv: kv[1].created):
            if acct != account or (statuses and job.status not in statuses):
                continue
            m = _el(jobs, "member")
            _el(m, "JobId", job.id)
            _el(m, "Description", job.request.get("Description", ""))
            # ListJobs' Operation names the job's operation (JobListDescriptor.Operation).
            _el(m, "Operation", next(iter(job.request.get("Operation") or {}), "S3PutObjectCopy"))
            _el(m, "Priority", job.request.get("Priority", "0"))
            _el(m, "Status", job.status)
            _el(m, "CreationTime", job.created)
            self._progress(m, job)
        return self._ok(root)

    def _progress(self, parent: ET.Element, job: Job) -> None:
        p = _el(parent, "ProgressSummary")
        _el(p, "TotalNumberOfTasks", job.total)
        _el(p, "NumberOfTasksSucceeded", job.succeeded)
        _el(p, "NumberOfTasksFailed", job.failed)
        t = _el(p, "Timers")
        active = job.active_seconds + (int(time.time() - job.active_since) if job.active_since else 0)
        _el(t, "ElapsedTimeInActiveSeconds", active)

    def describe(self, job: Job) -> ET.Element:
        r = job.request
        root = ET.Element("DescribeJobResult", xmlns=NS)
        j = _el(root, "Job")
        _el(j, "JobId", job.id)
        _el(j, "ConfirmationRequired", r.get("ConfirmationRequired", "false"))
        _el(j, "Description", r.get("Description", ""))
        _el(j, "Status", job.status)
        _el(j, "Priority", r.get("Priority", "0"))
        _el(j, "RoleArn", r.get("RoleArn", ""))
        _el(j, "ClientRequestToken", r.get("ClientRequestToken", ""))
        _el(j, "CreationTime", job.created)
        if job.operation is not None:
            # The job's operation as it was created (S3 Control API, DescribeJob: JobDescriptor's
            # Operation), namespaces dropped as this document writes them.
            j.append(_plain(job.operation))
        if job.status_update_reason:
            _el(j, "StatusUpdateReason", job.status_update_reason)
        self._progress(j, job)
        if job.generated:
            # "Batch Operations jobs created with a ManifestGenerator populate details of this
            # descriptor after execution of the ManifestGenerator" (DescribeJob).
            g = _el(j, "GeneratedManifestDescriptor")
            _el(g, "Format", job.generated["Format"])
            loc = _el(g, "Location")
            _el(loc, "ObjectArn", job.generated["ObjectArn"])
            _el(loc, "ETag", job.generated["ETag"])
        if job.failure_reasons:
            fr = _el(j, "FailureReasons")
            for code, reason in job.failure_reasons:
                m = _el(fr, "member")
                _el(m, "FailureCode", code)
                _el(m, "FailureReason", reason)
        return root

    # ---- the runner ----

    def _set(self, job: Job, status: str) -> None:
        with self.lock:
            if job.status == "Cancelling" and status not in ("Cancelled",):
                return
            job.status = status

    def run(self, job: Job) -> None:
        try:
            self._run(job)
        except Exception as e:  # a sandbox bug must end the job visibly, not hang it
            job.failure_reasons.append(("InternalError", f"sandbox: {e!r}"))
            self._set(job, "Failed")

    def _run(self, job: Job) -> None:
        time.sleep(0.2)
        self._set(job, "Preparing")
        r = job.request
        role_arn = r.get("RoleArn", "")
        role = self.world.role(role_arn)
        if role is None:
            job.failure_reasons.append(("AccessDenied", f"Unable to assume role {role_arn}"))
            return self._set(job, "Failed")
        if r.get("ManifestGenerator"):
            # Jobs take a manifest or a generator, "but not both" (S3 Control API, CreateJob).
            try:
                tasks, job.generated = generator.generate(
                    self.world, self.controls.sizes, role, job.id, r["ManifestGenerator"]["S3JobManifestGenerator"])
            except generator.Refused as e:
                job.failure_reasons.append((e.code, e.reason))
                return self._set(job, "Failed")
            return self._run_tasks(job, role, tasks)
        location = r["Manifest"]["Location"]
        manifest_arn = location["ObjectArn"]
        m_bucket, m_key = manifest_arn.split(":::", 1)[1].split("/", 1)
        ok, why = self.world.allowed(role, "s3:GetObject", m_bucket, m_key)
        if not ok:
            job.failure_reasons.append(("AccessDenied", f"Reading the manifest failed: {why}"))
            return self._set(job, "Failed")
        body, etag = self.world.get_object(m_bucket, m_key)
        if location.get("ETag", "").strip('"') != etag.strip('"'):
            job.failure_reasons.append(("InvalidManifest", "The manifest's ETag does not match the object's"))
            return self._set(job, "Failed")
        spec_format = r["Manifest"]["Spec"]["Format"]
        if spec_format == "S3BatchOperations_CSV_20180820":
            fields = [f for f in _members(r["Manifest"]["Spec"].get("Fields"))] or ["Bucket", "Key"]
            files = [body.decode("utf-8")]
        elif spec_format == "S3InventoryReport_CSV_20161130":
            # The inventory's manifest.json lists gzipped CSV data files, read as the role too.
            manifest = json.loads(body)
            fields = [f.strip() for f in manifest["fileSchema"].split(",")]
            files = []
            for f in manifest["files"]:
                ok, why = self.world.allowed(role, "s3:GetObject", m_bucket, f["key"])
                if not ok:
                    job.failure_reasons.append(("AccessDenied", f"Reading the inventory data failed: {why}"))
                    return self._set(job, "Failed")
                data, _ = self.world.get_object(m_bucket, f["key"])
                files.append(gzip.decompress(data).decode("utf-8"))
        else:
            job.failure_reasons.append(("UnsupportedManifest", f"the sandbox does not read {spec_format}"))
            return self._set(job, "Failed")
        tasks = []
        for text in files:
            for row in csv.reader(io.StringIO(text)):
                if not row:
                    continue
                values = dict(zip(fields, row))
                tasks.append((values.get("Bucket", ""), values.get("Key", ""), values.get("VersionId", "")))
        self._run_tasks(job, role, tasks)

    def _run_tasks(self, job: Job, role: dict, tasks: list) -> None:
        r = job.request
        job.total = len(tasks)
        if str(r.get("ConfirmationRequired", "false")).lower() == "true":
            # "If the job requires confirmation before running ... the job transitions from
            # Preparing to Suspended. It remains in the Suspended state until you confirm"
            # (S3 User Guide, batch-ops-job-status); cancelled there, it never runs a task.
            self._set(job, "Suspended")
            while job.status == "Suspended" and not job.cancel_requested:
                time.sleep(0.1)
            if job.cancel_requested:
                return self._set(job, "Cancelled")
        self._set(job, "Active")
        job.active_since = time.time()
        while self.controls.hold and not job.cancel_requested:
            time.sleep(0.1)
        copy = r["Operation"].get("S3PutObjectCopy")
        invoke = r["Operation"].get("LambdaInvoke")
        restore = r["Operation"].get("S3InitiateRestoreObject")
        for bucket, encoded_key, version in tasks:
            if job.cancel_requested:
                break
            try:
                if invoke is not None:
                    message = self._invoke(job, role, invoke, bucket, encoded_key, version)
                elif restore is not None:
                    message = self._restore(role, restore, bucket, unquote_plus(encoded_key))
                else:
                    message = self._copy(job, role, copy, bucket, unquote_plus(encoded_key))
                job.succeeded += 1
                job.results.append((bucket, encoded_key, version, "succeeded", "200", "", message))
            except Failure as f:
                job.failed += 1
                # As AWS writes rows: the HTTP status before the error code, whatever the
                # manifest's ReportSchema line says.
                job.results.append((bucket, encoded_key, version, "failed", str(f.http), f.code, f.message))
            if threshold_exceeded(job.succeeded, job.failed):
                # "At any point": the job fails there, and the tasks after it never run (they
                # are in no report).
                break
        job.active_seconds = int(time.time() - (job.active_since or time.time()))
        job.active_since = None
        ran = job.succeeded + job.failed
        self._write_report(job, role)
        if job.cancel_requested:
            return self._set(job, "Cancelled")
        if threshold_exceeded(job.succeeded, job.failed):
            # The code and text are the sandbox's own: AWS documents the rule, not the reason it
            # writes (facts table), so ferry must not read them.
            job.failure_reasons.append(("TaskFailureThresholdExceeded", "More than 50% of the tasks failed"))
            return self._set(job, "Failed")
        self._set(job, "Complete")

    def _copy(self, job: Job, role: dict, copy: dict, bucket: str, key: str) -> str:
        injected = self.controls.failure_for(bucket, key)
        if injected:
            raise injected
        for action in ("s3:GetObject", "s3:GetObjectTagging"):
            ok, why = self.world.allowed(role, action, bucket, key)
            if not ok:
                raise Failure("AccessDenied", 403, f"Access Denied ({why})")
        head = self.world.head_object(bucket, key)
        if head is None:
            ok, _ = self.world.allowed(role, "s3:ListBucket", bucket, None)
            if ok:
                raise Failure("NoSuchKey", 404, "The specified key does not exist.")
            raise Failure("AccessDenied", 403, "Access Denied")
        if head["sseC"]:
            # Batch Operations' copy passes no customer key (SSE-C is the one CopyObject option
            # it does not support): S3 answers as to any read without the key.
            raise Failure("InvalidRequest", 400, authz.SSE_C_MESSAGE)
        if not archive.readable(bucket, key, head["storageClass"]):
            raise Failure(archive.COPY_REFUSAL[0], 403, archive.COPY_REFUSAL[1])
        size = self.controls.sizes.get((bucket, key), head["size"])
        if size > self.controls.copy_limit:
            raise Failure("InvalidRequest", 400, f"The specified copy source is larger than the maximum allowable size for a copy source: {COPY_SIZE_MAX}")
        target = _bucket_of(copy["TargetResource"])
        target_key = copy.get("TargetKeyPrefix", "") + key
        for action in ("s3:PutObject", "s3:PutObjectTagging"):
            ok, why = self.world.allowed(role, action, target, target_key)
            if not ok:
                raise Failure("AccessDenied", 403, f"Access Denied ({why})")
        # SSE-KMS: S3 decrypts the source with its key and encrypts the copy, both as the job's
        # role (kms:Decrypt, kms:GenerateDataKey; key policy, grants and the role's policies).
        if head.get("kmsKey"):
            ok, why = self.world.kms_allowed(role, kms.S3_READ, head["kmsKey"], self.world.owner(bucket) or "", f"arn:aws:s3:::{bucket}/{key}")
            if not ok:
                # S3 passes KMS's refusal on: "User: ... is not authorized to perform: kms:Decrypt ...".
                raise Failure("AccessDenied", 403, why)
        encryption = copy_encryption(copy, target)
        if encryption.get("SSEKMSKeyId"):
            ok, why = self.world.kms_allowed(role, kms.S3_WRITE, encryption["SSEKMSKeyId"], self.world.owner(target) or "", f"arn:aws:s3:::{target}/{target_key}")
            if not ok:
                raise Failure("AccessDenied", 403, why)
        self.world.copy_object(bucket, key, target, target_key, copy.get("StorageClass", "STANDARD"),
                               copy.get("MetadataDirective", "COPY"), encryption)
        return "Successful"

    def _restore(self, role: dict, restore: dict, bucket: str, key: str) -> str:
        """One S3InitiateRestoreObject task, as the job's role (s3:RestoreObject): archive.py
        keeps the restore and answers as RestoreObject does."""
        injected = self.controls.failure_for(bucket, key)
        if injected:
            raise injected
        ok, why = self.world.allowed(role, "s3:RestoreObject", bucket, key)
        if not ok:
            raise Failure("AccessDenied", 403, f"Access Denied ({why})")
        head = self.world.head_object(bucket, key)
        if head is None:
            raise Failure("NoSuchKey", 404, "The specified key does not exist.")
        days = restore.get("ExpirationInDays")
        try:
            archive.restore(bucket, key, head["storageClass"], int(days) if days else None)
        except archive.Refused as e:
            raise Failure(e.code, e.http, e.message) from None
        return "Successful"

    def _invoke(self, job: Job, role: dict, invoke: dict, bucket: str, encoded_key: str, version: str) -> str:
        """One task of a LambdaInvoke job: the function invoked as the job's role, its answer
        taken as Batch Operations takes it (a function error fails the task for good)."""
        function = invoke["FunctionArn"]
        ok, why = self.world.identity_allows(role, "lambda:InvokeFunction", function)
        if not ok:
            raise Failure("AccessDenied", 403, why)
        user_arguments = _xml_map(invoke.get("UserArguments"))
        for attempt in range(self.controls.lambda_redrives + 1):
            event = invoke_event(invoke.get("InvocationSchemaVersion", "1.0"), job.id, user_arguments,
                                 bucket, encoded_key, version)
            capture.record("batch-invoke-event", event)
            status, answer = self.world.invoke(function, job.account, event)
            if status != "ok":
                raise Failure("PermanentFailure", 200, f"Lambda returned function error: {answer}")
            result = (json.loads(answer).get("results") or [{}])[0]
            code, text = result.get("resultCode"), result.get("resultString", "")
            if code == "Succeeded":
                return text
            if code != "TemporaryFailure":
                raise Failure("PermanentFailure", 200, text)
            job.redrives += 1
            time.sleep(0.05)
        raise Failure("TemporaryFailure", 200, text)

    def _write_report(self, job: Job, role: dict) -> None:
        report = job.request.get("Report", {})
        if str(report.get("Enabled", "false")).lower() != "true" or not job.results:
            return
        bucket = _bucket_of(report["Bucket"])
        prefix = report.get("Prefix", "").rstrip("/")
        base = f"{prefix}/job-{job.id}" if prefix else f"job-{job.id}"
        scope = report.get("ReportScope", "AllTasks")
        results = []
        for status in ("succeeded", "failed"):
            if status == "succeeded" and scope == "FailedTasksOnly":
                continue
            rows = [r for r in job.results if r[3] == status]
            if not rows:
                continue
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(rows)
            data = out.getvalue().encode()
            name = hashlib.sha1(f"{job.id}-{status}".encode()).hexdigest()
            key = f"{base}/results/{name}.csv"
            ok, why = self.world.allowed(role, "s3:PutObject", bucket, key)
            if not ok:
                job.failure_reasons.append(("ReportWriteFailed", why))
                return
            self.world.put_report(bucket, key, data)
            for row in rows:
                capture.record("report-row", list(row))
            results.append({
                "TaskExecutionStatus": status,
                "Bucket": bucket,
                "MD5Checksum": hashlib.md5(data).hexdigest(),
                # As AWS writes it: the full key, the report prefix included.
                "Key": key,
            })
        manifest = {
            "Format": "Report_CSV_20180820",
            "ReportCreationDate": _now(),
            "Results": results,
            "ReportSchema": "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage",
        }
        self.world.put_report(bucket, f"{base}/manifest.json", json.dumps(manifest).encode())
        capture.record("report-manifest", manifest)


# "When a job has run at least 1,000 tasks, Amazon S3 monitors the task failure rate. At any
# point, if the failure rate (the number of tasks that have failed as a proportion of the total
# number of tasks that have run) exceeds 50 percent, the job fails." (S3 User Guide,
# batch-ops-job-status, "Failure threshold")
THRESHOLD_TASKS = 1000


def threshold_exceeded(succeeded: int, failed: int) -> bool:
    ran = succeeded + failed
    return ran >= THRESHOLD_TASKS and failed * 2 > ran


def invoke_event(schema: str, job_id: str, user_arguments: dict, bucket: str, encoded_key: str, version: str) -> dict:
    """A LambdaInvoke task's event as S3 Batch Operations sends it (facts table: "LambdaInvoke
    event"). Schema 2.0 names the bucket `s3Bucket` and carries `userArguments`; schema 1.0 names
    it by ARN (`s3BucketArn`) and has no user arguments. Shapes from Powertools for AWS Lambda's
    `s3BatchOperationEventSchemaV1.json` / `V2.json` and aws-lambda-go's `S3BatchJobTaskV2`; the
    conformance test holds this function to them."""
    task = {"taskId": uuid.uuid4().hex, "s3Key": encoded_key, "s3VersionId": version or None}
    if schema == "2.0":
        task["s3Bucket"] = bucket
        job = {"id": job_id, "userArguments": user_arguments}
    else:
        task["s3BucketArn"] = f"arn:aws:s3:::{bucket}"
        job = {"id": job_id}
    return {"invocationSchemaVersion": schema, "invocationId": uuid.uuid4().hex, "job": job, "tasks": [task]}


def copy_encryption(copy: dict, target: str) -> dict:
    """How S3PutObjectCopy encrypts the copy (PutObject's arguments): the operation's
    `SSEAwsKmsKeyId` (SSE-KMS) or `NewObjectMetadata.SSEAlgorithm` (`AES256`, `KMS`), else the
    target bucket's default encryption (a copy never keeps the source's)."""
    metadata = copy.get("NewObjectMetadata") or {}
    algorithm = metadata.get("SSEAlgorithm") if isinstance(metadata, dict) else None
    key_id = copy.get("SSEAwsKmsKeyId")
    bucket_key = str(copy.get("BucketKeyEnabled", "false")).lower() == "true"
    if key_id or algorithm == "KMS":
        key_id = key_id or authz.bucket_default_key(target)
        out = {"ServerSideEncryption": "aws:kms", "BucketKeyEnabled": bucket_key}
        if key_id:
            out["SSEKMSKeyId"] = key_id
        return out
    if algorithm == "AES256":
        return {"ServerSideEncryption": "AES256"}
    default = authz.bucket_default_key(target)
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": default} if default else {}


def encode_key(key: str) -> str:
    return quote(key, safe="/-_.~")
