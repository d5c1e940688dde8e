"""template.yaml resolved as CloudFormation would resolve it, checked for what IAM and the
partitions require: every ARN in the stack's partition, the state machine's role for ferry's
state machine only, and a boundary that keeps every role ferry creates in its accounts."""

import json
import os
import re
import unittest

from . import policy, template

TEMPLATE = os.path.join(os.path.dirname(__file__), "..", "..", "template.yaml")
ARN = re.compile(r"arn:([a-z-]*):")


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


class Template(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tpl = template.load(TEMPLATE)

    def resolved(self, side, partition="aws"):
        res = template.Resolver(self.tpl, side, partition)
        out = {}
        for logical, r in self.tpl["Resources"].items():
            if res.included(r):
                out[logical] = res.value(r.get("Properties", {}))
        out["Globals"] = res.value(self.tpl["Globals"])
        if "StateMachine" in out:
            values = out["StateMachine"]["DefinitionSubstitutions"]
            out["StateMachine"]["Definition"] = template.definition(self.tpl, values)
        return out

    def test_every_arn_is_in_the_stacks_partition(self):
        for partition in ("aws", "aws-cn", "aws-us-gov"):
            for side in ("destination", "source"):
                found = [(s, m) for s in strings(self.resolved(side, partition)) for m in ARN.findall(s)]
                self.assertGreater(len(found), 30 if side == "destination" else 5, side)
                wrong = sorted({s for s, m in found if m != partition})
                self.assertEqual(wrong, [], f"{side} in {partition}: ARNs outside the partition")

    def test_only_ferrys_state_machine_may_assume_its_role(self):
        role = self.resolved("destination")["StateMachineRole"]
        trust = role["AssumeRolePolicyDocument"]
        arn = f"arn:aws:iam::{template.DESTINATION}:role/{role['RoleName']}"
        ferry = f"arn:aws:states:{template.REGION}:{template.DESTINATION}:stateMachine:ferry"

        def may(source_arn, source_account=template.DESTINATION):
            ctx = {"aws:SourceArn": source_arn, "aws:SourceAccount": source_account}
            return policy.service_allowed(trust, "states.amazonaws.com", "sts:AssumeRole", arn, ctx, template.DESTINATION).allowed

        self.assertTrue(may(ferry))
        self.assertFalse(may(ferry.replace(":ferry", ":my-own-state-machine")))
        self.assertFalse(may(ferry.replace(template.DESTINATION, "333333333333"), "333333333333"))
        self.assertFalse(policy.service_allowed(trust, "states.amazonaws.com", "sts:AssumeRole", arn, {}, template.DESTINATION).allowed)

    def test_the_boundary_keeps_writes_in_the_destination_and_reads_in_the_copys_accounts(self):
        boundary = self.resolved("destination")["PermissionsBoundary"]["PolicyDocument"]
        everything = [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}]
        role = f"arn:aws:iam::{template.DESTINATION}:role/ferry/ferry-batch-x"
        # A bucket policy of the third account that lets the destination account in.
        open_door = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{template.DESTINATION}:root"}, "Action": "s3:*", "Resource": "*"}]}

        def may(action, account, key="k"):
            return policy.allowed(
                action=action, resource=f"arn:aws:s3:::bucket-of-{account}/{key}", caller_arn=role,
                caller_account=template.DESTINATION, identity_policies=everything, boundary=boundary,
                resource_account=account, bucket_policy=json.dumps(open_door),
            ).allowed

        self.assertTrue(may("s3:PutObject", template.DESTINATION))
        self.assertFalse(may("s3:PutObject", template.SOURCE))
        self.assertFalse(may("s3:PutObject", "333333333333"))
        self.assertTrue(may("s3:GetObject", template.SOURCE))
        self.assertTrue(may("s3:GetObject", template.DESTINATION))
        self.assertFalse(may("s3:GetObject", "333333333333"))


if __name__ == "__main__":
    unittest.main()
