"""moto as the sandbox needs it: the symbols the sandbox wraps (checked at start, so a moto upgrade
that moves them fails loudly), the Step Functions Task routing (Credentials.RoleArn and
lambda:invoke through the function host, each authorized), the S3 behaviours moto lacks or gets
wrong, and moto's server with the sandbox's authorization in front of it."""

import json
import sys
import time
import uuid
import threading
from typing import Any

from . import authz
from .template import REGION

# moto symbols this launcher wraps: checked at start, so a moto upgrade that moves them fails
# loudly instead of silently running unwrapped.
WRAPPED = [
    ("moto.moto_server.werkzeug_app", "DomainDispatcherApplication"),
    ("moto.moto_server.werkzeug_app", "MotoRequestHandler"),
    ("moto.moto_server.werkzeug_app", "create_backend_app"),
    ("moto.sts.models", "sts_backends"),
    ("moto.iam.models", "iam_backends"),
    ("moto.s3.models", "s3_backends"),
    ("moto.s3control.urls", "url_paths"),
    ("moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils", "boto_client_for"),
    ("moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task", "StateTask"),
    ("moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_events", "boto_client_for"),
    ("moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sns", "boto_client_for"),
    ("moto.s3.models", "FakeBucket"),
    ("moto.iam.access_control", "PermissionResult"),
    ("moto.s3.responses", "S3Response"),
    ("moto.stepfunctions.responses", "StepFunctionResponse"),
    ("moto.iam.policy_validation", "SERVICE_TYPE_REGION_INFORMATION_ERROR_ASSOCIATIONS"),
    ("moto.kms.models", "KmsBackend"),
    ("moto.backends", "list_of_moto_modules"),
    ("moto.stepfunctions.parser.asl.utils.json_path", "parse"),
    ("moto.stepfunctions.parser.asl.parse.asl_parser", "AmazonStateLanguageParser"),
    ("moto.stepfunctions.parser.asl.parse.preprocessor", "Preprocessor"),
    ("moto.stepfunctions.parser.asl.component.common.path.result_path", "parse"),
    ("moto.s3.models", "S3Backend"),
]


def check_moto() -> None:
    import importlib

    for module, name in WRAPPED:
        if not hasattr(importlib.import_module(module), name):
            raise SystemExit(f"moto has no {module}.{name}: the sandbox needs the pinned moto (requirements-dev.txt)")


class Routing:
    function_host: str | None = None
    # Seconds to hold back inventory-wait's .waitForTaskToken invocation (control API: POST
    # /inventory {"delayWaiterSeconds": n}), so a report can land before its waiter exists.
    delay_waiter_seconds: float = 0.0
    authorizer: "authz.Authorizer"
    # What the state machines' events:putEvents and sns:publish Tasks sent, as moto accepted it
    # (`GET /announced`).
    announced: list = []


def _session(role_arn: str, session: str) -> authz.Identity:
    role = authz.role_of_arn(role_arn)
    if role is None:
        raise RuntimeError(f"the role {role_arn} does not exist")
    return authz.identity_of_role(role, session)


def _task_denied(message: str) -> Exception:
    from botocore.exceptions import ClientError

    # With the response metadata a refused call carries (its 403): moto's Task reads it.
    return ClientError({"Error": {"Code": "AccessDeniedException", "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": 403, "RequestId": str(uuid.uuid4()), "HTTPHeaders": {}}}, "Invoke")


def lambda_function_error(url: str, error_type: str, message: str) -> Any:
    """Lambda's answer to a synchronous Invoke whose function failed outside its handler."""
    import io

    from botocore.awsrequest import AWSResponse
    from botocore.compat import HTTPHeaders

    body = json.dumps({"errorType": error_type, "errorMessage": message}).encode()

    class Raw(io.BytesIO):
        def stream(self, **_: Any) -> Any:
            yield self.getvalue()

    headers = HTTPHeaders()
    for k, v in {"X-Amz-Function-Error": "Unhandled", "Content-Type": "application/json",
                 "Content-Length": str(len(body)), "X-Amz-Executed-Version": "$LATEST"}.items():
        headers[k] = v
    return AWSResponse(url, 200, headers, Raw(body))


