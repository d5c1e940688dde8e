"""template.yaml as the sandbox reads it: decoded with cfn-lint's CloudFormation YAML decoder
(it knows !Sub, !GetAtt and the other tags), with the state machine's definition read from its
DefinitionUri file (statemachine/ferry.asl.yaml) and its ${...} substitutions resolved from a
fixed map of sandbox names, so that the definition the sandbox runs is the one SAM deploys."""

import json
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import yaml
from cfnlint.decode import decode

# The sandbox's accounts and Region, and the stacks' bucket lists there.
SOURCE = "111111111111"
DESTINATION = "222222222222"
# Both sides at once: a second source of DESTINATION (consolidation) and a second destination
# of SOURCE (fan-out).
THIRD = "333333333333"
ACCOUNTS = {"source": SOURCE, "destination": DESTINATION, "third": THIRD}
REGION = "eu-west-1"
# SOURCE's SourceBuckets parameter: the buckets the tests and the demo use.
SOURCE_BUCKETS = ("src-photos", "src-manifests")
# DESTINATION's DestinationBuckets and ManifestBuckets.
DESTINATION_BUCKETS = ("dst-photos", "dst-archive")
MANIFEST_BUCKETS = ("dst-manifests",)
# THIRD's buckets: its source stack's SourceBuckets and its destination stack's
# DestinationBuckets.
THIRD_SOURCE_BUCKETS = ("src-ledger",)
THIRD_DESTINATION_BUCKETS = ("dst3-photos",)
# SOURCE's KMS keys, created by the launcher with these ids before the stacks (SourceKmsKeyArns):
# one whose policy lets the account's IAM policies decide (KMS's default), and one whose policy
# names only the account's administrator role, so that ferry may not create grants on it.
SOURCE_KEY = f"arn:aws:kms:{REGION}:{SOURCE}:key/11111111-1111-4111-8111-000000000001"
SOURCE_KEY_WITHOUT_GRANTS = f"arn:aws:kms:{REGION}:{SOURCE}:key/11111111-1111-4111-8111-000000000002"


# DESTINATION's SNS topic (its stack's NotificationTopicArn), created by the launcher.
NOTIFICATION_TOPIC = f"arn:aws:sns:{REGION}:{DESTINATION}:ferry-runs"


@dataclass(frozen=True)
class Stack:
    """One deployment of template.yaml: its side, its account and its parameters."""

    side: str
    account: str
    params: dict = field(default_factory=dict)


# The sandbox's stacks, the primary destination and source first.
STACKS = (
    Stack("destination", DESTINATION, {
        "SourceAccountIds": [SOURCE, THIRD],
        "SourceBuckets": [*SOURCE_BUCKETS, *THIRD_SOURCE_BUCKETS],
        "DestinationBuckets": list(DESTINATION_BUCKETS),
        "ManifestBuckets": list(MANIFEST_BUCKETS),
        # The topic the launcher creates (THIRD's destination stack has none: no message).
        "NotificationTopicArn": NOTIFICATION_TOPIC,
    }),
    Stack("source", SOURCE, {
        "DestinationAccountIds": [DESTINATION, THIRD],
        "SourceBuckets": list(SOURCE_BUCKETS),
        "SourceKmsKeyArns": [SOURCE_KEY, SOURCE_KEY_WITHOUT_GRANTS],
        # The tests of `cleanup.revokeGrants: false` copy from SOURCE; THIRD keeps the default.
        "KeptGrants": "allow",
    }),
    Stack("source", THIRD, {
        "DestinationAccountIds": [DESTINATION],
        "SourceBuckets": list(THIRD_SOURCE_BUCKETS),
    }),
    Stack("destination", THIRD, {
        "SourceAccountIds": [SOURCE],
        "SourceBuckets": list(SOURCE_BUCKETS),
        "DestinationBuckets": list(THIRD_DESTINATION_BUCKETS),
    }),
)


def primary(side: str) -> Stack:
    """The first stack of `side`: DESTINATION's destination stack, SOURCE's source stack."""
    return next(s for s in STACKS if s.side == side)

SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
# `Ref: AWS::NoValue`: the list item or property is dropped.
NO_VALUE = object()


