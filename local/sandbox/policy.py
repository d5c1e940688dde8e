"""IAM policy evaluation for the sandbox, written from AWS's documented policy language and
evaluation logic (IAM User Guide: "Policy evaluation logic", "IAM JSON policy elements",
"Condition operators", "Policy variables"), never from ferry-core.

What it decides, for one request (principal, action, resource, context):
- an explicit Deny in any policy wins;
- the caller's identity policies must Allow, within its permissions boundary if it has one;
- a resource policy (bucket policy, trust policy) may Allow too: within one account either
  Allow is enough (an Allow that names only the account delegates to the identity policies);
  across accounts both are needed.

The whole policy language: `Principal`/`NotPrincipal`, `Action`/`NotAction`,
`Resource`/`NotResource`, single-object or array `Statement`s, string-or-list values, wildcards
(`*`, `?`; ARNs matched segment by segment), policy variables with defaults and the `${*}`,
`${?}`, `${$}` escapes (only in `Version: 2012-10-17` policies), and every condition operator of
the IAM reference with its `...IfExists` form and the `ForAnyValue:` / `ForAllValues:` set
operators. Anything else (an operator it does not know, a malformed element) raises
`Undecidable`, which every caller turns into a denial that names the element: it never allows
what it cannot decide.

A differential suite (local/oracle) compares these decisions with an independent simulator.
"""

import base64
import ipaddress
import json
import operator
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

ALLOW, DENY, NONE = "Allow", "Deny", "None"


class Undecidable(Exception):
    """A policy element the sandbox cannot evaluate; the request is denied, naming it."""



# ---- the request ----


@dataclass
class Principal:
    """Who calls. `arn` is the principal's ARN as policies name it (a role's ARN, path included,
    for an assumed-role session), `session_arn` the STS session ARN, `service` an AWS service
    principal (`s3.amazonaws.com`) calling on its own."""

    account: str = ""
    arn: str = ""
    session_arn: str = ""
    service: str = ""
    type: str = "AssumedRole"

    @staticmethod
    def role(role_arn: str, session: str = "session") -> "Principal":
        account = role_arn.split(":")[4]
        name = role_arn.rsplit("/", 1)[-1]
        return Principal(account, role_arn, f"arn:aws:sts::{account}:assumed-role/{name}/{session}")

    @staticmethod
    def of_service(service: str) -> "Principal":
        return Principal(service=service, type="Service")

    def describe(self) -> str:
        return self.service or self.session_arn or self.arn


@dataclass
class Request:
    principal: Principal
    action: str
    resource: str
    resource_account: str
    context: dict[str, Any] = field(default_factory=dict)


def base_context(principal: Principal, resource_account: str = "", source_ip: str = "127.0.0.1") -> dict[str, Any]:
    """The keys AWS puts in every request of a principal on this machine: TLS, the source IP,
    the principal's ARN, account and type, the current time. No aws:PrincipalOrgID and no
    aws:SourceVpce: the sandbox's accounts belong to no organization and reach S3 through no
    VPC endpoint (a test may add either)."""
    now = datetime.now(timezone.utc)
    ctx: dict[str, Any] = {
        "aws:SecureTransport": "true",
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
    }
    if principal.service:
        ctx["aws:PrincipalServiceName"] = principal.service
        return ctx
    ctx.update({
        "aws:SourceIp": source_ip,
        "aws:PrincipalArn": principal.arn,
        "aws:PrincipalAccount": principal.account,
        "aws:PrincipalType": principal.type,
        "aws:ViaAWSService": "false",
    })
    if principal.session_arn:
        ctx["aws:userid"] = "AROA" + principal.arn.rsplit("/", 1)[-1].upper()[:17] + ":" + principal.session_arn.rsplit("/", 1)[-1]
    if resource_account:
        ctx["aws:ResourceAccount"] = resource_account
    return ctx


