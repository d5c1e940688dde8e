"""Every payload the sandbox sends or writes in AWS's place, kept for the conformance test
(`tests/tests/suite/contract.rs`), which compares each one with AWS's own payloads of its kind in
the contract corpus (`shared/fixtures/contract/`). Read through the control API
(`GET /captured`): the first few of each kind, so that a long run keeps a bounded list."""

import copy
import threading
from typing import Any

# Enough of each kind to see every shape the sandbox makes (schema 1.0 and 2.0, successes and
# failures), bounded so that a 20,000-object run does not grow the list.
PER_KIND = 50

_lock = threading.Lock()
_captured: dict[str, list[Any]] = {}


def record(kind: str, payload: Any) -> None:
    with _lock:
        kept = _captured.setdefault(kind, [])
        if len(kept) < PER_KIND:
            kept.append(copy.deepcopy(payload))


def captured() -> dict[str, list[Any]]:
    with _lock:
        return copy.deepcopy(_captured)