def _announcing_client(world: Any, authorizer: Any, caller: authz.Identity, service: str) -> Any:
    """The client of an `events:putEvents` or `sns:publish` Task, in the state machine's account
    (moto's own client would act in its default account, unauthorized): each call is authorized
    as the execution's role (`events:PutEvents` on the bus's ARN, `sns:Publish` on the topic's),
    and what moto accepts is kept for `GET /announced`."""
    account = caller.principal.account
    client = world.client(service, account, shared=False)

    def authorize(params: dict, **_: Any) -> None:
        # The same mapping to IAM actions and resources as the WSGI layer's (actions.py).
        if service == "events":
            checks = authz.events_checks("AWSEvents.PutEvents", params, account, REGION)
        else:
            checks = authz.sns_checks({**params, "Action": "Publish"}, account)
        for check in checks:
            why = authorizer.check(caller, check)
            if why:
                authorizer.record(caller.principal.describe(), check.action, why, f"{service} Task")
                raise _task_denied(why)

    def keep(params: dict, **_: Any) -> None:
        if service == "events":
            for e in params.get("Entries", []):
                Routing.announced.append({"service": "events", "account": account, "source": e.get("Source"),
                                          "detail-type": e.get("DetailType"), "bus": e.get("EventBusName") or "default",
                                          "detail": json.loads(e.get("Detail") or "{}"), "resources": e.get("Resources", [])})
        else:
            Routing.announced.append({"service": "sns", "account": account, "topic": params.get("TopicArn"),
                                      "subject": params.get("Subject"), "message": params.get("Message")})

    sent: list = []

    def provide(params: dict, **_: Any) -> None:
        authorize(params)
        sent[:] = [params]

    def after(parsed: Any, **_: Any) -> None:
        refused = isinstance(parsed, dict) and (parsed.get("FailedEntryCount") or parsed.get("Error"))
        if sent and not refused:
            keep(sent[0])

    # botocore names events by the service's id, hyphenized: EventBridge's is `eventbridge`.
    name = f"{'eventbridge' if service == 'events' else 'sns'}.{'PutEvents' if service == 'events' else 'Publish'}"
    client.meta.events.register(f"provide-client-params.{name}", provide)
    client.meta.events.register(f"after-call.{name}", after)
    return client


def install_task_routing(world: Any) -> None:
    """A Task runs as its state machine's role (each destination account has its own state
    machine): its `lambda:InvokeFunction` is authorized against that role's policies; with
    `Credentials.RoleArn`, the role's `sts:AssumeRole` (its identity policy and the target's
    trust policy), then the invoke as the assumed role. moto hands boto_client_for only the
    Task's credentials, so the execution's own role is attached to them where moto evaluates
    them (StateTask._eval_state_credentials)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask

    original = lambda_eval_utils.boto_client_for
    original_credentials = StateTask._eval_state_credentials
    authorizer = Routing.authorizer

    def _eval_state_credentials(self: Any, env: Any) -> Any:
        credentials = original_credentials(self, env)
        credentials.machine_role = env.aws_execution_details.role_arn
        return credentials

    StateTask._eval_state_credentials = _eval_state_credentials

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        machine_role = getattr(state_credentials, "machine_role", None)
        if service == "lambda" and not machine_role:
            raise RuntimeError("a lambda Task without its execution's role: moto's StateTask changed")
        caller = _session(machine_role, "states") if machine_role else None
        role_arn = getattr(state_credentials, "role_arn", None)
        # moto passes the state machine's own role when a Task has no Credentials.
        if caller and role_arn and role_arn != machine_role:
            target = world.role(role_arn)
            if target is None:
                raise _task_denied(f"Credentials.RoleArn {role_arn} does not exist")
            why = authorizer.check(caller, authz.Check("sts:AssumeRole", target["arn"], target["account"], target["trust"]))
            if why:
                authorizer.record(caller.principal.describe(), "sts:AssumeRole", why, "Task Credentials")
                raise _task_denied(why)
            caller = _session(role_arn, "states")
        if service in ("events", "sns") and caller is not None:
            return _announcing_client(world, authorizer, caller, service)
        if service != "lambda" or caller is None:
            return original(region=region, service=service, state_credentials=state_credentials)
        account = caller.principal.account
        if Routing.function_host is None:
            raise RuntimeError("no function host is registered (POST /function-host on the control API)")
        # Its own client: the handler below is this Task's (its caller), not every Task's.
        client = world.client("lambda", account, endpoint=Routing.function_host, shared=False)

        def before_sign(request: Any, **_: Any) -> None:
            import urllib.parse

            name = urllib.parse.unquote(request.url.split("/functions/", 1)[-1].split("/", 1)[0])
            arn = name if name.startswith("arn:") else f"arn:aws:lambda:{REGION}:{account}:function:{name}"
            why = authorizer.check(caller, authz.Check("lambda:InvokeFunction", arn, arn.split(":")[4]))
            if why:
                authorizer.record(caller.principal.describe(), "lambda:InvokeFunction", why, f"Invoke {name}")
                raise _task_denied(why)
            request.headers["X-Ferry-Caller-Account"] = account
            body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
            if Routing.delay_waiter_seconds and "inventory-wait" in request.url and "taskToken" in body:
                time.sleep(Routing.delay_waiter_seconds)

        def before_send(request: Any, **_: Any) -> Any:
            """A Lambda-level fault (`POST /faults` with action lambda:InvokeFunction and the
            function's name as caller) answers for the function, as Lambda does."""
            import urllib.parse

            name = urllib.parse.unquote(request.url.split("/functions/", 1)[-1].split("/", 1)[0])
            # A rule's caller is the function's name (an ARN's seventh part: an alias's ARN
            # has one more).
            function = name.split(":")[6] if name.startswith("arn:") else name
            fault = authorizer.faults.pick(["lambda:InvokeFunction"], function)
            if fault not in authz.LAMBDA_FAULTS:
                return None
            if fault == "FunctionTimeout":
                # The function ran (its calls made, its writes done); its answer is lost.
                import urllib.request

                urllib.request.urlopen(urllib.request.Request(
                    request.url, data=request.body, method="POST",
                    headers={"X-Ferry-Caller-Account": account, "Content-Type": "application/json"}), timeout=900).read()
            error_type, message = authz.LAMBDA_FAULTS[fault]
            print(f"fault: Invoke {name}: {fault}", file=sys.stderr, flush=True)
            return lambda_function_error(request.url, error_type, f"RequestId: {uuid.uuid4()} {message}")

        client.meta.events.register("before-sign.lambda.Invoke", before_sign)
        client.meta.events.register("before-send.lambda.Invoke", before_send)
        return client

    lambda_eval_utils.boto_client_for = boto_client_for
    # The events:putEvents and sns:publish Tasks hold their own reference to moto's function.
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_events, state_task_service_sns,
    )

    state_task_service_events.boto_client_for = boto_client_for
    state_task_service_sns.boto_client_for = boto_client_for


