"""Every call to the sandbox authorized as AWS would: a WSGI layer in front of moto.

For each signed request it finds the caller (the access key of an STS session: the role, its
account, its inline and attached policies and its permissions boundary, read from moto's own
IAM), the IAM action(s) the request needs and their resources (from AWS's service authorization
reference, written here per API, never from moto's incomplete map), the resource's policy (bucket
policy, role trust policy) and the request context, and asks policy.authorize. A denied request
is answered the way the service answers it (S3's XML `AccessDenied` 403, IAM and STS's query
error, Step Functions' `AccessDeniedException`), with AWS's wording: "User: <session> is not
authorized to perform: <action> on resource: <arn> because ...", so a test sees which function
and which action.

S3's rules that a naive check misses are kept: GetObject / HeadObject of a missing key answers
403 AccessDenied unless the caller may s3:ListBucket the bucket, 404 NoSuchKey when it may; a
missing bucket answers 404 NoSuchBucket whoever asks (the bucket is not there to have a policy).

Requests signed with the launcher's own key (`ak`: bootstrap, moto's Step Functions interpreter)
are the platform's, not a principal's, and pass. A request the sandbox cannot map to an IAM
action is refused, naming what it could not map: nothing is allowed unseen.
"""

import io
import json
import re
import sys
import threading
import uuid
import xml.etree.ElementTree as ET
from typing import Any, Callable
from urllib.parse import parse_qs, unquote

from . import archive, kms, policy, simulator
from .actions import (  # noqa: F401 (re-exported: the launcher, batch and the tests use authz.*)
    events_checks, iam_checks, kms_checks, s3_checks, s3control_checks, sns_checks, ssm_checks, states_checks, sts_checks,
)
from .faults import FAULTS, LAMBDA_FAULTS, Faults, fault_response, precondition_failed, slow_down  # noqa: F401 (re-exported)
from .lookup import (  # noqa: F401 (re-exported)
    INTERNAL_KEY, REGION_DEFAULT, REQUEST, SSE_C_MESSAGE, Check, Forbidden, Identity, Refused, bucket_account,
    bucket_default_key, bucket_policy, find_role, identity_of_key, identity_of_role, is_sse_c, key_exists,
    object_key_id, role_arn, role_of_arn,
)

