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

    def resolved(self, side, partition="aws", stack=None):
        res = template.Resolver(self.tpl, side, partition, stack)
        out = {}
        for logical, r in res.tpl["Resources"].items():
            if res.included(r):
                out[logical] = res.value(r.get("Properties", {}))
        out["Globals"] = res.value(self.tpl["Globals"])
        if "StateMachine" in out:
            values = out["StateMachine"]["DefinitionSubstitutions"]
            out["StateMachine"]["Definition"] = template.definition(self.tpl, values)
        return out

    def test_the_stacks_fit_aws_limits_at_the_sizes_organisations_have(self):
        """200 source buckets (their names as long as CloudFormation's 4,096-byte parameter value
        lets 200 be: 19 characters), 35 destination buckets and 5 manifest buckets of 63
        characters (S3's longest; the permissions boundary names each of these 40, and holds
        about 41 such names), 20 source and destination accounts, 20 KMS keys. Every limit
        AWS sets on what the template renders holds, measured as AWS measures it:
        - a CloudFormation parameter value, 4,096 bytes (CloudFormation quotas);
        - a standard SSM parameter's value, 4 KB (SSM API, PutParameter `Value`);
        - a function's environment, 4 KB in all, names and values (Lambda quotas);
        - a role's inline policies, 10,240 characters together, white space not counted (IAM
          User Guide, policy grammar: "between 2048 characters and 10,240 characters, depending
          on what entity the policy is attached to"); a managed policy, 6,144 (IAM Access
          Analyzer's reference: "the default quota of 6,144 characters"); a role's trust
          policy, 2,048 (IAM quotas, "Role trust policy length")."""
        def names(prefix, count, length):
            return [f"{prefix}-{i:05d}".ljust(length, "x") for i in range(count)]

        accounts = [f"{100000000000 + i}" for i in range(20)]
        keys = [f"arn:aws:kms:{template.REGION}:{template.SOURCE}:key/{i:08d}-1111-4111-8111-000000000001" for i in range(20)]
        source_buckets = names("acme-src-data", 200, 19)
        stacks = [
            template.Stack("destination", template.DESTINATION, {
                "SourceAccountIds": accounts, "SourceBuckets": source_buckets,
                "DestinationBuckets": names("acme-dst-data", 35, 63), "ManifestBuckets": names("acme-manifests", 5, 63),
            }),
            template.Stack("source", template.SOURCE, {
                "DestinationAccountIds": accounts, "SourceBuckets": source_buckets, "SourceKmsKeyArns": keys,
            }),
        ]

        def size(doc):
            return len(json.dumps(doc, separators=(",", ":")))

        measured = []
        for stack in stacks:
            for name, value in stack.params.items():
                self.assertLessEqual(len(",".join(value).encode()), 4096, f"{stack.side}: {name}")
            res = template.Resolver(self.tpl, stack.side, stack=stack)
            env = res.value(self.tpl["Globals"]["Function"]["Environment"]["Variables"])
            for logical, r in res.tpl["Resources"].items():
                if not res.included(r):
                    continue
                p, t = r.get("Properties", {}), r["Type"]
                what = f"{stack.side} {logical}"
                if t == "AWS::SSM::Parameter":
                    measured.append((what, "SSM value", len(res.value(p["Value"]).encode()), 4096))
                elif t == "AWS::Serverless::Function":
                    variables = {**env, **res.value(p.get("Environment", {}).get("Variables", {}))}
                    measured.append((what, "environment", sum(len(k) + len(str(v)) for k, v in variables.items()), 4096))
                    inline = [{"Version": "2012-10-17", "Statement": i["Statement"]}
                              for i in res.value(p.get("Policies", [])) if isinstance(i, dict) and "Statement" in i]
                    measured.append((what, "inline policies", sum(size(d) for d in inline), 10240))
                elif t == "AWS::IAM::Role":
                    inline = [pol["PolicyDocument"] for pol in res.value(p.get("Policies", []))]
                    measured.append((what, "inline policies", sum(size(d) for d in inline), 10240))
                    measured.append((what, "trust policy", size(res.value(p["AssumeRolePolicyDocument"])), 2048))
                elif t == "AWS::IAM::ManagedPolicy":
                    measured.append((what, "managed policy", size(res.value(p["PolicyDocument"])), 6144))
            # A template's resources, 500 (CloudFormation quotas, "Resources": "Maximum number of
            # resources that you can declare in your AWS CloudFormation template"), counted
            # after Fn::ForEach (three per destination account on the source side) and with
            # each SAM function as the three SAM makes of ferry's (function, role, and a
            # permission or an event invoke config), an overestimate for most.
            declared = [r for r in res.tpl["Resources"].values() if res.included(r)]
            count = sum(3 if r["Type"] == "AWS::Serverless::Function" else 1 for r in declared)
            measured.append((f"{stack.side} stack", "resources", count, 500))
        over = [m for m in measured if m[2] > m[3]]
        self.assertEqual(over, [], "over AWS's limits")
        kinds = {m[1] for m in measured}
        self.assertEqual(kinds, {"SSM value", "environment", "inline policies", "trust policy", "managed policy", "resources"})
        # The largest of each kind, for the figures in docs/src/deploy.md.
        for kind in sorted(kinds):
            worst = max((m for m in measured if m[1] == kind), key=lambda m: m[2])
            print(f"largest {kind}: {worst[0]}: {worst[2]} of {worst[3]}")

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
        """A role with s3:* on * inside the boundary (the security round's finding 5): writes only
        to the listed destination buckets and the ferry bucket's reports/, never to its control/
        or an unlisted bucket of the account; reads in the listed source accounts, and in this
        account only the listed buckets and ferry's manifests."""
        boundary = self.resolved("destination")["PermissionsBoundary"]["PolicyDocument"]
        everything = [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}]
        role = f"arn:aws:iam::{template.DESTINATION}:role/ferry/ferry-batch-x"
        # A bucket policy of another account that lets the destination account in.
        open_door = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{template.DESTINATION}:root"}, "Action": "s3:*", "Resource": "*"}]}
        ferry = f"ferry-{template.DESTINATION}-{template.REGION}"

        def may(action, account, bucket=None, key="k"):
            bucket = bucket or f"bucket-of-{account}"
            resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else "")
            return policy.allowed(
                action=action, resource=resource, caller_arn=role,
                caller_account=template.DESTINATION, identity_policies=everything, boundary=boundary,
                resource_account=account, bucket_policy=json.dumps(open_door) if account != template.DESTINATION else None,
            ).allowed

        own = template.DESTINATION
        for bucket in template.DESTINATION_BUCKETS:
            self.assertTrue(may("s3:PutObject", own, bucket), bucket)
            self.assertTrue(may("s3:GetObject", own, bucket), bucket)
        self.assertTrue(may("s3:PutObject", own, ferry, "reports/photos-2026/run-1/job-x/results/a.csv"))
        self.assertTrue(may("s3:GetObject", own, ferry, "inventory/src-photos/ferry-x/2026-12-06T01-00Z/manifest.json"))
        self.assertTrue(may("s3:GetObject", own, template.MANIFEST_BUCKETS[0], "lists/manifest.csv"))
        # Refused: the ferry bucket's control objects, and a bucket the stack does not list.
        for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
            self.assertFalse(may(action, own, ferry, "control/photos-2026/plan.json"), action)
            self.assertFalse(may(action, own, "payroll-archive"), action)
        self.assertFalse(may("s3:PutObject", own, template.MANIFEST_BUCKETS[0]), "manifests are read only")
        self.assertFalse(may("s3:PutObject", own, ferry, "inventory/x"), "inventory reports are read only")
        # Other accounts: never a write; reads only in the listed source accounts.
        self.assertFalse(may("s3:PutObject", template.SOURCE))
        self.assertFalse(may("s3:PutObject", template.THIRD))
        self.assertTrue(may("s3:GetObject", template.SOURCE))
        self.assertTrue(may("s3:ListBucket", template.SOURCE, key=None))
        self.assertTrue(may("s3:GetObject", template.THIRD), "THIRD is a listed source account")
        self.assertFalse(may("s3:GetObject", "444444444444"))

    def test_source_access_may_grant_only_decrypt_and_only_to_ferry_batch_roles(self):
        """The security round's finding 6: kms:CreateGrant with kms:GrantOperations and
        kms:GranteePrincipal conditions (KMS sets both on CreateGrant only, so ListGrants and
        RevokeGrant on the listed keys stay allowed)."""
        fn = self.resolved("source")["SourceAccessFunction"]
        identity = [{"Version": "2012-10-17", "Statement": p["Statement"]} for p in fn["Policies"] if isinstance(p, dict) and "Statement" in p]
        caller = f"arn:aws:iam::{template.SOURCE}:role/ferry-source-access"
        batch = f"arn:aws:iam::{template.DESTINATION}:role/ferry/ferry-batch-photos-2026"

        def may(action, context):
            return policy.allowed(
                action=action, resource=template.SOURCE_KEY, caller_arn=caller, caller_account=template.SOURCE,
                identity_policies=identity, boundary=None, resource_account=template.SOURCE, bucket_policy=None,
                context=context,
            ).allowed

        self.assertTrue(may("kms:CreateGrant", {"kms:GrantOperations": ["Decrypt"], "kms:GranteePrincipal": batch}))
        self.assertFalse(may("kms:CreateGrant", {"kms:GrantOperations": ["Decrypt", "Encrypt"], "kms:GranteePrincipal": batch}))
        self.assertFalse(may("kms:CreateGrant", {"kms:GrantOperations": ["CreateGrant"], "kms:GranteePrincipal": batch}))
        self.assertFalse(may("kms:CreateGrant", {"kms:GrantOperations": ["Decrypt"], "kms:GranteePrincipal": "arn:aws:iam::444444444444:role/admin"}))
        self.assertTrue(may("kms:ListGrants", {}))
        self.assertTrue(may("kms:RevokeGrant", {}))

    def test_the_state_machine_may_assume_its_own_invoke_role_of_each_listed_source_account_only(self):
        dest = template.primary("destination")
        sm = self.resolved("destination")["StateMachineRole"]
        caller = f"arn:aws:iam::{dest.account}:role/{sm['RoleName']}"
        identity = [p["PolicyDocument"] for p in sm["Policies"]]
        own = f"ferry-source-invoke-{template.REGION}-{dest.account}"
        another = f"ferry-source-invoke-{template.REGION}-{template.THIRD}"
        sources = {s.account: s for s in template.STACKS if s.side == "source"}
        unlisted = "444444444444"
        self.assertEqual(sorted(dest.params["SourceAccountIds"]), sorted(sources))
        for account in [*sources, unlisted]:
            # The invoke roles' trust as that account's source stack writes them (the unlisted
            # account as if it ran a source stack that serves this destination).
            stack = sources.get(account) or template.Stack("source", unlisted, {**template.primary("source").params})
            resolved = self.resolved("source", stack=stack)
            for name in (own, another, f"ferry-source-invoke-us-east-1-{dest.account}", "OrganizationAccountAccessRole"):
                logical = f"SourceInvokeRole{name.rsplit('-', 1)[-1]}"
                trust = resolved[logical]["AssumeRolePolicyDocument"] if name.startswith(f"ferry-source-invoke-{template.REGION}-") and logical in resolved else {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{dest.account}:root"}, "Action": "sts:AssumeRole"}]}
                got = policy.allowed(
                    action="sts:AssumeRole", resource=f"arn:aws:iam::{account}:role/{name}", caller_arn=caller,
                    caller_account=dest.account, identity_policies=identity, boundary=None,
                    resource_account=account, bucket_policy=json.dumps(trust),
                )
                expected = account in sources and name == own
                self.assertEqual(got.allowed, expected, f"{name} in {account}: {got.reason}")

    def test_each_invoke_role_trusts_its_destinations_state_machine_only(self):
        stack = template.primary("source")
        resolved = self.resolved("source")
        everything = [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}]
        destinations = stack.params["DestinationAccountIds"]
        self.assertEqual(sorted(destinations), [template.DESTINATION, template.THIRD])
        roles = sorted(k for k in resolved if k.startswith("SourceInvokeRole"))
        self.assertEqual(roles, [f"SourceInvokeRole{a}" for a in sorted(destinations)])
        for owner in destinations:
            role = resolved[f"SourceInvokeRole{owner}"]
            self.assertEqual(role["RoleName"], f"ferry-source-invoke-{template.REGION}-{owner}")
            arn = f"arn:aws:iam::{stack.account}:role/{role['RoleName']}"
            trust = json.dumps(role["AssumeRolePolicyDocument"])
            for account in [*destinations, "444444444444"]:
                for name in (f"ferry-state-machine-{template.REGION}", "ferry-state-machine-us-east-1", "admin"):
                    got = policy.allowed(
                        action="sts:AssumeRole", resource=arn, caller_arn=f"arn:aws:iam::{account}:role/{name}",
                        caller_account=account, identity_policies=everything, boundary=None,
                        resource_account=stack.account, bucket_policy=trust,
                    )
                    expected = account == owner and name == f"ferry-state-machine-{template.REGION}"
                    self.assertEqual(got.allowed, expected, f"{role['RoleName']}: {name} of {account}: {got.reason}")

    def test_each_invoke_role_may_invoke_its_destinations_aliases_only(self):
        """Lambda Developer Guide, lambda-api-permissions-ref: "if your policy references a
        specific qualified ARN, Lambda accepts requests that reference that ARN but denies
        requests that reference the unqualified ARN or a different qualified ARN"."""
        stack = template.primary("source")
        resolved = self.resolved("source")
        destinations = stack.params["DestinationAccountIds"]
        for owner in destinations:
            role = resolved[f"SourceInvokeRole{owner}"]
            caller = f"arn:aws:iam::{stack.account}:role/{role['RoleName']}"
            identity = [p["PolicyDocument"] for p in role["Policies"]]
            for function in ("ferry-source-access", "ferry-source-inventory", "ferry-plan"):
                base = f"arn:aws:lambda:{template.REGION}:{stack.account}:function:{function}"
                for qualifier in ["", *(f":dest-{a}" for a in destinations), ":1", ":$LATEST"]:
                    got = policy.allowed(
                        action="lambda:InvokeFunction", resource=base + qualifier, caller_arn=caller,
                        caller_account=stack.account, identity_policies=identity, boundary=None,
                        resource_account=stack.account, bucket_policy=None,
                    )
                    expected = function != "ferry-plan" and qualifier == f":dest-{owner}"
                    self.assertEqual(got.allowed, expected, f"{role['RoleName']} invokes {base}{qualifier}: {got.reason}")
        # And each alias is of $LATEST, under the name the role may invoke.
        for owner in destinations:
            for logical, function in (("SourceAccessAlias", "ferry-source-access"), ("SourceInventoryAlias", "ferry-source-inventory")):
                alias = resolved[f"{logical}{owner}"]
                self.assertEqual((alias["FunctionName"], alias["FunctionVersion"], alias["Name"]), (function, "$LATEST", f"dest-{owner}"))


if __name__ == "__main__":
    unittest.main()