def install_bucket_policy_check() -> None:
    """moto denies every object request that a bucket policy's Deny statement names, ignoring
    its conditions and principals. Every request is authorized before moto sees it (authz.py),
    so moto's own check stands aside."""
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    FakeBucket.get_permission = lambda self, action, resource: PermissionResult.NEUTRAL


def install_delete_inventory() -> None:
    """moto has no DeleteBucketInventoryConfiguration: its bucket DELETE handler takes
    `DELETE /<bucket>?inventory&id=<id>` for DeleteBucket. The sandbox answers it as S3 does:
    204 when the configuration existed, 404 NoSuchConfiguration when not."""
    from moto.s3.responses import S3Response

    original = S3Response._bucket_response_delete

    def _bucket_response_delete(self: Any, bucket_name: str, querystring: dict) -> Any:
        if "inventory" not in querystring:
            return original(self, bucket_name, querystring)
        config_id = querystring.get("id", [""])[0]
        bucket = self.backend.get_bucket(bucket_name)
        if bucket.inventory_configs.pop(config_id, None) is None:
            body = (
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchConfiguration</Code>"
                "<Message>The specified configuration does not exist.</Message></Error>"
            )
            return 404, {"Content-Type": "application/xml"}, body
        return 204, {}, ""

    S3Response._bucket_response_delete = _bucket_response_delete


