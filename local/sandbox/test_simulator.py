"""SimulateCustomPolicy as the sandbox answers it: the decision, the deny statement's position,
the context keys it was not given."""

import json
import unittest
import xml.etree.ElementTree as ET

from . import simulator

ROLE = "arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026"
OBJECT = "arn:aws:s3:::src-photos/2026/ferry-preflight"
IDENTITY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::src-photos/*"}]})
GRANT = {"Sid": "FerryGrant", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::src-photos/*", "Condition": {"ArnEquals": {"aws:PrincipalArn": ROLE}}}
VPCE_DENY = {"Sid": "OnlyThroughOurEndpoint", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::src-photos/*",
             "Condition": {"StringNotEqualsIfExists": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}
ORG_DENY = {"Sid": "OnlyOurOrganization", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::src-photos", "arn:aws:s3:::src-photos/*"],
            "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-ferrytest"}}}


def one_per_line(*statements: dict) -> str:
    body = ",\n".join(json.dumps(s) for s in statements)
    return '{"Version": "2012-10-17", "Statement": [\n' + body + "\n]}"


def params(resource_policy: str, context: dict | None = None) -> dict:
    p = {"Action": "SimulateCustomPolicy", "PolicyInputList.member.1": IDENTITY, "ActionNames.member.1": "s3:GetObject",
         "ResourceArns.member.1": OBJECT, "ResourcePolicy": resource_policy, "CallerArn": ROLE, "ResourceOwner": "arn:aws:iam::111111111111:root"}
    for i, (k, (kind, v)) in enumerate((context or {}).items(), 1):
        p[f"ContextEntries.member.{i}.ContextKeyName"] = k
        p[f"ContextEntries.member.{i}.ContextKeyType"] = kind
        p[f"ContextEntries.member.{i}.ContextKeyValues.member.1"] = v
    return p


ROLE_CONTEXT = {"aws:PrincipalArn": ("string", ROLE)}


class Simulate(unittest.TestCase):
    def test_the_grant_alone_allows_across_accounts(self):
        (r,) = simulator.simulate(params(one_per_line(GRANT), ROLE_CONTEXT))
        self.assertEqual(r["EvalDecision"], "allowed")
        self.assertEqual([m["SourcePolicyType"] for m in r["MatchedStatements"]], ["user", "resource"])

    def test_without_the_grant_it_is_an_implicit_deny(self):
        (r,) = simulator.simulate(params(one_per_line(ORG_DENY), {**ROLE_CONTEXT, "aws:PrincipalOrgID": ("string", "o-ferrytest")}))
        self.assertEqual((r["EvalDecision"], r["MatchedStatements"]), ("implicitDeny", []))

    def test_a_vpc_endpoint_deny_is_named_by_its_position_and_its_key_is_missing(self):
        (r,) = simulator.simulate(params(one_per_line(GRANT, VPCE_DENY), ROLE_CONTEXT))
        self.assertEqual(r["EvalDecision"], "explicitDeny")
        (m,) = r["MatchedStatements"]
        self.assertEqual((m["SourcePolicyType"], m["StartPosition"]), ("resource", (3, 1)))
        self.assertEqual(r["MissingContextValues"], ["aws:SourceVpce"])
        (r,) = simulator.simulate(params(one_per_line(GRANT, VPCE_DENY), {**ROLE_CONTEXT, "aws:SourceVpce": ("string", "vpce-1a2b3c4d")}))
        self.assertEqual((r["EvalDecision"], r["MissingContextValues"]), ("allowed", []))

    def test_an_organization_deny_without_the_key_applies_and_names_the_key(self):
        # A negated operator (StringNotEquals) on a key the request lacks holds (IAM User Guide,
        # "Condition operators"): the deny applies, and the key is listed as missing.
        (r,) = simulator.simulate(params(one_per_line(GRANT, ORG_DENY), ROLE_CONTEXT))
        self.assertEqual((r["EvalDecision"], r["MissingContextValues"]), ("explicitDeny", ["aws:PrincipalOrgID"]))
        (r,) = simulator.simulate(params(one_per_line(GRANT, ORG_DENY), {**ROLE_CONTEXT, "aws:PrincipalOrgID": ("string", "o-ferrytest")}))
        self.assertEqual((r["EvalDecision"], r["MissingContextValues"]), ("allowed", []))

    def test_invalid_input(self):
        for broken, why in (({"CallerArn": ""}, "CallerArn is required"),
                            ({"CallerArn": "arn:aws:sts::222222222222:assumed-role/r/s"}, "not the ARN of an IAM user, group, or role"),
                            ({"PolicyInputList.member.1": None}, "required")):
            p = {k: v for k, v in {**params(one_per_line(GRANT)), **broken}.items() if v is not None}
            with self.assertRaises(simulator.InvalidInput) as e:
                simulator.simulate(p)
            self.assertIn(why, str(e.exception))
        status, body = simulator.response({"Action": "SimulateCustomPolicy"})
        self.assertEqual(status, "400 Bad Request")
        self.assertIn(b"<Code>InvalidInput</Code>", body)

    def test_the_answer_is_iams_xml(self):
        status, body = simulator.response(params(one_per_line(GRANT, VPCE_DENY), ROLE_CONTEXT))
        self.assertEqual(status, "200 OK")
        ns = {"i": simulator.NS}
        root = ET.fromstring(body)
        member = root.find("i:SimulateCustomPolicyResult/i:EvaluationResults/i:member", ns)
        self.assertEqual(member.findtext("i:EvalDecision", namespaces=ns), "explicitDeny")
        self.assertEqual(member.findtext("i:MatchedStatements/i:member/i:StartPosition/i:Line", namespaces=ns), "3")
        self.assertEqual(member.findtext("i:MissingContextValues/i:member", namespaces=ns), "aws:SourceVpce")

    def test_statement_spans_of_a_single_statement_and_of_pretty_printed_json(self):
        text = json.dumps({"Version": "2012-10-17", "Statement": [GRANT, VPCE_DENY]}, indent=2)
        spans = simulator.statement_spans(text)
        self.assertEqual([s[0]["Sid"] for s in spans], ["FerryGrant", "OnlyThroughOurEndpoint"])
        self.assertEqual(text.splitlines()[spans[1][1][0] - 1].strip(), "{")
        single = json.dumps({"Statement": GRANT})
        self.assertEqual(simulator.statement_spans(single)[0][1], (1, 15))


if __name__ == "__main__":
    unittest.main()
