"""What the sandbox serves and delivers beside moto: Step Functions' status-change events for the
template's EventBridge rules, invocations of the function host, and the control API that tests
steer the sandbox with."""

import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


from . import archive, batch, capture, inventory, propagation
from .patches import Routing
from .template import REGION
from .world import World


class StatusEvents:
    """Step Functions "Execution Status Change" events for EventBridge rules (moto emits none):
    executions are polled, and each one that ends is matched, once, against the template's
    rules (source, detail-type, detail.status, detail.stateMachineArn) and delivered to their
    target function through the function host."""

    def __init__(self, world: World, rules: list[tuple[dict, str]]):
        self.world = world
        self.rules = rules
        self.seen: set[str] = set()
        self.delivered: list[dict] = []

    def start(self, state_machine_arn: str) -> None:
        threading.Thread(target=self._loop, args=(state_machine_arn,), daemon=True, name="status-events").start()

    def _ended_unseen(self, arn: str) -> bool:
        """Whether moto holds an ended execution of `arn` not delivered yet, read from its
        backend: the listing through the API below, every half second in every sandbox, was a
        tenth of the end-to-end tests' CPU time."""
        from moto.stepfunctions.responses import get_backend

        for machine in get_backend(arn.split(":")[4], REGION).state_machines:
            if machine.arn == arn:
                # An execution moto has appended but not started yet has no status: running.
                return any(getattr(e, "exec_status", None) is not None and e.status != "RUNNING"
                           and e.execution_arn not in self.seen for e in list(machine.executions))
        return False

    def _loop(self, arn: str) -> None:
        sfn = self.world.client("stepfunctions", arn.split(":")[4])
        while True:
            try:
                ended = self._ended_unseen(arn)
                for e in sfn.list_executions(stateMachineArn=arn)["executions"] if ended else []:
                    if e["status"] == "RUNNING" or e["executionArn"] in self.seen:
                        continue
                    self.seen.add(e["executionArn"])
                    self.deliver(e, arn)
            except Exception as err:
                print(f"status-events: {err!r}", file=sys.stderr, flush=True)
            time.sleep(0.5)

    def deliver(self, e: dict, arn: str) -> None:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states",
            "account": arn.split(":")[4],
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": REGION,
            "resources": [e["executionArn"]],
            "detail": status_detail(self.world.client("stepfunctions", arn.split(":")[4]), e, arn),
        }
        for pattern, target in self.rules:
            d = pattern.get("detail", {})
            if (
                event["source"] in pattern.get("source", [event["source"]])
                and event["detail-type"] in pattern.get("detail-type", [event["detail-type"]])
                and e["status"] in d.get("status", [e["status"]])
                and arn in d.get("stateMachineArn", [arn])
            ):
                self.delivered.append({"execution": e["name"], "status": e["status"], "target": target})
                capture.record("sfn-status-change", event)
                threading.Thread(target=invoke_function, args=(target, event), daemon=True).start()


def status_detail(sfn: Any, e: dict, arn: str) -> dict:
    """The `detail` of a "Step Functions Execution Status Change" event, with the fields of the
    Step Functions Developer Guide's examples (cw-events): dates in epoch milliseconds, input and
    output as JSON strings (output null unless the execution succeeded), their details."""
    d = sfn.describe_execution(executionArn=e["executionArn"])

    def ms(t: Any) -> Any:
        return int(t.timestamp() * 1000) if t is not None else None

    output = d.get("output") if e["status"] == "SUCCEEDED" else None
    return {
        "executionArn": e["executionArn"],
        "stateMachineArn": arn,
        "name": e["name"],
        "status": e["status"],
        "startDate": ms(d.get("startDate")),
        "stopDate": ms(d.get("stopDate")),
        "input": d.get("input", "{}"),
        "inputDetails": {"included": True},
        "output": output,
        "outputDetails": {"included": True} if output is not None else None,
    }


