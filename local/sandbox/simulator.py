"""IAM's policy simulator, `SimulateCustomPolicy`, answered by the sandbox's own evaluator
(policy.py), so that ferry's preflight runs in the sandbox as it does on AWS.

What it follows (the IAM API reference, botocore's iam/2010-05-08 model; docs/src/contributing/sandbox-facts.md):
- PolicyInputList and ActionNames are required; a ResourcePolicy needs a CallerArn, "the ARN of
  the IAM user, group, or role ... You cannot specify the ARN of an assumed role, federated user,
  or a service principal" (the model before July 2026 allowed only a user: the reading that
  refuses more is not taken, since ferry's callers are roles; a user ARN is accepted too).
- ResourceOwner (`arn:aws:iam::<account>:root`) is the owner of a resource whose ARN does not name
  it (S3 buckets and objects), and of the ResourcePolicy; without it, CallerArn's account.
- "The policy simulator doesn't consider real context key values": the context is exactly the
  ContextEntries given, nothing added. A key a statement's condition needs and is not given is
  listed in MissingContextValues (the model: "A list of context keys that are required by the
  included input policies but that were not provided").
- EvalDecision is `allowed`, `explicitDeny` or `implicitDeny`; on an explicit deny "the deny
  statement is the only entry included in the result" of MatchedStatements; each matched
  statement is named by SourcePolicyId, SourcePolicyType (`user`, `resource`, ...) and its
  StartPosition and EndPosition (Line, Column). AWS does not say whether they count from 0 or 1:
  the sandbox counts from 1, and ferry reads them either way.
- One EvaluationResult per action, its decision the most restrictive of its resources', and
  ResourceSpecificResults per resource (the current model).
"""

import json
import xml.etree.ElementTree as ET
from typing import Any

from . import policy
from .policy import DENY, Principal, Request

NS = "https://iam.amazonaws.com/doc/2010-05-08/"

# ContextKeyType: which types are lists (stringList, ...), and how a value is written in the context.
LIST_TYPES = {"stringList", "numericList", "booleanList", "ipList", "binaryList", "dateList"}


class InvalidInput(Exception):
    """IAM's InvalidInput (400): "an invalid or out-of-range value was supplied for an input parameter"."""


def members(params: dict, name: str) -> list[str]:
    """`Name.member.1`, `Name.member.2`, ... of an awsQuery request, in order."""
    out, i = [], 1
    while f"{name}.member.{i}" in params:
        out.append(params[f"{name}.member.{i}"])
        i += 1
    return out


def context_of(params: dict) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    i = 1
    while f"ContextEntries.member.{i}.ContextKeyName" in params:
        base = f"ContextEntries.member.{i}"
        values = members(params, f"{base}.ContextKeyValues")
        kind = params.get(f"{base}.ContextKeyType", "string")
        ctx[params[f"{base}.ContextKeyName"]] = values if kind in LIST_TYPES else (values[0] if values else "")
        i += 1
    return ctx


def statement_spans(text: str) -> list[tuple[dict, tuple[int, int], tuple[int, int]]]:
    """Each statement of a policy text with its start and end (line, column), counted from 1."""
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise InvalidInput("a policy is not a JSON object")
    decoder = json.JSONDecoder()

    def position(offset: int) -> tuple[int, int]:
        line = text.count("\n", 0, offset) + 1
        return line, offset - (text.rfind("\n", 0, offset) + 1) + 1

    key = text.find('"Statement"')
    at = text.index(":", key) + 1 if key >= 0 else -1
    spans = []
    while 0 <= at < len(text) and text[at].isspace():
        at += 1
    if at < 0 or at >= len(text):
        return []
    if text[at] == "{":
        stmt, end = decoder.raw_decode(text, at)
        return [(stmt, position(at), position(end - 1))]
    at += 1  # past "["
    while True:
        while text[at].isspace() or text[at] == ",":
            at += 1
        if text[at] == "]":
            return spans
        stmt, end = decoder.raw_decode(text, at)
        spans.append((stmt, position(at), position(end - 1)))
        at = end


