"""Propagation delay: a new grant takes effect only some seconds after it is made.

AWS's sources (docs/src/contributing/sandbox-facts.md):
- IAM User Guide, troubleshoot_general, "Changes that I make are not always immediately
  visible": any change "takes time to become visible from all possible endpoints ... Such
  changes include creating or updating users, groups, roles, or policies"; no bound is given.
- KMS Developer Guide, grants, "Eventual consistency (for grants)": "there might be a brief
  delay, usually less than five minutes ... If you try to ... use the permissions in a new grant
  before the grant is known throughout AWS KMS, you might get an access denied error."
- S3 User Guide, Welcome, consistency model: "Bucket configurations have an eventual
  consistency model" (its examples are deletion and versioning; no page names bucket policies,
  so the sandbox reads them as the other configurations: the reading ferry must survive).

The sandbox models the additions, which is what fails copies: with `POST /propagation
{"seconds": n}`, a statement added to a bucket policy or a role's inline policy, and a KMS grant,
are in effect only n seconds after the change (a new role's policies too, so a new role allows
nothing for n seconds). Removals take effect at once: a delayed removal only widens access,
and no test may pass because of it. What was in place when the delay is set is in effect.
Not modelled: the trust policy of a new role (AssumeRole of it).
"""

import json
import threading
import time
from typing import Any

_LOCK = threading.Lock()
_SECONDS = 0.0
# (kind, id) -> the documents it has had since the delay was set, oldest first, each with the
# time it was written; the first is what was there before (in effect since then).
_HISTORY: dict[tuple, list[tuple[float, Any]]] = {}
# Grants made (KMS grant id -> time) since the delay was set.
_GRANTS: dict[str, float] = {}


def set_delay(seconds: float) -> None:
    """From now on, additions take effect `seconds` after they are made."""
    global _SECONDS
    with _LOCK:
        _SECONDS = max(0.0, float(seconds))
        _HISTORY.clear()
        _GRANTS.clear()


def delay() -> float:
    return _SECONDS


def record(kind: str, ident: Any, previous: Any, current: Any) -> None:
    """A document of `kind` (`bucket-policy`, `role-policy`) changed from `previous` to
    `current` (None: there is none)."""
    if _SECONDS <= 0:
        return
    now = time.time()
    with _LOCK:
        history = _HISTORY.setdefault((kind, ident), [(0.0, previous)])
        history.append((now, current))


def record_grant(grant_id: str) -> None:
    if _SECONDS > 0:
        with _LOCK:
            _GRANTS.setdefault(grant_id, time.time())


def grant_in_effect(grant_id: str) -> bool:
    with _LOCK:
        made = _GRANTS.get(grant_id)
    return made is None or time.time() - made >= _SECONDS


def _statements(document: Any) -> list:
    if document is None:
        return []
    doc = json.loads(document) if isinstance(document, (str, bytes)) else document
    found = doc.get("Statement", [])
    return found if isinstance(found, list) else [found]


def _canonical(statement: Any) -> str:
    return json.dumps(statement, sort_keys=True)


def effective(kind: str, ident: Any, current: Any) -> Any:
    """`current` as it is in effect now: only its statements that have been in every version of
    the document since the one in effect `delay()` seconds ago (that one included)."""
    with _LOCK:
        history = list(_HISTORY.get((kind, ident), []))
    if not history or current is None:
        return current
    cutoff = time.time() - _SECONDS
    start = max(i for i, (at, _) in enumerate(history) if at <= cutoff)  # the first is at 0
    if start == len(history) - 1:
        return current  # the last change is in effect
    lasting = None
    for _, document in history[start:]:
        seen = {_canonical(s) for s in _statements(document)}
        lasting = seen if lasting is None else lasting & seen
    kept = [s for s in _statements(current) if _canonical(s) in (lasting or set())]
    doc = json.loads(current) if isinstance(current, (str, bytes)) else dict(current)
    doc["Statement"] = kept
    return json.dumps(doc) if isinstance(current, (str, bytes)) else doc


def install() -> None:
    """Records the changes as moto makes them: bucket policies (S3), role inline policies (IAM),
    KMS grants."""
    from moto.iam.models import IAMBackend
    from moto.kms.models import KmsBackend
    from moto.s3.models import S3Backend

    if getattr(S3Backend, "_ferry_propagation", False):
        return

    def policy_of(backend: Any, bucket: str) -> Any:
        try:
            return backend.get_bucket(bucket).policy
        except Exception:
            return None

    put_bucket_policy, delete_bucket_policy = S3Backend.put_bucket_policy, S3Backend.delete_bucket_policy

    def put_bucket(self: Any, bucket_name: str, policy: bytes) -> None:
        previous = policy_of(self, bucket_name)
        put_bucket_policy(self, bucket_name, policy)
        record("bucket-policy", bucket_name, previous, policy)

    def delete_bucket(self: Any, bucket_name: str) -> None:
        previous = policy_of(self, bucket_name)
        delete_bucket_policy(self, bucket_name)
        record("bucket-policy", bucket_name, previous, None)

    S3Backend.put_bucket_policy, S3Backend.delete_bucket_policy = put_bucket, delete_bucket

    put_role_policy, delete_role_policy = IAMBackend.put_role_policy, IAMBackend.delete_role_policy

    def put_role(self: Any, role_name: str, policy_name: str, policy_json: str) -> None:
        role = self.get_role(role_name)
        previous = role.policies.get(policy_name)
        put_role_policy(self, role_name, policy_name, policy_json)
        record("role-policy", (role.id, policy_name), previous, role.policies.get(policy_name))

    def delete_role(self: Any, role_name: str, policy_name: str) -> None:
        role = self.get_role(role_name)
        previous = role.policies.get(policy_name)
        delete_role_policy(self, role_name, policy_name)
        record("role-policy", (role.id, policy_name), previous, None)

    IAMBackend.put_role_policy, IAMBackend.delete_role_policy = put_role, delete_role

    create_grant = KmsBackend.create_grant

    def grant(self: Any, *args: Any, **kwargs: Any) -> tuple[str, str]:
        grant_id, token = create_grant(self, *args, **kwargs)
        record_grant(grant_id)
        return grant_id, token

    KmsBackend.create_grant = grant
    S3Backend._ferry_propagation = True