def invoke_function(function_arn: str, event: dict) -> Any:
    """Invokes a function of the function host as its own account's service would; returns its
    answer (None when it failed)."""
    import urllib.parse
    import urllib.request

    if Routing.function_host is None:
        print(f"no function host to invoke {function_arn}", file=sys.stderr, flush=True)
        return
    request = urllib.request.Request(
        f"{Routing.function_host}/2015-03-31/functions/{urllib.parse.quote(function_arn, safe='')}/invocations",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json", "X-Ferry-Caller-Account": function_arn.split(":")[4]},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request) as r:
            body = r.read().decode()
            if r.headers.get("X-Amz-Function-Error"):
                print(f"{function_arn} failed: {body}", file=sys.stderr, flush=True)
                return {"functionError": json.loads(body or "{}")}
            return json.loads(body or "null")
    except Exception as err:
        print(f"invoking {function_arn}: {err!r}", file=sys.stderr, flush=True)
    return None


# ---- the control API ----


def control_server(batch_: batch.Batch, controls: batch.Controls, delivery: inventory.Inventory, stop: threading.Event) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/jobs":
                jobs = [
                    {"account": j.account, "jobId": j.id, "status": j.status, "total": j.total,
                     "succeeded": j.succeeded, "failed": j.failed, "token": j.request.get("ClientRequestToken"),
                     "operation": next(iter(j.request.get("Operation") or {}), None),
                     "restore": (j.request.get("Operation") or {}).get("S3InitiateRestoreObject"),
                     "generator": ((j.request.get("ManifestGenerator") or {}).get("S3JobManifestGenerator") or {}).get("Filter")}
                    for j in batch_.jobs.values()
                ]
                return self._reply(200, jobs)
            if self.path == "/inventory":
                return self._reply(200, {"settings": delivery.settings, "events": delivery.events})
            if self.path == "/part-copy-faults":
                with Routing.authorizer.lock:
                    return self._reply(200, dict(Routing.authorizer.part_copy_faults))
            if self.path == "/denials":
                with Routing.authorizer.lock:
                    return self._reply(200, list(Routing.authorizer.denials))
            if self.path == "/announced":
                return self._reply(200, list(Routing.announced))
            if self.path == "/faults":
                return self._reply(200, Routing.authorizer.faults.report())
            if self.path == "/captured":
                return self._reply(200, capture.captured())
            if self.path == "/calls":
                return self._reply(200, Routing.authorizer.faults.census())
            self._reply(404, {"error": f"no {self.path}"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            with controls.lock:
                if self.path == "/function-host":
                    Routing.function_host = body["url"]
                elif self.path == "/failures":
                    controls.failures.append(body)
                elif self.path == "/failures/clear":
                    controls.failures.clear()
                    controls.attempts.clear()
                elif self.path == "/hold":
                    controls.hold = bool(body.get("hold", True))
                elif self.path == "/sizes":
                    # One object's size, or a list of them (`{"objects": [...]}`) in one call.
                    for o in body.get("objects", [body]):
                        controls.sizes[(o["bucket"], o["key"])] = int(o["size"])
                elif self.path == "/propagation":
                    propagation.set_delay(float(body["seconds"]))
                elif self.path == "/archive":
                    try:
                        archive.configure(body)
                    except (KeyError, ValueError) as e:
                        return self._reply(400, {"error": str(e)})
                elif self.path == "/copy-limit":
                    controls.copy_limit = int(body["bytes"])
                elif self.path == "/lambda-redrives":
                    controls.lambda_redrives = int(body["times"])
                elif self.path == "/part-copy-faults":
                    Routing.authorizer.part_copy_faults = {"after": int(body.get("after", 0)),
                                                           "count": int(body.get("count", 1)), "seen": 0}
                elif self.path == "/inventory":
                    Routing.delay_waiter_seconds = float(body.pop("delayWaiterSeconds", Routing.delay_waiter_seconds))
                    with delivery.lock:
                        delivery.settings.update(body)
                elif self.path == "/faults":
                    try:
                        Routing.authorizer.faults.add(body)
                    except (KeyError, ValueError) as e:
                        return self._reply(400, {"error": f"a fault needs action and fault: {e}"})
                elif self.path == "/faults/clear":
                    Routing.authorizer.faults.clear()
                elif self.path == "/context":
                    Routing.authorizer.extra_context = dict(body)
                elif self.path == "/denials/clear":
                    with Routing.authorizer.lock:
                        Routing.authorizer.denials.clear()
                elif self.path == "/schedule":
                    # EventBridge Scheduler's Lambda target: the schedule fires now, invoking the
                    # function with the schedule's input (outside the lock: the function calls
                    # back into the sandbox).
                    pass
                elif self.path == "/stop":
                    stop.set()
                else:
                    return self._reply(404, {"error": f"no {self.path}"})
            if self.path == "/schedule":
                return self._reply(200, {"answer": invoke_function(body["function"], body["input"])})
            self._reply(200, {"ok": True})

    # Port 0: the kernel's free port, taken at once (a port found free and bound later may be
    # another sandbox's by then).
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