def condition_keys(stmt: dict) -> list[str]:
    keys = []
    for block in (stmt.get("Condition") or {}).values():
        if isinstance(block, dict):
            keys.extend(block)
    return keys


def _matched(policies: list[tuple[str, str, str]], request: Request) -> tuple[list[dict], list[str]]:
    """The statements of `policies` ((id, type, text)) that apply to `request`, and the context
    keys their conditions name that `request` lacks (in statements whose action, resource and
    principal match)."""
    matched, missing = [], []
    for policy_id, policy_type, text in policies:
        kind = "resource" if policy_type == "resource" else "identity"
        variables = json.loads(text).get("Version") == "2012-10-17"
        for stmt, start, end in statement_spans(text):
            without = {k: v for k, v in stmt.items() if k != "Condition"}
            if policy.statement_applies(without, request, kind, variables) is not None:
                missing.extend(k for k in condition_keys(stmt) if k not in request.context and k not in missing)
            if policy.statement_applies(stmt, request, kind, variables) is not None:
                matched.append({"SourcePolicyId": policy_id, "SourcePolicyType": policy_type, "Effect": stmt.get("Effect"),
                                "StartPosition": start, "EndPosition": end})
    return matched, missing


def simulate(params: dict) -> list[dict]:
    """The EvaluationResults of one SimulateCustomPolicy request (awsQuery parameters)."""
    identities = members(params, "PolicyInputList")
    actions = members(params, "ActionNames")
    if not identities or not actions:
        raise InvalidInput("PolicyInputList and ActionNames are required")
    boundaries = members(params, "PermissionsBoundaryPolicyInputList")
    if len(boundaries) > 1:
        raise InvalidInput("You can input only one permissions boundary")
    resource_policy = params.get("ResourcePolicy")
    caller = params.get("CallerArn", "")
    if resource_policy is not None and not caller:
        raise InvalidInput("CallerArn is required if you include a ResourcePolicy")
    if caller and (":assumed-role/" in caller or ":federated-user/" in caller or ":iam::" not in caller):
        raise InvalidInput(f"CallerArn {caller} is not the ARN of an IAM user, group, or role")
    caller_account = caller.split(":")[4] if caller else ""
    owner = params.get("ResourceOwner", "")
    resource_account = owner.split(":")[4] if owner else caller_account
    principal = Principal.role(caller, "simulated") if ":role/" in caller else Principal(caller_account, caller, caller, type="User")
    context = context_of(params)
    try:
        policies = [(f"PolicyInputList.{i}", "user", p) for i, p in enumerate(identities, 1)]
        boundary = [("PermissionsBoundaryPolicyInputList.1", "user", boundaries[0])] if boundaries else []
        resource = [("ResourcePolicy", "resource", resource_policy)] if resource_policy is not None else []
        parsed = [json.loads(p) for p in identities]
        bound_doc = json.loads(boundaries[0]) if boundaries else None
        resource_doc = json.loads(resource_policy) if resource_policy is not None else None
    except json.JSONDecodeError as e:
        raise InvalidInput(f"a policy is not JSON: {e}") from None
    results = []
    for action in actions:
        per_resource = []
        for arn in members(params, "ResourceArns") or ["*"]:
            request = Request(principal, action, arn, resource_account, dict(context))
            outcome = policy.authorize(request, parsed, bound_doc, resource_doc)
            matched, missing = _matched(policies + boundary + resource, request)
            if outcome.allowed:
                decision = "allowed"
                shown = [m for m in matched if m["Effect"] != DENY]
            elif outcome.explicit:
                decision = "explicitDeny"
                shown = [m for m in matched if m["Effect"] == DENY][:1]
            else:
                decision = "implicitDeny"
                shown = []
            within = not boundary or policy.decide_policies([bound_doc], request, "identity").effect == policy.ALLOW
            per_resource.append({"EvalResourceName": arn, "EvalResourceDecision": decision, "MatchedStatements": shown,
                                 "MissingContextValues": missing, "AllowedByPermissionsBoundary": within})
        order = ["explicitDeny", "implicitDeny", "allowed"]
        worst = min(per_resource, key=lambda r: order.index(r["EvalResourceDecision"]))
        results.append({"EvalActionName": action, "EvalResourceName": worst["EvalResourceName"],
                        "EvalDecision": worst["EvalResourceDecision"], "MatchedStatements": worst["MatchedStatements"],
                        "MissingContextValues": worst["MissingContextValues"], "Boundary": bool(boundary),
                        "AllowedByPermissionsBoundary": worst["AllowedByPermissionsBoundary"], "ResourceSpecificResults": per_resource})
    return results


