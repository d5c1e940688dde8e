"""Fault injection for the sandbox: the faults a test asks for (`POST /faults` on the control
API: an action, a caller, a count), matched against each request, and the answers AWS gives
for them (S3's XML errors, the JSON services' `__type`, Lambda's function errors), with the
conditional-write and throttling answers the authorizer also gives."""

import json
import threading
import uuid
import xml.etree.ElementTree as ET
from typing import Callable

def precondition_failed(start_response: Callable) -> list[bytes]:
    """S3's answer to a conditional write whose key is taken (`If-None-Match: *`)."""
    body = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>PreconditionFailed</Code>"
            b"<Message>At least one of the pre-conditions you specified did not hold</Message>"
            b"<Condition>If-None-Match</Condition></Error>")
    start_response("412 Precondition Failed", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


def slow_down(start_response: Callable) -> list[bytes]:
    """S3's throttling answer (an injected fault)."""
    body = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>"
            b"<Message>Please reduce your request rate.</Message></Error>")
    start_response("503 Slow Down", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


# Injected faults (`POST /faults`): (HTTP status, code, message) per fault, as each service
# spells its error.
FAULTS = {
    "SlowDown": (503, "SlowDown", "Please reduce your request rate."),
    "Throttling": (400, "Throttling", "Rate exceeded"),
    "TooManyRequestsException": (429, "TooManyRequestsException", "Rate exceeded"),
    "InternalError": (500, "InternalError", "We encountered an internal error. Please try again."),
    "ServiceUnavailable": (503, "ServiceUnavailable", "Service is unable to handle request."),
    "AccessDenied": (403, "AccessDenied", "Access Denied (an injected fault)"),
    # Step Functions' and KMS's throttling (JSON services).
    "ThrottlingException": (400, "ThrottlingException", "Rate exceeded"),
}


# Lambda-level faults (`{"action": "lambda:InvokeFunction", "caller": <function name>}`): what
# Lambda answers a synchronous Invoke when the function's process dies (out of memory, a crash)
# or when it runs out of time (the function's work may be done: the ambiguous case). Both are
# `X-Amz-Function-Error: Unhandled` with the runtime's error type, which Step Functions reports
# as the Task's error.
LAMBDA_FAULTS = {
    "FunctionError": ("Runtime.ExitError", "Error: Runtime exited with error: signal: killed"),
    "FunctionTimeout": ("Sandbox.Timedout", "Error: Task timed out after 30.00 seconds"),
}


def fault_response(service: str, fault: str, start_response: Callable) -> list[bytes]:
    """The error `fault` as `service` answers it (XML for S3, S3 Control, IAM, STS; JSON for
    Step Functions and KMS)."""
    status, code, message = FAULTS[fault]
    reason = {400: "Bad Request", 403: "Forbidden", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}[status]
    if service in ("states", "kms"):
        json_code = {"AccessDenied": "AccessDeniedException", "Throttling": "ThrottlingException", "SlowDown": "ThrottlingException",
                     "InternalError": "InternalServerError"}.get(code, code)
        body, ctype = json.dumps({"__type": json_code, "message": message}).encode(), "application/x-amz-json-1.0"
    elif service in ("iam", "sts", "s3control"):
        root = ET.Element("ErrorResponse")
        err = ET.SubElement(root, "Error")
        for tag, text in (("Type", "Sender" if status < 500 else "Receiver"), ("Code", code), ("Message", message)):
            ET.SubElement(err, tag).text = text
        ET.SubElement(root, "RequestId").text = str(uuid.uuid4())
        body, ctype = ET.tostring(root), "text/xml"
    else:
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>"
                f"<Message>{message}</Message></Error>").encode()
        ctype = "application/xml"
    start_response(f"{status} {reason}", [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


class Faults:
    """Faults injected per call (`POST /faults`): each rule names an IAM action (`s3:PutBucketPolicy`),
    optionally a caller (a substring of its role ARN), the matching calls it skips (`after`) and
    how many it fails (`count`, -1 for every one), and the fault: one of [`FAULTS`], or
    `Timeout`, the ambiguous one: the call is carried out and its caller is answered 500, as if
    the connection had dropped after AWS acted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rules: list[dict] = []
        # Every authorized call, by (caller's role name, action): the census that the whole
        # fault matrix is drawn from (`GET /calls`).
        self.calls: dict[tuple[str, str], int] = {}

    def add(self, rule: dict) -> None:
        lambda_level = rule["action"] == "lambda:InvokeFunction"
        known = LAMBDA_FAULTS if lambda_level else sorted(FAULTS) + ["Timeout"]
        if rule["fault"] not in known:
            raise ValueError(f"unknown fault {rule['fault']!r} for {rule['action']}: one of {sorted(known)}")
        with self.lock:
            self.rules.append({"action": rule["action"], "caller": rule.get("caller", ""), "after": int(rule.get("after", 0)),
                               "count": int(rule.get("count", 1)), "fault": rule["fault"], "seen": 0, "injected": 0})

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()
            self.calls.clear()

    def census(self) -> list[dict]:
        with self.lock:
            return [{"role": r, "action": a, "calls": n} for (r, a), n in sorted(self.calls.items())]

    def report(self) -> list[dict]:
        with self.lock:
            return [dict(r) for r in self.rules]

    def pick(self, actions: list[str], caller: str) -> str | None:
        """The fault for a call authorized as `actions` by `caller`, if a rule takes it."""
        # The role's name: from an assumed-role session's ARN, or a role's ARN (its path dropped).
        if ":assumed-role/" in caller:
            role = caller.split(":assumed-role/", 1)[1].split("/", 1)[0]
        elif ":role/" in caller:
            role = caller.rsplit("/", 1)[-1]
        else:
            role = caller
        with self.lock:
            for a in actions:
                self.calls[(role, a)] = self.calls.get((role, a), 0) + 1
            for r in self.rules:
                if r["action"] not in actions or r["caller"] not in caller:
                    continue
                r["seen"] += 1
                if r["seen"] > r["after"] and (r["count"] < 0 or r["injected"] < r["count"]):
                    r["injected"] += 1
                    return r["fault"]
        return None