def install_object_encryption() -> None:
    """Three encryptions moto does not model. An SSE-KMS object written without a key of its own
    (and no bucket default key) is encrypted by S3 with the account's AWS managed key `aws/s3`
    (HeadObject names it in `SSEKMSKeyId`); moto leaves it without a key. One written under a
    default key named by alias is under the key the alias names; moto keeps the alias. An SSE-C object (the
    request's `x-amz-server-side-encryption-customer-algorithm`) can be read only with its key
    (authz.py refuses a HEAD or GET without it, batch.py's copy fails it); moto ignores it."""
    from moto.s3.models import S3Backend

    from . import kms

    original = S3Backend.put_object

    def put_object(self: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        key = original(self, bucket_name, key_name, *args, **kwargs)
        region = self.get_bucket(bucket_name).region_name
        if key.encryption == "aws:kms" and not key.kms_key_id:
            key.kms_key_id = kms.aws_managed_s3_key(self.account_id, region).arn
        elif key.encryption == "aws:kms" and "alias/" in key.kms_key_id:
            # A default key named by alias: S3 writes under the key it names, resolved "within
            # the requester's account" (PutBucketEncryption's KMSMasterKeyID), and HeadObject
            # names that key.
            found = kms.find_key(key.kms_key_id, self.account_id, region)
            if found is not None:
                key.kms_key_id = found.arn
        key.sse_customer_algorithm = getattr(authz.REQUEST, "sse_customer_algorithm", None)
        return key

    S3Backend.put_object = put_object


def install_cross_account_copy_tags() -> None:
    """moto keeps tags per account: its CopyObject copies the source's tags from the destination
    account's store, and GetObjectTagging by another account reads its own store, so across
    accounts both see none. S3 copies them (`x-amz-tagging-directive` COPY, the default; moto's
    handler applies REPLACE's tags after this) and answers the object's tags to whoever may
    read them."""
    from moto.s3.models import S3Backend, s3_backends

    original = S3Backend.copy_object

    def copy_object(self: Any, src_key: Any, dest_bucket_name: str, dest_key_name: str, *args: Any, **kwargs: Any) -> Any:
        out = original(self, src_key, dest_bucket_name, dest_key_name, *args, **kwargs)
        src_account = authz.bucket_account(src_key.bucket_name)
        if src_account and src_account != self.account_id:
            tags = s3_backends[src_account]["aws"].tagger.list_tags_for_resource(src_key.arn)["Tags"]
            new_key = self.get_object(dest_bucket_name, dest_key_name)
            self.put_object_tagging(new_key, {t["Key"]: t["Value"] for t in tags})
        return out

    S3Backend.copy_object = copy_object

    original_get_tagging = S3Backend.get_object_tagging

    def get_object_tagging(self: Any, key: Any) -> Any:
        # An object's tags are in its bucket owner's store, whoever asks (GetObjectTagging across
        # accounts, as the copy worker reads them as the Batch role).
        owner = authz.bucket_account(key.bucket_name)
        backend = s3_backends[owner]["aws"] if owner and owner != self.account_id else self
        return original_get_tagging(backend, key)

    S3Backend.get_object_tagging = get_object_tagging


def _rename_root(method: str, wrong: str, right: str) -> None:
    """Makes moto's `S3Response.<method>` answer with S3's root element `right` for `wrong`."""
    from moto.s3.responses import S3Response

    original = getattr(S3Response, method)

    def renamed(self: Any) -> Any:
        status, headers, body = original(self)
        if isinstance(body, bytes):
            body = body.replace(wrong.encode(), right.encode())
        elif isinstance(body, str):
            body = body.replace(wrong, right)
        return status, headers, body

    setattr(S3Response, method, renamed)


def install_list_parts_root() -> None:
    """moto's ListParts answers with the root element `ListPartsResponse`; S3's is
    `ListPartsResult` (the S3 API reference), which the AWS SDK for Rust checks (boto3 does not)."""
    _rename_root("list_parts", "ListPartsResponse", "ListPartsResult")


def install_versioning_root() -> None:
    """moto's GetBucketVersioning answers `<GetBucketVersioningResponse/>`; S3's root element is
    `VersioningConfiguration` (with no `Status` for a bucket never versioned), which the AWS SDK
    for Rust checks."""
    _rename_root("get_bucket_versioning", "GetBucketVersioningResponse", "VersioningConfiguration")


def install_job_arns() -> None:
    """moto's IAM policy validator refuses any S3 ARN with a Region but access points', so a
    policy on S3 Batch Operations jobs (arn:aws:s3:<region>:<account>:job/*, as AWS's service
    authorization reference gives it) cannot be stored. Job ARNs are let through too."""
    from moto.iam import policy_validation

    s3 = policy_validation.SERVICE_TYPE_REGION_INFORMATION_ERROR_ASSOCIATIONS["s3"]
    s3["valid_starting_values"] = [*s3["valid_starting_values"], "job/"]


def install_send_task_failure_cause() -> None:
    """moto's SendTaskFailure handler passes the error but drops the cause before its own
    backend (which takes both); the sandbox passes both, as Step Functions records both."""
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self: Any) -> Any:
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure


def install_module_list_cache() -> None:
    """moto's server lists its own package folder (an isdir per entry) on every request to find
    the service a host names (`list_of_moto_modules`, from `get_backend_for_host`): a third of
    its request handling here. The folder does not change while the sandbox runs: listed once."""
    from moto import backends

    listed = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: listed