# ---- policy documents ----


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def document(policy: str | dict | None) -> dict:
    if policy is None:
        return {}
    doc = json.loads(policy) if isinstance(policy, (str, bytes)) else policy
    if not isinstance(doc, dict):
        raise Undecidable("a policy that is not a JSON object")
    return doc


def statements(policy: str | dict | None) -> list[dict]:
    doc = document(policy)
    found = as_list(doc.get("Statement"))
    for s in found:
        if not isinstance(s, dict):
            raise Undecidable("a Statement that is not an object")
    return found


# ---- wildcards, variables, ARNs ----

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_STAR, _QUESTION = object(), object()


class _Missing(Exception):
    """A policy variable whose key the request lacks (and that gives no default)."""


def _tokens(text: str, context: dict, variables: bool) -> list:
    """`text` as literal strings and wildcard markers, with policy variables substituted (a
    substituted value is literal: its `*` is not a wildcard)."""
    out: list = []
    pos = 0
    matches = list(_VARIABLE.finditer(text)) if variables else []
    for m in matches + [None]:
        end = m.start() if m else len(text)
        for ch in text[pos:end]:
            out.append(_STAR if ch == "*" else _QUESTION if ch == "?" else ch)
        if m is None:
            break
        inner = m.group(1).strip()
        if inner in ("*", "?", "$"):
            out.append(inner)
        else:
            key, _, default = inner.partition(",")
            value = _lookup(context, key.strip())
            if value is None:
                d = default.strip()
                if d.startswith("'") and d.endswith("'") and len(d) >= 2:
                    value = d[1:-1]
                else:
                    raise _Missing(key.strip())
            if isinstance(value, list):
                raise _Missing(key.strip())  # a multivalued key cannot be a variable
            out.extend(str(value))
        pos = m.end()
    return out


def _match_tokens(tokens: list, value: str, ignore_case: bool = False) -> bool:
    parts = []
    for t in tokens:
        if t is _STAR:
            parts.append(".*")
        elif t is _QUESTION:
            parts.append(".")
        else:
            parts.append(re.escape(t))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch("".join(parts), value, flags) is not None


def wildcard(pattern: str, value: str, context: dict | None = None, variables: bool = False, ignore_case: bool = False) -> bool:
    try:
        return _match_tokens(_tokens(pattern, context or {}, variables), value, ignore_case)
    except _Missing:
        return False


def _arn_parts(text: str) -> list[str] | None:
    parts = text.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" else None


def arn_match(pattern: str, arn: str, context: dict | None = None, variables: bool = False) -> bool:
    """IAM's ARN matching: the six colon-separated parts separately, each with wildcards (a
    pattern of `*` alone matches anything)."""
    if pattern == "*":
        return True
    p, a = _arn_parts(pattern), _arn_parts(arn)
    if p is None or a is None:
        return wildcard(pattern, arn, context, variables)
    return all(wildcard(pp, aa, context, variables) for pp, aa in zip(p, a))


def _lookup(context: dict, key: str) -> Any:
    """A context key's value; condition keys are case-insensitive, and a tag key's name too."""
    if key in context:
        return context[key]
    lower = key.lower()
    for k, v in context.items():
        if k.lower() == lower:
            return v
    return None


# ---- the elements of a statement ----


def action_matches(patterns: Any, action: str) -> bool:
    for p in as_list(patterns):
        if not isinstance(p, str):
            raise Undecidable(f"Action {p!r}")
        if p == "*" or wildcard(p, action, ignore_case=True):
            return True
    return False


def resource_matches(patterns: Any, resource: str, context: dict, variables: bool) -> bool | None:
    """Whether a pattern matches; None when a pattern needs a policy variable the request does
    not carry (then the statement does not apply, neither as Resource nor as NotResource)."""
    missing = False
    for p in as_list(patterns):
        if not isinstance(p, str):
            raise Undecidable(f"Resource {p!r}")
        try:
            tokens = _tokens(p, context, variables) if p != "*" else None
        except _Missing:
            missing = True
            continue
        if tokens is None or arn_match(p, resource, context, variables):
            return True
    return None if missing else False


