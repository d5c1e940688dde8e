"""The sandbox launcher: two AWS accounts on one machine.

    python -m sandbox.launcher --template ../template.yaml [--lifetime SECONDS]

Starts moto (S3, IAM, STS, Step Functions with its interpreter switched on) on a free 127.0.0.1
port, in this process, and adds what moto lacks:
- bootstrap from template.yaml: what the destination stack (account 222222222222) and the source
  stack (account 111111111111) create, with the template's own expressions resolved for the
  sandbox, so that the state machine that runs is the template's;
- Task `Credentials.RoleArn` honoured: the role must exist and trust the state machine's role,
  and the call runs in the role's account; a Task without Credentials runs in the state
  machine's own account;
- `lambda:invoke` delivered to the function host (registered through the control API), with the
  caller's account, so the host can refuse a function of another account;
- S3 Batch Operations (batch.py);
- S3 Inventory delivery and the ferry bucket's notification (inventory.py);
- Step Functions status-change events delivered to the template's EventBridge rule targets;
- a control API for tests (inject task failures, hold jobs, fake object sizes, list jobs, steer
  inventory delivery).

Prints one JSON line when ready (endpoint, region, accounts, credentials, control URL), runs in a
process group of its own, and exits after --lifetime seconds, on POST /stop, or when its
standard input closes (the parent is gone).
"""

import argparse
import copy
import json
import os
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, TextIO

import boto3
from botocore.config import Config

