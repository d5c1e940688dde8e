"""What CloudFormation does for the sandbox: every stack of template.yaml (template.STACKS) created
in moto, the template's own expressions resolved, so that the state machine that runs is the
template's; the functions' roles and their sessions; the accounts' administrator roles and the
source account's KMS keys."""

import json
from typing import Any

import boto3

from . import authz, inventory, kms, policy, template
from .template import ACCOUNTS, REGION, SOURCE, SOURCE_KEY, SOURCE_KEY_WITHOUT_GRANTS, STACKS, Resolver
from .world import SANDBOX_GRANT_LIFETIME_MIN, SANDBOX_POLICY_SETTLE_MS, World


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
            elif r["Type"] == "AWS::IAM::RolePolicy":
                world.client("iam", account).put_role_policy(
                    RoleName=res.value(p["RoleName"]), PolicyName=p["PolicyName"], PolicyDocument=json.dumps(res.value(p["PolicyDocument"])))
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