def _statements_xml(parent: ET.Element, matched: list[dict]) -> None:
    node = ET.SubElement(parent, "MatchedStatements")
    for m in matched:
        member = ET.SubElement(node, "member")
        ET.SubElement(member, "SourcePolicyId").text = m["SourcePolicyId"]
        ET.SubElement(member, "SourcePolicyType").text = m["SourcePolicyType"]
        for tag in ("StartPosition", "EndPosition"):
            pos = ET.SubElement(member, tag)
            ET.SubElement(pos, "Line").text = str(m[tag][0])
            ET.SubElement(pos, "Column").text = str(m[tag][1])


def _missing_xml(parent: ET.Element, keys: list[str]) -> None:
    node = ET.SubElement(parent, "MissingContextValues")
    for k in keys:
        ET.SubElement(node, "member").text = k


def response(params: dict) -> tuple[str, bytes]:
    """The HTTP status and XML body IAM answers a SimulateCustomPolicy request with."""
    try:
        results = simulate(params)
    except (InvalidInput, policy.Undecidable) as e:
        code = "InvalidInput" if isinstance(e, InvalidInput) else "PolicyEvaluation"
        root = ET.Element("ErrorResponse", xmlns=NS)
        err = ET.SubElement(root, "Error")
        for tag, text in (("Type", "Sender"), ("Code", code), ("Message", str(e))):
            ET.SubElement(err, tag).text = text
        return ("400 Bad Request" if code == "InvalidInput" else "500 Internal Server Error"), ET.tostring(root)
    root = ET.Element("SimulateCustomPolicyResponse", xmlns=NS)
    result = ET.SubElement(root, "SimulateCustomPolicyResult")
    ET.SubElement(result, "IsTruncated").text = "false"
    evaluations = ET.SubElement(result, "EvaluationResults")
    for r in results:
        member = ET.SubElement(evaluations, "member")
        for tag in ("EvalActionName", "EvalResourceName", "EvalDecision"):
            ET.SubElement(member, tag).text = r[tag]
        _statements_xml(member, r["MatchedStatements"])
        _missing_xml(member, r["MissingContextValues"])
        if r["Boundary"]:
            detail = ET.SubElement(member, "PermissionsBoundaryDecisionDetail")
            ET.SubElement(detail, "AllowedByPermissionsBoundary").text = str(r["AllowedByPermissionsBoundary"]).lower()
        specific = ET.SubElement(member, "ResourceSpecificResults")
        for s in r["ResourceSpecificResults"]:
            node = ET.SubElement(specific, "member")
            ET.SubElement(node, "EvalResourceName").text = s["EvalResourceName"]
            ET.SubElement(node, "EvalResourceDecision").text = s["EvalResourceDecision"]
            _statements_xml(node, s["MatchedStatements"])
            _missing_xml(node, s["MissingContextValues"])
    ET.SubElement(ET.SubElement(root, "ResponseMetadata"), "RequestId").text = "00000000-0000-4000-8000-000000000000"
    return "200 OK", ET.tostring(root)