# How a principal element matches the caller: "direct" (names it, or everyone), "account" (names
# only its account: a delegation to the account's own policies), or None.
DIRECT, ACCOUNT = "direct", "account"


def _principal_match(element: Any, caller: Principal) -> str | None:
    if element == "*":
        return DIRECT
    if not isinstance(element, dict):
        raise Undecidable(f"Principal {element!r}")
    best: str | None = None
    for kind, values in element.items():
        for v in as_list(values):
            if not isinstance(v, str):
                raise Undecidable(f"Principal {kind} {v!r}")
            if kind == "Service":
                if caller.service and v == caller.service:
                    return DIRECT
            elif kind == "AWS":
                if v == "*":
                    return DIRECT  # {"AWS": "*"} is everyone, as "*" is: services too
                if caller.service:
                    continue
                if v in (caller.arn, caller.session_arn):
                    return DIRECT
                if caller.session_arn and _role_matches_session(v, caller):
                    return DIRECT
                if v in (caller.account, f"arn:aws:iam::{caller.account}:root"):
                    best = ACCOUNT
            elif kind in ("Federated", "CanonicalUser"):
                continue
            else:
                raise Undecidable(f"Principal type {kind}")
    return best


def _not_principal_excludes(element: Any, caller: Principal, deny: bool) -> bool:
    """Whether a NotPrincipal list spares the caller from its statement. AWS's NotPrincipal page:
    AWS "might validate the account first, then the role, and then the assumed-role user", and a
    list without the account "might deny access to the entire account"; it recommends naming the
    role and its account. The sandbox takes the reading that grants less either way: a Deny spares
    a role's session only when its account and its role (or the session) are both listed; an
    Allow leaves out a caller when any of the three is listed. (The differential suite's simulator
    spares a caller when any one is listed: local/oracle/known-differences.json.) A `*` in the
    list: the page does not say how it is read (every principal excepted, so the statement
    applies to none; or no exception); the sandbox takes the reading that grants less, so a
    Deny applies to everyone and an Allow to no one."""
    if element == "*":
        return not deny
    if not isinstance(element, dict):
        raise Undecidable(f"NotPrincipal {element!r}")
    if "*" in as_list(element.get("AWS")):
        return not deny
    if caller.service:
        return caller.service in as_list(element.get("Service"))
    listed = {v for v in as_list(element.get("AWS")) if isinstance(v, str)}
    account = bool(listed & {caller.account, f"arn:aws:iam::{caller.account}:root"})
    identity = bool(listed & {caller.arn, caller.session_arn}) or any(_role_matches_session(v, caller) for v in listed)
    return (account and identity) if deny else (account or identity)


def _role_matches_session(value: str, caller: Principal) -> bool:
    # A role's ARN names its sessions (a role ARN in a policy has no path once AWS stores it, so
    # both spellings are taken).
    if not caller.arn.startswith(f"arn:aws:iam::{caller.account}:role/"):
        return False
    name = caller.arn.rsplit("/", 1)[-1]
    return value in (caller.arn, f"arn:aws:iam::{caller.account}:role/{name}")


# ---- conditions ----

_NEGATED = {
    "StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals",
    "DateNotEquals", "ArnNotEquals", "ArnNotLike", "NotIpAddress",
}
_OPERATORS = {
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike",
    "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
    "NumericGreaterThan", "NumericGreaterThanEquals",
    "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool", "BinaryEquals", "IpAddress", "NotIpAddress",
    "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike",
    "Null",
}


def _number(text: Any) -> float | None:
    try:
        return float(str(text))
    except ValueError:
        return None


def _date(text: Any) -> datetime | None:
    s = str(text).strip()
    if re.fullmatch(r"-?\d+", s):
        return datetime.fromtimestamp(int(s), timezone.utc)
    try:
        d = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