def load(path: str) -> dict:
    """The decoded template, its state machine's definition inlined from DefinitionUri (a path
    relative to the template, as `sam package` reads it) as Definition."""
    template, matches = decode(path)
    if matches:
        raise ValueError(f"{path}: {'; '.join(str(m) for m in matches)}")
    _, sm = state_machine(template)
    props = sm["Properties"]
    uri = props.pop("DefinitionUri", None)
    if uri is not None:
        if not isinstance(uri, str) or uri.startswith("s3://"):
            raise ValueError(f"{path}: DefinitionUri must be a local file, not {uri!r}")
        if "Definition" in props:
            raise ValueError(f"{path}: the state machine has both Definition and DefinitionUri")
        with open(os.path.join(os.path.dirname(os.path.abspath(path)), uri)) as f:
            props["Definition"] = yaml.safe_load(f)
    return template


def state_machine(template: dict) -> tuple[str, dict]:
    """The (logical id, resource) of the template's one state machine."""
    found = [
        (name, r)
        for name, r in template["Resources"].items()
        if isinstance(r, dict) and r["Type"] in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")
    ]
    if len(found) != 1:
        raise ValueError(f"expected one state machine, found {len(found)}")
    return found[0]


def substitution_names(template: dict) -> list[str]:
    _, sm = state_machine(template)
    return sorted(sm["Properties"].get("DefinitionSubstitutions", {}))


def definition(template: dict, values: dict[str, str] | None = None) -> dict:
    """The definition with every ${Name} replaced by values[Name] (left as it is when values is
    None). A name the template does not declare, or that values lacks, is an error."""
    _, sm = state_machine(template)
    declared = set(sm["Properties"].get("DefinitionSubstitutions", {}))
    text = json.dumps(sm["Properties"]["Definition"])

    def replace(m: re.Match) -> str:
        name = m.group(1)
        if name not in declared:
            raise ValueError(f"${{{name}}} is used in the definition but not in DefinitionSubstitutions")
        if values is None:
            return m.group(0)
        if name not in values:
            raise ValueError(f"no sandbox value for ${{{name}}}")
        return values[name]

    return json.loads(SUBSTITUTION.sub(replace, text))