def _s3_error(status: str, code: str, message: str, method: str, start_response: Callable) -> list[bytes]:
    """S3's XML error; a HEAD answers with no body (HeadObject's errors carry no code)."""
    body = b"" if method == "HEAD" else (
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>").encode()
    start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


# ---- the WSGI layer ----

_CREDENTIAL = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


class Authorizer:
    """Wraps moto's WSGI application. `enforcing` is switched on after the bootstrap (what the
    two stacks' deployment creates is CloudFormation's doing, not a principal's)."""

    def __init__(self, app: Any):
        self.app = app
        self.enforcing = False
        self.lock = threading.Lock()
        # What was refused, for the control API (`GET /denials`).
        self.denials: list[dict] = []
        # Context keys a test adds to every request (`POST /context`): aws:PrincipalOrgID for
        # accounts in an organization, aws:SourceVpce for calls through a VPC endpoint.
        self.extra_context: dict[str, Any] = {}
        # UploadPartCopy calls answered 503 SlowDown (`POST /part-copy-faults`): after `after`
        # of them pass, the next `count` fail.
        self.part_copy_faults: dict[str, int] = {}
        self.faults = Faults()

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        # What moto does not keep of a request and the sandbox models (patches.install_object_encryption).
        REQUEST.sse_customer_algorithm = environ.get("HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION_CUSTOMER_ALGORITHM")
        if not self.enforcing or environ.get("PATH_INFO", "").startswith("/moto-api"):
            return self.app(environ, start_response)
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        m = _CREDENTIAL.search(headers.get("authorization", ""))
        if m is None:
            # Unsigned or presigned requests: ferry makes none; refuse rather than guess.
            return self._deny(environ, start_response, "s3", "", "the sandbox authorizes only SigV4-signed requests")
        key, region, service = m.groups()
        if key == INTERNAL_KEY:
            return self.app(environ, start_response)
        cached: list[bytes] = []

        def body() -> bytes:
            if not cached:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                data = environ["wsgi.input"].read(length) if length else b""
                environ["wsgi.input"] = io.BytesIO(data)
                cached.append(data)
            return cached[0]

        identity = identity_of_key(key)
        # PATH_INFO holds the path's bytes, percent-decoded, as Latin-1 (PEP 3333): a key's
        # UTF-8 read back, so that a lookup of a non-ASCII key finds it.
        path = environ.get("PATH_INFO", "")
        try:
            path = path.encode("latin-1").decode("utf-8")
        except UnicodeError:
            pass
        if service == "s3" and path.startswith("/v20180820/"):
            service = "s3control"
        if identity is None:
            return self._deny(environ, start_response, service, "", f"the access key {key} is not a session the sandbox issued")
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        method = environ.get("REQUEST_METHOD", "GET")
        caller = identity.principal.account
        iam_params: dict = {}
        try:
            if service == "s3":
                checks = s3_checks(method, path, query, headers, body)
            elif service == "s3control":
                checks = s3control_checks(method, path, query, headers, body, caller, region)
            elif service in ("iam", "sts"):
                iam_params = {k: v[0] for k, v in parse_qs(body().decode(), keep_blank_values=True).items()}
                checks = iam_checks(iam_params, caller) if service == "iam" else sts_checks(iam_params, identity)
            elif service == "states":
                checks = states_checks(headers.get("x-amz-target", ""), json.loads(body() or b"{}"), caller, region)
            elif service == "kms":
                checks = kms_checks(headers.get("x-amz-target", ""), json.loads(body() or b"{}"), caller, region)
            elif service == "events":
                checks = events_checks(headers.get("x-amz-target", ""), json.loads(body() or b"{}"), caller, region)
            elif service == "sns":
                checks = sns_checks({k: v[0] for k, v in parse_qs(body().decode(), keep_blank_values=True).items()}, caller)
            elif service == "ssm":
                checks = ssm_checks(headers.get("x-amz-target", ""), json.loads(body() or b"{}"), caller, region)
            else:
                raise Refused(f"{service} requests")
        except Forbidden as e:
            return self._deny(environ, start_response, service, identity.principal.describe(), str(e), "s3:ExpectedBucketOwner")
        except Refused as e:
            return self._deny(environ, start_response, service, identity.principal.describe(),
                              f"User: {identity.principal.describe()} is not authorized: the sandbox cannot authorize {e}, so it refuses")
        except ET.ParseError as e:
            return self._deny(environ, start_response, service, identity.principal.describe(), f"malformed request body: {e}")
        for check in checks:
            why = self.check(identity, check)
            if why:
                return self._deny(environ, start_response, service, identity.principal.describe(), why, check.action)
        fault = self.faults.pick([c.action for c in checks], identity.principal.arn) if checks else None
        if fault == "Timeout":
            # AWS acts; the caller never hears of it.
            list(self.app(environ, lambda *_: None))
            print(f"fault: {checks[0].action} by {identity.principal.arn}: carried out, answered 500", file=sys.stderr, flush=True)
            return fault_response(service, "InternalError", start_response)
        if fault:
            print(f"fault: {checks[0].action} by {identity.principal.arn}: {fault}", file=sys.stderr, flush=True)
            return fault_response(service, fault, start_response)
        if service == "iam" and iam_params.get("Action") == "SimulateCustomPolicy":
            # moto has no policy simulator: the sandbox's evaluator answers (simulator.py).
            status, answer = simulator.response(iam_params)
            start_response(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(answer)))])
            return [answer]
        if service == "s3" and method == "PUT" and "partNumber" in query and "x-amz-copy-source" in headers:
            with self.lock:
                faults = self.part_copy_faults
                if faults:
                    faults["seen"] += 1
                    if faults["after"] < faults["seen"] <= faults["after"] + faults["count"]:
                        return slow_down(start_response)
        if service == "s3" and method == "POST" and "uploadId" in query and headers.get("if-none-match") == "*":
            # CompleteMultipartUpload's conditional write (moto ignores it): 412 when the key
            # is taken.
            parts = path.lstrip("/").split("/", 1)
            if len(parts) > 1 and key_exists(unquote(parts[0]), unquote(parts[1])):
                return precondition_failed(start_response)
        if service == "s3" and (method == "GET" or (method == "PUT" and "x-amz-copy-source" in headers)):
            parts = path.lstrip("/").split("/", 1)
            if len(parts) > 1 and not set(query) - {"versionId", "partNumber", "uploadId"}:
                refused = archive.refusal(method, unquote(parts[0]), unquote(parts[1]), headers.get("x-amz-copy-source"))
                if refused:
                    # A read or copy of an archived object (archive.py).
                    return _s3_error("403 Forbidden", *refused, method, start_response)
        if service == "s3" and method in ("GET", "HEAD") and REQUEST.sse_customer_algorithm is None:
            parts = path.lstrip("/").split("/", 1)
            bucket, key = unquote(parts[0]), unquote(parts[1]) if len(parts) > 1 else ""
            if key and not set(query) - {"versionId", "partNumber"} and is_sse_c(bucket, key):
                return _s3_error("400 Bad Request", "InvalidRequest", SSE_C_MESSAGE, method, start_response)
        return self.app(environ, start_response)

    def check(self, identity: Identity, check: Check) -> str:
        """'' when `check` is allowed for `identity`, else AWS's message."""
        ctx = policy.base_context(identity.principal, check.resource_account)
        if check.action.startswith("s3:") and check.resource_account:
            ctx["s3:ResourceAccount"] = check.resource_account
        ctx.update(self.extra_context)
        ctx.update(check.context)
        request = policy.Request(identity.principal, check.action, check.resource, check.resource_account or identity.principal.account, ctx)
        if check.key is not None:
            if "kms:CallerAccount" in ctx:
                ctx["kms:CallerAccount"] = identity.principal.account
            p = identity.principal
            retiring = ctx.pop("sandbox:RetiringPrincipal", None)
            if retiring and retiring in (p.arn, p.session_arn):
                return ""
            operation = check.action.split(":", 1)[1]
            granted = kms.grant_covers(check.key, p, operation, check.encryption_context)
            outcome = policy.authorize_key(request, identity.identity_policies, identity.boundary, check.resource_policy, granted)
        else:
            outcome = policy.authorize(request, identity.identity_policies, identity.boundary, check.resource_policy)
        if not outcome.allowed:
            return outcome.reason
        if identity.session_policy is not None:
            # The session's permissions are the intersection with its session policy: it must
            # allow the call too, and its explicit deny denies. Evaluated as an
            # identity policy alone (the resource's own policy was weighed above).
            alone = policy.Request(identity.principal, check.action, check.resource, identity.principal.account, ctx)
            limited = policy.authorize(alone, [identity.session_policy], None, None)
            if not limited.allowed:
                return limited.reason.replace("an identity-based policy", "a session policy")
        if check.missing_key and not key_exists(*check.missing_key):
            bucket = check.missing_key[0]
            listing = policy.Request(identity.principal, "s3:ListBucket", f"arn:aws:s3:::{bucket}", check.resource_account, ctx)
            if not policy.authorize(listing, identity.identity_policies, identity.boundary, check.resource_policy).allowed:
                return (f"User: {identity.principal.describe()} is not authorized to perform: s3:ListBucket on resource: "
                        f"arn:aws:s3:::{bucket}: {check.resource} does not exist, and without s3:ListBucket S3 answers 403, not 404")
        return ""

    def record(self, who: str, action: str, message: str, path: str = "") -> None:
        """Keeps a refusal for `GET /denials`, and logs it: the sandbox's log lists every refused
        call, the first place to look when a step fails."""
        with self.lock:
            self.denials.append({"principal": who, "action": action, "message": message, "path": path})
        print(f"denied: {path}: {message}", file=sys.stderr, flush=True)

    def _deny(self, environ: dict, start_response: Callable, service: str, who: str, message: str, action: str = "") -> Any:
        self.record(who, action, message, f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO', '')}")
        request_id = str(uuid.uuid4())
        if service in ("states", "kms", "events"):
            body = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
            status, ctype = "400 Bad Request", "application/x-amz-json-1.0"
        elif service in ("iam", "sts", "sns"):
            root = ET.Element("ErrorResponse")
            err = ET.SubElement(root, "Error")
            for tag, text in (("Type", "Sender"), ("Code", "AccessDenied"), ("Message", message)):
                ET.SubElement(err, tag).text = text
            ET.SubElement(root, "RequestId").text = request_id
            body, status, ctype = ET.tostring(root), "403 Forbidden", "text/xml"
        elif service == "s3control":
            root = ET.Element("ErrorResponse")
            err = ET.SubElement(root, "Error")
            ET.SubElement(err, "Code").text = "AccessDenied"
            ET.SubElement(err, "Message").text = message
            body, status, ctype = ET.tostring(root), "403 Forbidden", "application/xml"
        else:
            root = ET.Element("Error")
            for tag, text in (("Code", "AccessDenied"), ("Message", message), ("RequestId", request_id)):
                ET.SubElement(root, tag).text = text
            body, status, ctype = ET.tostring(root, xml_declaration=True, encoding="UTF-8"), "403 Forbidden", "application/xml"
        if environ.get("REQUEST_METHOD") == "HEAD":
            body = b""
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body))), ("x-amz-request-id", request_id)])
        return [body]