# Numeric* and Date* by what follows the family's name (a negated operator compares as its
# positive form, and _single negates).
_COMPARISONS = {
    "Equals": operator.eq, "NotEquals": operator.eq, "LessThan": operator.lt,
    "LessThanEquals": operator.le, "GreaterThan": operator.gt, "GreaterThanEquals": operator.ge,
}


def _literal(expected: str, context: dict, variables: bool) -> str | None:
    """A string operator's policy value with its variables substituted (no wildcards: `*` and
    `?` are themselves), or None when a variable is missing."""
    try:
        tokens = _tokens(expected, context, variables)
    except _Missing:
        return None
    return "".join(t if isinstance(t, str) else ("*" if t is _STAR else "?") for t in tokens)


def _positive(base: str, actual: str, expected: str, context: dict, variables: bool) -> bool:
    """The positive form of `base` (StringNotEquals -> StringEquals...) for one pair of values."""
    if base in ("StringEquals", "StringNotEquals"):
        return _literal(expected, context, variables) == actual
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        text = _literal(expected, context, variables)
        return text is not None and text.lower() == actual.lower()
    if base in ("StringLike", "StringNotLike"):
        return wildcard(expected, actual, context, variables)
    if base in ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"):
        return _arn_parts(actual) is not None and arn_match(expected, actual, context, variables)
    for family, parse in (("Numeric", _number), ("Date", _date)):
        if base.startswith(family):
            a, e = parse(actual), parse(expected)
            return a is not None and e is not None and _COMPARISONS[base[len(family):]](a, e)
    if base == "Bool":
        return str(actual).lower() == str(expected).lower()
    if base == "BinaryEquals":
        try:
            return base64.b64decode(str(actual), validate=True) == base64.b64decode(str(expected), validate=True)
        except ValueError:
            return False
    if base in ("IpAddress", "NotIpAddress"):
        try:
            return ipaddress.ip_address(str(actual)) in ipaddress.ip_network(str(expected), strict=False)
        except ValueError:
            return False
    raise Undecidable(f"condition operator {base}")


def _single(base: str, actual: str, expected: list, context: dict, variables: bool) -> bool:
    """One context value against a key's policy values: any match for a positive operator, no
    match for a negated one."""
    hit = any(_positive(base, actual, str(e), context, variables) for e in expected)
    return not hit if base in _NEGATED else hit


def condition_holds(operator: str, key: str, expected: Any, context: dict, variables: bool = True) -> bool:
    values = as_list(expected)
    for v in values:
        if isinstance(v, (dict, list)):
            raise Undecidable(f"condition {operator} {key}: value {v!r}")
    qualifier = ""
    op = operator
    if ":" in op:
        qualifier, op = op.split(":", 1)
        if qualifier not in ("ForAnyValue", "ForAllValues"):
            raise Undecidable(f"condition set operator {qualifier}")
    if_exists = op.endswith("IfExists") and op != "IfExists"
    base = op[: -len("IfExists")] if if_exists else op
    if base not in _OPERATORS:
        raise Undecidable(f"condition operator {operator}")
    actual = _lookup(context, key)
    if base == "Null":
        if if_exists:
            raise Undecidable(f"condition operator {operator}")
        want_absent = str(values[0]).lower() == "true" if values else False
        absent = actual is None or actual == []
        return absent == want_absent
    if actual is None:
        if if_exists:
            return True
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return base in _NEGATED
    actuals = [str(a) for a in as_list(actual)]
    if qualifier == "ForAnyValue":
        return any(_single(base, a, values, context, variables) for a in actuals)
    if qualifier == "ForAllValues":
        return all(_single(base, a, values, context, variables) for a in actuals)
    if isinstance(actual, list):
        # A multivalued key under a single-valued operator: AWS matches when any value matches
        # (for negated operators: when no value matches).
        if base in _NEGATED:
            return all(_single(base, a, values, context, variables) for a in actuals)
        return any(_single(base, a, values, context, variables) for a in actuals)
    return _single(base, actuals[0], values, context, variables)