def install_json_path_cache() -> None:
    """moto's Step Functions interpreter parses a JSONPath again each time a state reads one, and
    each parse builds jsonpath_ng's parser (ply's tables) anew. A parsed path is an immutable
    expression (`find` and `update` change the data, not the path), and a state machine has a
    few dozen: each is parsed once."""
    import functools

    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    json_path.parse = functools.lru_cache(maxsize=4096)(json_path.parse)
    result_path.parse = functools.lru_cache(maxsize=4096)(result_path.parse)


def install_asl_parse_cache() -> None:
    """moto's Step Functions interpreter parses the state machine's definition (ANTLR) again for
    every execution: a tenth of the end-to-end tests' sandbox time. The parse tree of each
    definition is kept (the syntax check, and its error, as before); every execution still gets
    evaluation components of its own, built from that tree by a new Preprocessor (a visitor,
    which reads the tree)."""
    from moto.stepfunctions.parser.asl.parse import asl_parser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    original = asl_parser.AmazonStateLanguageParser.parse
    trees: dict[str, Any] = {}
    lock = threading.Lock()

    def parse(definition: str) -> tuple[Any, Any]:
        with lock:
            tree = trees.get(definition)
        if tree is None:
            program, tree = original(definition)
            with lock:
                trees[definition] = tree
            return program, tree
        return Preprocessor().visit(tree), tree

    asl_parser.AmazonStateLanguageParser.parse = staticmethod(parse)


# GetExecutionHistory's page size: 100 by default, at most 1000 (Step Functions API model,
# GetExecutionHistoryInput.maxResults: "The default is 100 and the maximum allowed page size is
# 1000. A value of 0 uses the default").
HISTORY_PAGE_DEFAULT = 100
HISTORY_PAGE_MAX = 1000
HISTORY_TOKEN = "sandbox-history-offset-"


def install_execution_history_pages() -> None:
    """GetExecutionHistory as the API documents it: `reverseOrder` ("Lists events in descending
    order of their timeStamp"), pages of `maxResults` events and a `nextToken` for the rest.
    moto answers every event of the execution, oldest first, whatever is asked: a watcher that
    reads the newest page each half second read the whole history instead, and a long copy's
    history grew with its job (the sandbox slowed down as jobs grew)."""
    from moto.stepfunctions.responses import StepFunctionResponse

    def get_execution_history(self: Any) -> Any:
        from moto.core.responses import ActionResult

        history = self.stepfunction_backend.get_execution_history(self._get_param("executionArn"))
        events = list(history["events"])
        if self._get_param("reverseOrder"):
            events.reverse()
        from moto.stepfunctions.exceptions import InvalidToken, ValidationException

        size = int(self._get_param("maxResults") or 0) or HISTORY_PAGE_DEFAULT
        if not 0 < size <= HISTORY_PAGE_MAX:
            # The model's PageSize bounds (0 to 1000), which the SDKs check before sending.
            raise ValidationException(f"maxResults {size} is outside 0 to {HISTORY_PAGE_MAX}")
        token = self._get_param("nextToken")
        start = 0
        if token:
            offset = token[len(HISTORY_TOKEN):] if token.startswith(HISTORY_TOKEN) else ""
            if not offset.isdigit() or int(offset) > len(events):
                # A token this sandbox did not hand out: AWS answers InvalidToken (the model's
                # GetExecutionHistory errors list it) rather than starting over.
                raise InvalidToken(token)
            start = int(offset)
        page: dict[str, Any] = {"events": events[start:start + size]}
        if start + size < len(events):
            page["nextToken"] = f"{HISTORY_TOKEN}{start + size}"
        return ActionResult(page)

    StepFunctionResponse.get_execution_history = get_execution_history


class AuthorizedMotoServer:
    """moto's threaded server with the sandbox's authorization in front of its application.
    One application (moto's backends and the authorizer) may be served on one port after
    another: the fork server stops it before forking, and each sandbox forked from it listens
    on a port of its own (`listen`)."""

    def __init__(self, ip_address: str, port: int):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.authorizer = authz.Authorizer(DomainDispatcherApplication(create_backend_app))
        self._ip_address = ip_address
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.listen(port)

    def listen(self, port: int) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        class Quiet(MotoRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass

        self._server = make_server(self._ip_address, port, self.authorizer, True, request_handler=Quiet)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="moto")
        # The port it listens on (the kernel's choice when `port` is 0).
        self.port: int = self._server.server_port

    def start(self) -> None:
        assert self._thread is not None
        self._thread.start()

    def stop(self) -> None:
        """Stops serving and closes the listening socket (requests in flight finish on their own
        threads)."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