from . import authz, batch, capture, inventory, kms, patches, policy, propagation, template
from .patches import Routing, check_moto
from .template import ACCOUNTS, DESTINATION, REGION, SOURCE, SOURCE_KEY, SOURCE_KEY_WITHOUT_GRANTS, STACKS, Resolver

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class World:
    """Every account through moto's public API, for bootstrap and for Batch Operations tasks."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.creds: dict[str, dict] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._clients_lock = threading.Lock()
        sts = boto3.client("sts", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="ak", aws_secret_access_key="sk")
        for account in ACCOUNTS.values():
            c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/ferry-sandbox", RoleSessionName="sandbox")["Credentials"]
            self.creds[account] = {
                "accessKeyId": c["AccessKeyId"],
                "secretAccessKey": c["SecretAccessKey"],
                "sessionToken": c["SessionToken"],
            }

    def client(self, service: str, account: str, endpoint: str | None = None, shared: bool = True) -> Any:
        """The account's client of `service`, made once (about 9 ms each) and shared: boto3's
        clients are thread-safe, their creation is not. `shared=False`: a client of its own,
        for a caller that registers event handlers on it."""
        wanted = (service, account, endpoint or self.endpoint)
        with self._clients_lock:
            made = self._clients.get(wanted) if shared else None
            if made is None:
                c = self.creds[account]
                made = boto3.client(
                    service,
                    endpoint_url=wanted[2],
                    region_name=REGION,
                    aws_access_key_id=c["accessKeyId"],
                    aws_secret_access_key=c["secretAccessKey"],
                    aws_session_token=c["sessionToken"],
                    config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
                )
                if shared:
                    self._clients[wanted] = made
            return made

    def disconnect(self, endpoint: str) -> None:
        """Forgets every client made so far, their connections closed, and makes new ones for
        `endpoint` (the fork server before it forks: each sandbox serves on a port of its own)."""
        with self._clients_lock:
            for made in self._clients.values():
                made._endpoint.http_session.close()
            self._clients.clear()
            self.endpoint = endpoint

    # -- what Batch Operations tasks need --

    def role(self, arn: str) -> dict | None:
        """A role as S3 Batch Operations uses it: its policies and boundary, from moto's IAM."""
        role = authz.role_of_arn(arn)
        if role is None:
            return None
        identity = authz.identity_of_role(role, "s3-batch-operations")
        return {
            "arn": authz.role_arn(role),
            "account": role.account_id,
            "inline": identity.identity_policies,
            "boundary": identity.boundary,
            "trust": role.assume_role_policy_document,
        }

    def owner(self, bucket: str) -> str | None:
        return authz.bucket_account(bucket)

    def bucket_policy(self, bucket: str) -> str | None:
        return authz.bucket_policy(bucket)

    def identity_allows(self, role: dict, action: str, resource: str) -> tuple[bool, str]:
        """A call on a resource without a resource policy of its own here (lambda:InvokeFunction
        of a function): the role's policies and boundary decide, within its own account only."""
        return self._as_role(role, action, resource, resource.split(":")[4], None)

    def invoke(self, function_arn: str, caller_account: str, event: dict) -> tuple[str, str]:
        """A synchronous invocation through the function host: ("ok", payload) or ("error",
        the function's error)."""
        import urllib.parse
        import urllib.request

        if Routing.function_host is None:
            return "error", "no function host is registered"
        request = urllib.request.Request(
            f"{Routing.function_host}/2015-03-31/functions/{urllib.parse.quote(function_arn, safe='')}/invocations",
            data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json", "X-Ferry-Caller-Account": caller_account},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=900) as r:
                body = r.read().decode()
                return ("error" if r.headers.get("X-Amz-Function-Error") else "ok"), body
        except Exception as err:
            return "error", repr(err)

    def allowed(self, role: dict, action: str, bucket: str, key: str | None) -> tuple[bool, str]:
        owner = self.owner(bucket)
        if owner is None:
            return False, f"bucket {bucket} does not exist"
        resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None else "")
        return self._as_role(role, action, resource, owner, self.bucket_policy(bucket))

    @staticmethod
    def _as_role(role: dict, action: str, resource: str, resource_account: str, resource_policy: Any) -> tuple[bool, str]:
        """`action` on `resource` by a session of `role` from S3 Batch Operations."""
        return policy.allowed(
            action=action,
            resource=resource,
            caller_arn=role["arn"],
            caller_account=role["account"],
            identity_policies=role["inline"],
            boundary=role["boundary"],
            resource_account=resource_account,
            bucket_policy=resource_policy,
            context=batch_context(),
        )

    # A task's reads and its copy call moto's S3 backend in process: S3 Batch Operations does
    # them inside AWS, authorized above as the job's role (`allowed`, `kms_allowed`); an HTTP
    # round trip through the authorization layer as the sandbox's admin role per call cost
    # ~10 ms each and decided nothing. The backend applies what matters here as S3 does: the
    # destination bucket's default encryption, the `aws/s3` key (patches.py), the source's
    # tags across accounts.

    @staticmethod
    def _backend(bucket: str) -> Any:
        from moto.s3.models import s3_backends

        return s3_backends[authz.bucket_account(bucket)]["aws"]

    def _key(self, bucket: str, key: str) -> Any:
        if authz.bucket_account(bucket) is None:
            return None
        return self._backend(bucket).get_object(bucket, key)

    def get_object(self, bucket: str, key: str) -> tuple[bytes, str]:
        found = self._key(bucket, key)
        if found is None:
            raise KeyError(f"s3://{bucket}/{key} does not exist")
        return found.value, found.etag

    def head_object(self, bucket: str, key: str) -> dict | None:
        if authz.is_sse_c(bucket, key):
            # A HEAD without the customer's key is refused; what the copy needs is that it is SSE-C.
            return {"size": 0, "kmsKey": None, "sseC": True}
        found = self._key(bucket, key)
        if found is None:
            return None
        kms_key = found.kms_key_id if found.encryption == "aws:kms" else None
        return {"size": found.size, "kmsKey": kms_key, "sseC": False}

    def kms_allowed(self, role: dict, operation: str, key_id: str, key_account: str, object_arn: str) -> tuple[bool, str]:
        """Whether S3, acting for the job's role, may use the KMS key `key_id` for `operation`
        on `object_arn` (key policy, grants, the role's policies and boundary)."""
        region = key_id.split(":")[3] if key_id.startswith("arn:") else REGION
        key = kms.find_key(key_id, key_account, region)
        if key is None:
            return False, f"the KMS key {key_id} does not exist"
        principal = policy.Principal.role(role["arn"], "s3-batch-operations")
        return kms.s3_use(key, operation, principal, role["inline"], role["boundary"], object_arn, region, batch_context())

    def copy_object(self, src: str, key: str, dst: str, dst_key: str, storage_class: str, directive: str,
                    encryption: dict | None = None) -> None:
        """CopyObject as S3PutObjectCopy does it: the bytes, the storage class and encryption
        asked for (else the destination bucket's default), user metadata and content type
        (MetadataDirective COPY), and the source's tags (its owner's tag store)."""
        source = self._key(src, key)
        if source is None:
            raise KeyError(f"s3://{src}/{key} does not exist")
        encryption = encryption or {}
        bucket_key = encryption.get("BucketKeyEnabled")
        target = self._backend(dst).put_object(
            dst,
            dst_key,
            source.value,
            storage=storage_class,
            encryption=encryption.get("ServerSideEncryption"),
            kms_key_id=encryption.get("SSEKMSKeyId"),
            bucket_key_enabled=None if bucket_key is None else str(bucket_key).lower(),
        )
        if directive == "COPY":
            target.set_metadata(copy.copy(source.metadata))
        tags = self._backend(src).tagger.list_tags_for_resource(source.arn)["Tags"]
        self._backend(dst).put_object_tagging(target, {t["Key"]: t["Value"] for t in tags})

    def put_report(self, bucket: str, key: str, data: bytes) -> None:
        self.client("s3", self.owner(bucket)).put_object(Bucket=bucket, Key=key, Body=data, ServerSideEncryption="AES256")