def conditions_hold(conditions: Any, context: dict, variables: bool = True) -> bool:
    if conditions is None:
        return True
    if not isinstance(conditions, dict):
        raise Undecidable(f"Condition {conditions!r}")
    ok = True
    for operator, keys in conditions.items():
        if not isinstance(keys, dict):
            raise Undecidable(f"condition {operator}: {keys!r}")
        for key, expected in keys.items():
            # Every operator is checked (not short-circuited) so that one the sandbox cannot
            # evaluate is always reported, whatever comes before it.
            if not condition_holds(operator, key, expected, context, variables):
                ok = False
    return ok


# ---- statements and policies ----


def statement_applies(stmt: dict, request: Request, kind: str, variables: bool = True) -> str | None:
    """Whether `stmt` applies to `request`: None, or how its principal matched (DIRECT for
    identity policies and boundaries, which have no principal). `kind` is "identity" or
    "resource"; `variables` whether its policy's version (2012-10-17) has policy variables."""
    known = {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
    for element in stmt:
        if element not in known:
            raise Undecidable(f"statement element {element}")
    if stmt.get("Effect") not in (ALLOW, DENY):
        raise Undecidable(f"Effect {stmt.get('Effect')!r}")
    ctx = request.context
    if "Action" in stmt:
        if not action_matches(stmt["Action"], request.action):
            return None
    elif "NotAction" in stmt:
        if action_matches(stmt["NotAction"], request.action):
            return None
    else:
        raise Undecidable("a statement with neither Action nor NotAction")
    if "Resource" in stmt:
        if not resource_matches(stmt["Resource"], request.resource, ctx, variables):
            return None
    elif "NotResource" in stmt:
        if resource_matches(stmt["NotResource"], request.resource, ctx, variables) is not False:
            return None
    elif kind != "resource":
        raise Undecidable("an identity statement with neither Resource nor NotResource")
    # (A resource policy without Resource is a trust policy: the role is the resource.)
    how: str | None = DIRECT
    if kind == "resource":
        if "Principal" in stmt:
            how = _principal_match(stmt["Principal"], request.principal)
        elif "NotPrincipal" in stmt:
            spared = _not_principal_excludes(stmt["NotPrincipal"], request.principal, stmt.get("Effect") == DENY)
            how = None if spared else DIRECT
        else:
            raise Undecidable("a resource policy statement with neither Principal nor NotPrincipal")
        if how is None:
            # Still evaluate the conditions so that an undecidable one is reported.
            conditions_hold(stmt.get("Condition"), ctx, variables)
            return None
    if not conditions_hold(stmt.get("Condition"), ctx, variables):
        return None
    return how


@dataclass
class Decision:
    effect: str  # ALLOW, DENY or NONE
    how: str | None = None  # for an Allow from a resource policy: DIRECT or ACCOUNT
    sid: str = ""


def decide_policies(policies: list, request: Request, kind: str) -> Decision:
    """The combined effect of one kind of policies (identity, boundary, or a resource policy)."""
    allowed: Decision | None = None
    for policy in policies:
        if policy is None:
            continue
        doc = document(policy)
        variables = doc.get("Version") == "2012-10-17"
        for stmt in statements(doc):
            how = statement_applies(stmt, request, kind, variables)
            if how is None:
                continue
            if stmt["Effect"] == DENY:
                return Decision(DENY, how, stmt.get("Sid", ""))
            if allowed is None or (how == DIRECT and allowed.how != DIRECT):
                allowed = Decision(ALLOW, how, stmt.get("Sid", ""))
    return allowed or Decision(NONE)


@dataclass
class Outcome:
    allowed: bool
    reason: str  # "" when allowed; otherwise AWS's wording, then what decided
    explicit: bool = False

    def __iter__(self):  # (ok, why), as the sandbox's callers unpack it
        return iter((self.allowed, self.reason))


def authorize(
    request: Request,
    identity_policies: list | None = None,
    boundary: str | dict | None = None,
    resource_policy: str | dict | None = None,
) -> Outcome:
    """AWS's evaluation for one request. `identity_policies` None means the caller has no
    identity (an AWS service principal); `boundary` None means no permissions boundary."""
    p = request.principal
    deny_text = f"User: {p.describe()} is not authorized to perform: {request.action} on resource: {request.resource}"
    decided = _decide(request, identity_policies, boundary, resource_policy, "a resource-based policy", deny_text)
    if isinstance(decided, Outcome):
        return decided
    resource, identity, bound = decided
    if p.service:
        if resource.effect == ALLOW:
            return Outcome(True, "")
        return Outcome(False, f"{deny_text} because no resource-based policy allows the {request.action} action")
    within_boundary = bound is None or bound.effect == ALLOW
    identity_ok = identity.effect == ALLOW and within_boundary
    same_account = p.account == request.resource_account
    if request.action.lower().startswith("sts:") and resource_policy is not None:
        # A role's trust policy must allow the caller even within its account: naming the role
        # (or session) is enough, naming the account delegates to the caller's own policies.
        if resource.effect == ALLOW and (resource.how == DIRECT or identity_ok):
            return Outcome(True, "")
        if resource.effect != ALLOW:
            return Outcome(False, f"{deny_text} because the role's trust policy does not allow it")
        return Outcome(False, f"{deny_text} because no identity-based policy allows the {request.action} action")
    if same_account:
        if resource.effect == ALLOW and resource.how == DIRECT:
            # A resource policy that names the role's session (or everyone) is not limited by
            # the boundary; one that names the role is, like the identity policies.
            if bound is None or bound.effect == ALLOW or _names_session(resource_policy, request):
                return Outcome(True, "")
        if identity_ok:
            return Outcome(True, "")
    else:
        if identity_ok and resource.effect == ALLOW:
            return Outcome(True, "")
    if not within_boundary and identity.effect == ALLOW:
        return Outcome(False, f"{deny_text} because no permissions boundary allows the {request.action} action")
    if identity.effect != ALLOW and (same_account or resource.effect == ALLOW):
        return Outcome(False, f"{deny_text} because no identity-based policy allows the {request.action} action")
    if resource_policy is None:
        return Outcome(False, f"{deny_text} because no resource-based policy allows the {request.action} action (the resource in account {request.resource_account} has none)")
    return Outcome(False, f"{deny_text} because no resource-based policy allows the {request.action} action")


def authorize_key(
    request: Request,
    identity_policies: list | None,
    boundary: str | dict | None,
    key_policy: str | dict | None,
    granted: bool,
) -> Outcome:
    """AWS KMS's evaluation for a request on a KMS key (its developer guide, "KMS key access
    and permissions"): the key policy is the primary policy, and unlike other resource policies
    it is required even within the key's account: a key policy that names the principal (or
    everyone, under its conditions) allows on its own; one that names only the account root
    delegates to the principal's IAM policies; no key policy statement, no IAM policy helps.
    Across accounts, the key policy and the caller's IAM policies must both allow ("Allowing
    users in other accounts to use a KMS key"). `granted` says that a grant on the key covers
    the request: within the key's account a grant allows on its own; across accounts the
    sandbox also requires the caller's IAM policies, the reading that grants less (AWS's pages
    stored here do not say whether a cross-account grantee needs them; ferry's roles have them).
    An explicit deny in the key policy, the IAM policies or the boundary always wins."""
    p = request.principal
    deny_text = f"User: {p.describe()} is not authorized to perform: {request.action} on resource: {request.resource}"
    decided = _decide(request, identity_policies, boundary, key_policy, "the key policy", deny_text)
    if isinstance(decided, Outcome):
        return decided
    key, identity, bound = decided
    within_boundary = bound is None or bound.effect == ALLOW
    identity_ok = identity.effect == ALLOW and within_boundary
    if p.account == request.resource_account:
        if key.effect == ALLOW and key.how == DIRECT and (within_boundary or _names_session(key_policy, request)):
            return Outcome(True, "")
        if key.effect == ALLOW and identity_ok:
            return Outcome(True, "")
        if granted:
            return Outcome(True, "")
    elif (key.effect == ALLOW or granted) and identity_ok:
        return Outcome(True, "")
    if key.effect != ALLOW and not granted:
        return Outcome(False, f"{deny_text} because no key policy or grant allows the {request.action} action")
    if not within_boundary and identity.effect == ALLOW:
        return Outcome(False, f"{deny_text} because no permissions boundary allows the {request.action} action")
    return Outcome(False, f"{deny_text} because no identity-based policy allows the {request.action} action")


def _decide(request: Request, identity_policies: list | None, boundary: Any, resource_policy: Any,
            resource_name: str, deny_text: str) -> "tuple[Decision, Decision, Decision | None] | Outcome":
    """The resource policy's, the identity policies' and the boundary's decisions on `request`,
    or the Outcome that ends it first: an element the sandbox cannot evaluate, an explicit deny
    (`resource_name` names the resource policy in the message)."""
    try:
        resource = decide_policies([resource_policy], request, "resource") if resource_policy is not None else Decision(NONE)
        identity = decide_policies(identity_policies or [], request, "identity")
        bound = decide_policies([boundary], request, "identity") if boundary is not None else None
    except Undecidable as e:
        return Outcome(False, f"{deny_text} because the sandbox cannot evaluate {e}, so it denies")
    if identity.effect == DENY:
        return Outcome(False, f"{deny_text} with an explicit deny in an identity-based policy{_sid(identity)}", True)
    if resource.effect == DENY:
        return Outcome(False, f"{deny_text} with an explicit deny in {resource_name}{_sid(resource)}", True)
    if bound is not None and bound.effect == DENY:
        return Outcome(False, f"{deny_text} with an explicit deny in a permissions boundary{_sid(bound)}", True)
    return resource, identity, bound


def _sid(d: Decision) -> str:
    return f" (statement {d.sid})" if d.sid else ""


def _names_session(resource_policy: Any, request: Request) -> bool:
    p = request.principal
    doc = document(resource_policy)
    variables = doc.get("Version") == "2012-10-17"
    for stmt in statements(doc):
        if stmt.get("Effect") == ALLOW and isinstance(stmt.get("Principal"), dict):
            if p.session_arn in as_list(stmt["Principal"].get("AWS")):
                return statement_applies(stmt, request, "resource", variables) is not None
    return False


# ---- the sandbox's entry points ----


def allowed(
    *,
    action: str,
    resource: str,
    caller_arn: str,
    caller_account: str,
    identity_policies: list,
    boundary: str | dict | None,
    resource_account: str,
    bucket_policy: str | None,
    context: dict | None = None,
) -> Outcome:
    """Whether a role's session may do `action` on `resource` (S3 Batch Operations tasks, which
    run as the job's role), and why not."""
    principal = Principal.role(caller_arn, "s3-batch-operations") if ":role/" in caller_arn else Principal(caller_account, caller_arn)
    ctx = base_context(principal, resource_account)
    ctx["s3:ResourceAccount"] = resource_account
    ctx.update(context or {})
    return authorize(Request(principal, action, resource, resource_account, ctx), identity_policies, boundary, bucket_policy)


def service_allowed(resource_policy: Any, service: str, action: str, resource: str, context: dict, resource_account: str = "") -> Outcome:
    """Whether a resource policy (a bucket policy, a role's trust policy) lets an AWS service
    principal do `action` (services have no identity policy: the resource policy alone decides)."""
    principal = Principal.of_service(service)
    ctx = {**base_context(principal), **context}
    return authorize(Request(principal, action, resource, resource_account, ctx), None, None, resource_policy or {"Statement": []})