def inline_policies(template: dict) -> dict[str, dict]:
    """Every identity policy the template writes (functions' Policies statements, roles' inline
    policies, managed policies), resolved for each side with the sandbox's accounts, by file
    name. SAM policy templates (SQSSendMessagePolicy, ...) are AWS's own and left out."""
    out: dict[str, dict] = {}
    for side in ("destination", "source"):
        res = Resolver(template, side)
        for logical, r in res.tpl["Resources"].items():
            if not res.included(r):
                continue
            p = r.get("Properties", {})
            docs: list[dict] = []
            if r["Type"] == "AWS::Serverless::Function":
                docs = [
                    {"Version": "2012-10-17", "Statement": item["Statement"]}
                    for item in res.value(p.get("Policies", []))
                    if isinstance(item, dict) and "Statement" in item
                ]
            elif r["Type"] == "AWS::IAM::Role":
                docs = [pol["PolicyDocument"] for pol in p.get("Policies", [])]
            elif r["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
                docs = [p["PolicyDocument"]]
            for n, doc in enumerate(docs):
                out[f"template-{side}-{logical}-{n}.json"] = res.value(doc)
    return out


def for_each(resources: dict, params: dict) -> dict:
    """`Fn::ForEach::<loop>: [Identifier, Collection, {OutputKey: OutputValue}]` entries of the
    template's Resources expanded, as the AWS::LanguageExtensions transform does (CloudFormation
    User Guide, "Fn::ForEach"): one copy of the output per element of the collection (a list, or
    a Ref to a CommaDelimitedList parameter), `${Identifier}` replaced in the output's logical
    ids and in its Fn::Sub strings, and `Ref: Identifier` by the element. `&{Identifier}` (the
    element with its non-alphanumeric characters removed) is not supported: ferry's template
    iterates account ids, which are digits. The sandbox's parameters hold no empty element (a
    stack of the other side has none to iterate)."""
    out: dict = {}
    for key, value in resources.items():
        if not key.startswith("Fn::ForEach::"):
            out[key] = value
            continue
        identifier, collection, outputs = value
        if isinstance(collection, dict):
            (k, ref), = collection.items()
            if k != "Ref":
                raise ValueError(f"{key}: a collection must be a list or a Ref, not {k}")
            collection = params[ref]
        token = "${" + identifier + "}"

        def substitute(v: Any, element: str) -> Any:
            if isinstance(v, dict):
                if v == {"Ref": identifier}:
                    return element
                return {k: substitute(x, element) for k, x in v.items()}
            if isinstance(v, list):
                return [substitute(x, element) for x in v]
            if isinstance(v, str):
                if "&{" + identifier + "}" in v:
                    raise ValueError(f"{key}: &{{{identifier}}} is not supported by the sandbox")
                return v.replace(token, element)
            return v

        for element in collection:
            for logical, resource in outputs.items():
                name = logical.replace(token, str(element))
                if name in out or name in resources:
                    raise ValueError(f"{key}: the logical id {name} exists twice")
                out[name] = substitute(resource, str(element))
    return out


class Resolver:
    """CloudFormation intrinsics (Ref, Fn::Sub, Fn::GetAtt, Fn::Join, Fn::Split, Fn::If) and the
    template's Conditions, for one stack (the primary stack of `side` unless `stack` is given)
    and one partition."""

    def __init__(self, tpl: dict, side: str, partition: str = "aws", stack: Stack | None = None):
        stack = stack or primary(side)
        if stack.side != side:
            raise ValueError(f"the stack in {stack.account} is a {stack.side} stack, not {side}")
        self.tpl = tpl
        self.partition = partition
        self.stack = stack
        self.account = stack.account
        # ARNs among the parameters (SourceKmsKeyArns) are the partition's.
        def in_partition(v: Any) -> Any:
            if isinstance(v, list):
                return [in_partition(x) for x in v]
            return f"arn:{partition}:" + v[len("arn:aws:"):] if isinstance(v, str) and v.startswith("arn:aws:") else v

        self.params = {
            "Side": side,
            **{k: in_partition(v) for k, v in stack.params.items()},
            "AWS::AccountId": self.account,
            "AWS::Region": REGION,
            "AWS::Partition": partition,
        }
        for name, spec in tpl.get("Parameters", {}).items():
            default = spec.get("Default", "")
            if spec.get("Type") == "CommaDelimitedList":
                default = [x for x in default.split(",") if x]
            self.params.setdefault(name, default)
        # The resources as CloudFormation creates them: Fn::ForEach expanded with this stack's
        # parameters (the AWS::LanguageExtensions transform runs before SAM's).
        self.tpl = {**tpl, "Resources": for_each(tpl["Resources"], self.params)}
        self.conditions: dict[str, bool] = {}
        for name, expr in tpl.get("Conditions", {}).items():
            self.conditions[name] = self.condition(expr)

    def condition(self, expr: Any) -> bool:
        """A Conditions entry: Fn::Equals, Fn::Not, Fn::And, Fn::Or and Condition."""
        (k, arg), = expr.items()
        if k == "Condition":
            return self.conditions[arg] if arg in self.conditions else self.condition(self.tpl["Conditions"][arg])
        if k == "Fn::Equals":
            a, b = (self.value(x) for x in arg)
            return str(a) == str(b)
        if k == "Fn::Not":
            return not self.condition(arg[0])
        if k == "Fn::And":
            return all(self.condition(x) for x in arg)
        if k == "Fn::Or":
            return any(self.condition(x) for x in arg)
        raise ValueError(f"condition {k} is not supported by the sandbox")

    def included(self, resource: dict) -> bool:
        return self.conditions.get(resource.get("Condition"), True) if "Condition" in resource else True

    def name_of(self, logical: str) -> str:
        r = self.tpl["Resources"][logical]
        p = r.get("Properties", {})
        for key in ("BucketName", "RoleName", "FunctionName", "ManagedPolicyName", "QueueName", "LogGroupName", "Name"):
            if key in p:
                return self.value(p[key])
        raise ValueError(f"{logical} has no fixed name")

    def arn_of(self, logical: str) -> str:
        r = self.tpl["Resources"][logical]
        name = self.name_of(logical)
        t = r["Type"]
        if t == "AWS::S3::Bucket":
            return f"arn:{self.partition}:s3:::{name}"
        if t == "AWS::IAM::Role":
            return f"arn:{self.partition}:iam::{self.account}:role{r['Properties'].get('Path', '/')}{name}"
        if t == "AWS::Serverless::Function":
            return f"arn:{self.partition}:lambda:{REGION}:{self.account}:function:{name}"
        if t == "AWS::Serverless::StateMachine":
            return f"arn:{self.partition}:states:{REGION}:{self.account}:stateMachine:{name}"
        if t == "AWS::SQS::Queue":
            return f"arn:{self.partition}:sqs:{REGION}:{self.account}:{name}"
        if t == "AWS::IAM::ManagedPolicy":
            return f"arn:{self.partition}:iam::{self.account}:policy{r['Properties'].get('Path', '/')}{name}"
        if t == "AWS::SSM::Parameter":
            return f"arn:{self.partition}:ssm:{REGION}:{self.account}:parameter/{name}"
        if t == "AWS::Logs::LogGroup":
            return f"arn:{self.partition}:logs:{REGION}:{self.account}:log-group:{name}:*"
        raise ValueError(f"no ARN for {t}")

    def _sub(self, text: str, extra: dict) -> str:
        def one(m: re.Match) -> str:
            ref = m.group(1)
            if ref in extra:
                return str(self.value(extra[ref]))
            if "." in ref:
                logical, attr = ref.split(".", 1)
                return self.arn_of(logical) if attr == "Arn" else self.name_of(logical)
            if ref in self.params:
                return str(self.params[ref])
            return self.name_of(ref)

        return re.sub(r"\$\{([A-Za-z0-9:._]+)\}", one, text)

    def value(self, v: Any) -> Any:
        if isinstance(v, dict) and len(v) == 1:
            (k, arg), = v.items()
            if k == "Ref":
                if arg == "AWS::NoValue":
                    return NO_VALUE
                if arg in self.params:
                    return self.params[arg]
                # CloudFormation's Ref of a managed policy is its ARN; of the others, the name.
                if self.tpl["Resources"][arg]["Type"] == "AWS::IAM::ManagedPolicy":
                    return self.arn_of(arg)
                return self.name_of(arg)
            if k == "Fn::Sub":
                return self._sub(arg, {}) if isinstance(arg, str) else self._sub(arg[0], arg[1])
            if k == "Fn::GetAtt":
                logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.arn_of(logical) if attr == "Arn" else self.name_of(logical)
            if k == "Fn::Join":
                return arg[0].join(str(x) for x in self.value(arg[1]))
            if k == "Fn::Split":
                return str(self.value(arg[1])).split(arg[0])
            if k == "Fn::If":
                return self.value(arg[1] if self.conditions[arg[0]] else arg[2])
        if isinstance(v, dict):
            return {k: x for k, x in ((k, self.value(x)) for k, x in v.items()) if x is not NO_VALUE}
        if isinstance(v, list):
            return [x for x in (self.value(x) for x in v) if x is not NO_VALUE]
        return v


def main(argv: list[str]) -> int:
    """`python -m sandbox.template TEMPLATE OUT`: writes the definition (substitutions left as
    they are) to OUT as JSON, for statelint. With `--decoded` first, writes the whole decoded
    template instead (intrinsics as {"Fn::Sub": ...} objects), for the Rust template test. With
    `--policies TEMPLATE DIR`, writes every inline identity policy into DIR, for parliament."""
    if argv[1] == "--decoded":
        with open(argv[3], "w") as f:
            json.dump(load(argv[2]), f, indent=2, default=str)
        return 0
    if argv[1] == "--policies":
        import os

        os.makedirs(argv[3], exist_ok=True)
        for name, doc in inline_policies(load(argv[2])).items():
            with open(os.path.join(argv[3], name), "w") as f:
                json.dump(doc, f, indent=2)
        return 0
    template_path, out = argv[1], argv[2]
    with open(out, "w") as f:
        json.dump(definition(load(template_path)), f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