# The functions' FERRY_POLICY_SETTLE_MS in the sandbox (see bootstrap).
SANDBOX_POLICY_SETTLE_MS = 200
# The functions' FERRY_GRANT_LIFETIME_MIN_SECONDS in the sandbox.
SANDBOX_GRANT_LIFETIME_MIN = 10


# S3 Batch Operations calls S3 from AWS's own network, as the job's role: not from this machine
# and never through a customer's VPC endpoint. (An address in S3's eu-west-1 range.)
BATCH_SOURCE_IP = "52.218.0.1"


def batch_context() -> dict:
    """The context of a Batch Operations task: the keys a test added (an organization), but never
    a VPC endpoint, and S3's own address."""
    extra = {k: v for k, v in Routing.authorizer.extra_context.items() if k != "aws:SourceVpce"}
    return {**extra, "aws:SourceIp": BATCH_SOURCE_IP}


# ---- bootstrap from template.yaml ----


def bootstrap(world: World, tpl: dict, delivery: inventory.Inventory) -> dict:
    """Creates what every stack of template.STACKS creates; returns the state machine ARN of
    each destination account and the functions, by ARN (one account may hold both sides, and
    every source account has its own ferry-source-access). A bucket's Lambda notifications are
    registered with the inventory delivery (moto would run the function in Docker)."""
    functions: dict[str, dict] = {}
    event_rules: list[tuple[dict, str]] = []
    state_machines: dict[str, str] = {}
    for stack in STACKS:
        res = Resolver(tpl, stack.side, stack=stack)
        account = res.account
        s3, iam, sfn = (world.client(s, account) for s in ("s3", "iam", "stepfunctions"))
        resources = {k: r for k, r in res.tpl["Resources"].items() if res.included(r)}
        for logical, r in resources.items():
            p = r.get("Properties", {})
            t = r["Type"]
            if t == "AWS::S3::Bucket":
                name = res.name_of(logical)
                s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
                for n in p.get("NotificationConfiguration", {}).get("LambdaConfigurations", []):
                    rules = {r["Name"].lower(): r["Value"] for r in n.get("Filter", {}).get("S3Key", {}).get("Rules", [])}
                    delivery.notifications.setdefault(name, []).append(
                        (rules.get("prefix", ""), rules.get("suffix", ""), res.value(n["Function"]))
                    )
            elif t == "AWS::IAM::ManagedPolicy":
                iam.create_policy(PolicyName=res.name_of(logical), Path=p.get("Path", "/"), PolicyDocument=json.dumps(res.value(p["PolicyDocument"])))
            elif t == "AWS::SSM::Parameter":
                world.client("ssm", account).put_parameter(Name=res.value(p["Name"]), Value=res.value(p["Value"]), Type=p["Type"])
            elif t == "AWS::IAM::Role":
                name = res.name_of(logical)
                iam.create_role(RoleName=name, Path=p.get("Path", "/"), AssumeRolePolicyDocument=json.dumps(res.value(p["AssumeRolePolicyDocument"])))
                for pol in p.get("Policies", []):
                    iam.put_role_policy(RoleName=name, PolicyName=pol["PolicyName"], PolicyDocument=json.dumps(res.value(pol["PolicyDocument"])))
                attach_own_policies(iam, name, res.value(p.get("ManagedPolicyArns", [])))
            elif t == "AWS::Serverless::Function":
                for ev in p.get("Events", {}).values():
                    if ev.get("Type") == "EventBridgeRule":
                        event_rules.append((res.value(ev["Properties"]["Pattern"]), res.arn_of(logical)))
                binary = r["Metadata"]["BuildProperties"]["Binary"]
                function_role = execution_role(res, iam, logical, p)
                env = dict(res.value(tpl.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})))
                env.update(res.value(p.get("Environment", {}).get("Variables", {})))
                # Lambda's variables are strings (a Number parameter's Ref included).
                env = {k: str(v) for k, v in env.items()}
                env["AWS_REGION"] = REGION
                # A bucket-policy writer's pause before it reads its write back (1.5 s on AWS):
                # here S3 is one process on this machine, and another writer's read-to-write
                # takes milliseconds (the two-writers test still makes them race).
                env.setdefault("FERRY_POLICY_SETTLE_MS", str(SANDBOX_POLICY_SETTLE_MS))
                # Grants as short as 10 s (AWS's stacks: 60), so that a test of their renewal
                # waits seconds; shorter grants never widen access.
                env.setdefault("FERRY_GRANT_LIFETIME_MIN_SECONDS", str(SANDBOX_GRANT_LIFETIME_MIN))
                functions[res.arn_of(logical)] = {
                    "name": res.name_of(logical), "account": account, "binary": binary, "arn": res.arn_of(logical), "environment": env, "role": function_role,
                }
        for logical, r in resources.items():
            p = r.get("Properties", {})
            if r["Type"] == "AWS::Lambda::Alias":
                # The function again, at the alias's ARN: Lambda hands a function invoked
                # through an alias the alias's ARN (Lambda Developer Guide, runtimes-api:
                # "The ARN of the Lambda function, version, or alias that's specified in the
                # invocation"), and IAM authorizes the invoke on that ARN (lambda-api-
                # permissions-ref: a policy on the unqualified ARN "denies requests that
                # reference a qualified ARN"). Every alias of ferry's points at $LATEST.
                if p["FunctionVersion"] != "$LATEST":
                    raise SystemExit(f"{logical}: the sandbox runs aliases of $LATEST only")
                function = res.value(p["FunctionName"])
                base = f"arn:aws:lambda:{REGION}:{account}:function:{function}"
                arn = f"{base}:{res.value(p['Name'])}"
                functions[arn] = {**functions[base], "arn": arn}
            elif r["Type"] == "AWS::S3::BucketPolicy":
                s3.put_bucket_policy(Bucket=res.value(p["Bucket"]), Policy=json.dumps(res.value(p["PolicyDocument"])))
            elif r["Type"] == "AWS::Serverless::StateMachine":
                values = {k: res.value(v) for k, v in p.get("DefinitionSubstitutions", {}).items()}
                definition = template.definition(tpl, values)
                role_arn = res.value(p["Role"])
                arn = sfn.create_state_machine(
                    name=res.name_of(logical), definition=json.dumps(definition), roleArn=role_arn
                )["stateMachineArn"]
                check_state_machine_trust(role_arn, arn, account)
                state_machines[account] = arn
    return {"stateMachines": state_machines, "functions": functions, "rules": event_rules}


