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
import json
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable, TextIO

from . import archive, batch, inventory, kms, patches, propagation, template
from .patches import Routing, check_moto
from .template import ACCOUNTS, DESTINATION, REGION, SOURCE_KEY, SOURCE_KEY_WITHOUT_GRANTS, STACKS
from .bootstrap import bootstrap, function_credentials, sandbox_admins, source_keys
from .control import StatusEvents, control_server
from .world import World, free_port


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
    patches.install_execution_history_pages()
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
    archive.install()
    kms.install_idempotent_grants()
    propagation.install()
    source_keys(world)
    # The topic DESTINATION's stack names in NotificationTopicArn (the operator's, not the stack's).
    world.client("sns", DESTINATION).create_topic(Name=template.NOTIFICATION_TOPIC.rsplit(":", 1)[1])
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