def check_state_machine_trust(role_arn: str, state_machine_arn: str, account: str) -> None:
    """Step Functions assumes a state machine's role as states.amazonaws.com with the state
    machine as aws:SourceArn and its account as aws:SourceAccount: the role must trust that,
    or every execution fails (the bootstrap stops instead)."""
    role = authz.role_of_arn(role_arn)
    if role is None:
        raise SystemExit(f"the state machine's role {role_arn} does not exist")
    context = {"aws:SourceArn": state_machine_arn, "aws:SourceAccount": account}
    trusted = policy.service_allowed(role.assume_role_policy_document, "states.amazonaws.com", "sts:AssumeRole", role_arn, context, account)
    if not trusted.allowed:
        raise SystemExit(f"{state_machine_arn}: its role {role_arn} does not trust states.amazonaws.com for it: {trusted.reason}")


def execution_role(res: "Resolver", iam: Any, logical: str, p: dict) -> str:
    """The ARN of a function's execution role: its `Role:`, or the role SAM creates from its
    `Policies:` (named `<LogicalId>Role` here; CloudFormation would add the stack's name and a
    suffix), with exactly the template's statements, one inline policy per entry as SAM writes
    them. SAM's policy templates are expanded from SAM's own definitions; an unknown one stops
    the bootstrap. (SAM also attaches AWSLambdaBasicExecutionRole, for the Lambda service's
    log delivery: ferry's code never calls CloudWatch Logs, so it is left out.)"""
    if "Role" in p:
        return res.value(p["Role"])
    name = f"{logical}Role"
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    attach_own_policies(iam, name, [item for item in res.value(p.get("Policies", [])) if isinstance(item, str)])
    for n, item in enumerate(res.value(p.get("Policies", []))):
        if isinstance(item, str):
            continue  # a managed policy's ARN, attached above
        if isinstance(item, dict) and "Statement" in item:
            doc = {"Version": "2012-10-17", "Statement": res.value(item["Statement"])}
        elif isinstance(item, dict) and "SQSSendMessagePolicy" in item:
            queue = res.value(item["SQSSendMessagePolicy"]["QueueName"])
            doc = {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["sqs:SendMessage*"],
                "Resource": f"arn:aws:sqs:{REGION}:{res.account}:{queue}"}]}
        else:
            raise SystemExit(f"{logical}: the sandbox does not know the SAM policy {item!r}")
        iam.put_role_policy(RoleName=name, PolicyName=f"{logical}RolePolicy{n}", PolicyDocument=json.dumps(doc))
    return f"arn:aws:iam::{res.account}:role/{name}"


def attach_own_policies(iam: Any, role: str, arns: list[str]) -> None:
    """Attaches the template's own managed policies among `arns` to `role`; AWS managed ones
    (`arn:aws:iam::aws:policy/...`: AWSLambdaBasicExecutionRole, for the Lambda service's log
    delivery, which ferry's code never calls) are left out."""
    for arn in arns:
        if ":iam::aws:policy/" not in arn:
            iam.attach_role_policy(RoleName=role, PolicyArn=arn)


def function_credentials(world: "World", functions: dict) -> None:
    """Each function's credentials: a session of its execution role named after the function,
    as Lambda creates it. The role must trust lambda.amazonaws.com, or the bootstrap stops."""
    sts = boto3.client("sts", endpoint_url=world.endpoint, region_name=REGION,
                       aws_access_key_id=authz.INTERNAL_KEY, aws_secret_access_key="sk")
    for arn, f in functions.items():
        name = f["name"]
        role_arn = f["role"]
        role = authz.role_of_arn(role_arn)
        if role is None:
            raise SystemExit(f"{name}: its execution role {role_arn} does not exist")
        trusted = policy.service_allowed(
            role.assume_role_policy_document, "lambda.amazonaws.com", "sts:AssumeRole", authz.role_arn(role), {}, f["account"]
        )
        if not trusted.allowed:
            raise SystemExit(f"{name}: its execution role {role_arn} does not trust lambda.amazonaws.com: {trusted.reason}")
        c = sts.assume_role(RoleArn=role_arn, RoleSessionName=name)["Credentials"]
        f["credentials"] = {"accessKeyId": c["AccessKeyId"], "secretAccessKey": c["SecretAccessKey"], "sessionToken": c["SessionToken"]}


def sandbox_admins(world: "World") -> None:
    """The role whose sessions the tests, the CLI and the demo use in each account: an
    administrator of its own account (Action * on Resource *), and of its own account only:
    across accounts, bucket policies decide, as for anyone."""
    for account in ACCOUNTS.values():
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}
        admin = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam = world.client("iam", account)
        iam.create_role(RoleName="ferry-sandbox", AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(RoleName="ferry-sandbox", PolicyName="administrator", PolicyDocument=json.dumps(admin))


def source_keys(world: "World") -> None:
    """The source account's KMS keys that its stack's SourceKmsKeyArns names (template.py):
    one under KMS's default key policy (the account's IAM policies decide), one whose policy
    names only the account's administrator role (no grant can be created on it by ferry)."""
    kms.create_key_with_id(SOURCE, REGION, SOURCE_KEY.rsplit("/", 1)[1], None)
    admin_only = {"Version": "2012-10-17", "Statement": [{
        "Sid": "AdminOnly", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{SOURCE}:role/ferry-sandbox"},
        "Action": "kms:*", "Resource": "*"}]}
    kms.create_key_with_id(SOURCE, REGION, SOURCE_KEY_WITHOUT_GRANTS.rsplit("/", 1)[1], admin_only)


# ---- Step Functions: Credentials.RoleArn and lambda:invoke ----


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
                return any(e.status != "RUNNING" and e.execution_arn not in self.seen for e in list(machine.executions))
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
                     "succeeded": j.succeeded, "failed": j.failed, "token": j.request.get("ClientRequestToken")}
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
                    controls.sizes[(body["bucket"], body["key"])] = int(body["size"])
                elif self.path == "/propagation":
                    propagation.set_delay(float(body["seconds"]))
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

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Prepared:
    """A bootstrapped sandbox that is not serving yet: moto's backends hold both stacks, every
    call from here on is authorized. `serve` runs it; the fork server forks it."""

    world: World
    server: patches.AuthorizedMotoServer
    batch: batch.Batch
    controls: batch.Controls
    delivery: inventory.Inventory
    stacks: dict


def prepare(template_path: str) -> Prepared:
    """Starts moto on a free port and deploys the template's stacks into it (what CloudFormation
    does), with every patch of the sandbox installed."""
    check_moto()
    patches.install_module_list_cache()
    patches.install_json_path_cache()
    patches.install_asl_parse_cache()
    tpl = template.load(template_path)

    from moto.s3control import urls

    controls = batch.Controls()
    world_ref: dict = {}

    class LazyWorld:
        def __getattr__(self, name: str) -> Any:
            return getattr(world_ref["world"], name)

    batch_ = batch.Batch(LazyWorld(), controls)
    urls.url_paths.update(batch_.routes())
    port = free_port()
    server = patches.AuthorizedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    Routing.authorizer = server.authorizer
    endpoint = f"http://127.0.0.1:{port}"
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(
        f"{endpoint}/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )).read()
    world = World(endpoint)
    world_ref["world"] = world
    sandbox_admins(world)
    patches.install_task_routing(world)
    patches.install_bucket_policy_check()
    patches.install_delete_inventory()
    patches.install_send_task_failure_cause()
    patches.install_job_arns()
    patches.install_object_encryption()
    patches.install_cross_account_copy_tags()
    patches.install_list_parts_root()
    patches.install_versioning_root()
    kms.install_idempotent_grants()
    propagation.install()
    source_keys(world)
    delivery = inventory.Inventory(world, sorted({s.account for s in STACKS if s.side == "source"}), lambda: Routing.function_host)
    stacks = bootstrap(world, tpl, delivery)
    function_credentials(world, stacks["functions"])
    # From here on, every call is authorized (the deployment itself was CloudFormation's).
    server.authorizer.enforcing = True
    return Prepared(world, server, batch_, controls, delivery, stacks)


def serve(p: Prepared, lifetime: float, out: TextIO, watch: Callable[[], Any] | None) -> int:
    """Runs a prepared sandbox whose moto server is listening: starts its background services
    and its control API, writes the ready line to `out`, and stops after `lifetime` seconds, on
    POST /stop, or when `watch` (a blocking read of the parent's pipe) returns."""
    p.delivery.start()
    status_events = StatusEvents(p.world, p.stacks["rules"])
    for arn in p.stacks["stateMachines"].values():
        status_events.start(arn)
    stop = threading.Event()
    control = control_server(p.batch, p.controls, p.delivery, stop)
    out.write(json.dumps({
        "endpoint": p.world.endpoint,
        "region": REGION,
        "accounts": ACCOUNTS,
        "credentials": {name: p.world.creds[account] for name, account in ACCOUNTS.items()},
        "control": f"http://127.0.0.1:{control.server_address[1]}",
        "stateMachineArn": p.stacks["stateMachines"][DESTINATION],
        "stateMachines": p.stacks["stateMachines"],
        "kmsKeys": {"source": SOURCE_KEY, "sourceWithoutGrants": SOURCE_KEY_WITHOUT_GRANTS},
        "functions": p.stacks["functions"],
        "pid": os.getpid(),
    }) + "\n")
    out.flush()

    def watch_parent() -> None:
        assert watch is not None
        watch()
        stop.set()

    if watch is not None:
        threading.Thread(target=watch_parent, daemon=True).start()
    stop.wait(lifetime)
    control.shutdown()
    p.server.stop()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--lifetime", type=int, default=1800, help="seconds before the sandbox stops itself")
    args = parser.parse_args()
    try:
        os.setpgrp()
    except OSError:
        pass
    prepared = prepare(args.template)
    return serve(prepared, args.lifetime, sys.stdout, None if sys.stdin.isatty() else sys.stdin.read)


if __name__ == "__main__":
    sys.exit(main())
