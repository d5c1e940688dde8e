"""The sandbox maps each request to the IAM actions and resources AWS authorizes it as
(AWS's service authorization reference), and refuses what it cannot map."""

import unittest
from unittest import mock

from . import actions, authz

OWNERS = {"src-photos": "111111111111", "ferry-222222222222-eu-west-1": "222222222222"}


def s3(method, path, query=None, headers=None, body=b""):
    with mock.patch.object(actions, "bucket_account", OWNERS.get), mock.patch.object(actions, "bucket_policy", lambda b: None):
        return authz.s3_checks(method, path, query or {}, headers or {}, lambda: body)


class S3Requests(unittest.TestCase):
    def test_object_reads_are_get_object_and_remember_the_key_for_the_403_or_404_rule(self):
        for method in ("GET", "HEAD"):
            (c,) = s3(method, "/src-photos/2026/a%20b.jpg")
            self.assertEqual((c.action, c.resource, c.resource_account), ("s3:GetObject", "arn:aws:s3:::src-photos/2026/a b.jpg", "111111111111"))
            self.assertEqual(c.missing_key, ("src-photos", "2026/a b.jpg"))
        (c,) = s3("GET", "/src-photos/k", {"versionId": "v1"})
        self.assertEqual(c.action, "s3:GetObjectVersion")

    def test_bucket_requests(self):
        cases = [
            ("GET", {"list-type": "2", "prefix": "control/"}, "s3:ListBucket"),
            ("HEAD", {}, "s3:ListBucket"),
            ("GET", {"policy": ""}, "s3:GetBucketPolicy"),
            ("PUT", {"policy": ""}, "s3:PutBucketPolicy"),
            ("DELETE", {"policy": ""}, "s3:DeleteBucketPolicy"),
            ("PUT", {"inventory": "", "id": "x"}, "s3:PutInventoryConfiguration"),
            ("DELETE", {"inventory": "", "id": "x"}, "s3:PutInventoryConfiguration"),
            ("GET", {"inventory": "", "id": "x"}, "s3:GetInventoryConfiguration"),
        ]
        for method, query, action in cases:
            (c,) = s3(method, "/src-photos", query)
            self.assertEqual((c.action, c.resource), (action, "arn:aws:s3:::src-photos"), (method, query))
        (c,) = s3("GET", "/src-photos", {"list-type": "2", "prefix": "control/"})
        self.assertEqual(c.context["s3:prefix"], "control/")

    def test_a_copy_needs_the_source_read_too(self):
        checks = s3("PUT", "/ferry-222222222222-eu-west-1/dst/k", headers={"x-amz-copy-source": "/src-photos/2026/a.jpg"})
        self.assertEqual([(c.action, c.resource) for c in checks], [
            ("s3:PutObject", "arn:aws:s3:::ferry-222222222222-eu-west-1/dst/k"),
            ("s3:GetObject", "arn:aws:s3:::src-photos/2026/a.jpg"),
            ("s3:GetObjectTagging", "arn:aws:s3:::src-photos/2026/a.jpg"),
        ])

    def test_a_missing_bucket_is_left_to_s3_which_answers_no_such_bucket(self):
        self.assertEqual(s3("GET", "/nobody/k"), [])

    def test_what_it_cannot_map_is_refused_naming_it(self):
        with self.assertRaises(authz.Refused) as e:
            s3("PUT", "/src-photos", {"accelerate": ""})
        self.assertIn("accelerate", str(e.exception))


class ControlAndIam(unittest.TestCase):
    def test_create_job_needs_pass_role_and_tagging(self):
        body = (b'<CreateJobRequest xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/">'
                b'<RoleArn>arn:aws:iam::222222222222:role/ferry/ferry-batch-x</RoleArn>'
                b'<Tags><member><Key>team</Key><Value>media</Value></member></Tags></CreateJobRequest>')
        checks = authz.s3control_checks("POST", "/v20180820/jobs", {}, {"x-amz-account-id": "222222222222"}, lambda: body, "222222222222", "eu-west-1")
        self.assertEqual([c.action for c in checks], ["s3:CreateJob", "iam:PassRole", "s3:PutJobTagging"])
        self.assertEqual(checks[1].resource, "arn:aws:iam::222222222222:role/ferry/ferry-batch-x")
        self.assertEqual(checks[1].context["iam:PassedToService"], "s3.amazonaws.com")

    def test_s3_control_for_another_account_is_refused(self):
        with self.assertRaises(authz.Refused):
            authz.s3control_checks("GET", "/v20180820/jobs", {}, {"x-amz-account-id": "111111111111"}, lambda: b"", "222222222222", "eu-west-1")

    def test_iam_role_actions_carry_the_role_path_and_the_boundary(self):
        (c,) = authz.iam_checks({"Action": "CreateRole", "RoleName": "ferry-batch-x", "Path": "/ferry/",
                                 "PermissionsBoundary": "arn:aws:iam::222222222222:policy/ferry/b"}, "222222222222")
        self.assertEqual(c.resource, "arn:aws:iam::222222222222:role/ferry/ferry-batch-x")
        self.assertEqual(c.context["iam:PermissionsBoundary"], "arn:aws:iam::222222222222:policy/ferry/b")
        with mock.patch.object(actions, "find_role", lambda a, n: None):
            (c,) = authz.iam_checks({"Action": "DeleteRolePolicy", "RoleName": "ferry-batch-x"}, "222222222222")
        self.assertEqual(c.resource, "arn:aws:iam::222222222222:role/ferry-batch-x", "a missing role has no path")

    def test_step_functions_resources(self):
        (c,) = authz.states_checks("AWSStepFunctions.StartExecution", {"stateMachineArn": "arn:aws:states:eu-west-1:222222222222:stateMachine:ferry"}, "222222222222", "eu-west-1")
        self.assertEqual((c.action, c.resource), ("states:StartExecution", "arn:aws:states:eu-west-1:222222222222:stateMachine:ferry"))
        (c,) = authz.states_checks("AWSStepFunctions.SendTaskSuccess", {"taskToken": "t"}, "222222222222", "eu-west-1")
        self.assertEqual(c.resource, "*")


class InjectedFaults(unittest.TestCase):
    def test_a_rule_takes_the_calls_of_its_action_and_caller_after_the_ones_it_skips(self):
        f = authz.Faults()
        f.add({"action": "s3:PutBucketPolicy", "caller": "SourceAccessFunctionRole", "fault": "SlowDown", "after": 1, "count": 2})
        role = "arn:aws:iam::111111111111:role/SourceAccessFunctionRole"
        picks = [f.pick(["s3:PutBucketPolicy"], role) for _ in range(4)]
        self.assertEqual(picks, [None, "SlowDown", "SlowDown", None])
        self.assertIsNone(f.pick(["s3:PutBucketPolicy"], "arn:aws:iam::111111111111:role/other"))
        self.assertIsNone(f.pick(["s3:GetBucketPolicy"], role))
        f.add({"action": "iam:CreateRole", "fault": "Timeout", "count": -1})
        self.assertEqual([f.pick(["iam:CreateRole"], "x") for _ in range(3)], ["Timeout"] * 3)
        with self.assertRaises(ValueError):
            f.add({"action": "iam:CreateRole", "fault": "Gremlins"})
        f.clear()
        self.assertEqual(f.report(), [])

    def test_every_call_is_counted_by_role_name_and_action_and_lambda_faults_take_a_function(self):
        f = authz.Faults()
        f.pick(["s3:GetObject", "s3:GetObjectTagging"], "arn:aws:iam::222222222222:role/ferry/ferry-batch-abc")
        f.pick(["s3:GetObject"], "arn:aws:iam::222222222222:role/ferry/ferry-batch-abc")
        f.pick(["iam:CreateRole"], "arn:aws:sts::222222222222:assumed-role/DestinationAccessFunctionRole/s")
        self.assertEqual(f.census(), [
            {"role": "DestinationAccessFunctionRole", "action": "iam:CreateRole", "calls": 1},
            {"role": "ferry-batch-abc", "action": "s3:GetObject", "calls": 2},
            {"role": "ferry-batch-abc", "action": "s3:GetObjectTagging", "calls": 1},
        ])
        f.add({"action": "lambda:InvokeFunction", "caller": "ferry-job-track", "fault": "FunctionTimeout"})
        self.assertEqual(f.pick(["lambda:InvokeFunction"], "ferry-job-track"), "FunctionTimeout")
        with self.assertRaises(ValueError):
            f.add({"action": "lambda:InvokeFunction", "fault": "SlowDown"})
        with self.assertRaises(ValueError):
            f.add({"action": "s3:GetObject", "fault": "FunctionError"})


if __name__ == "__main__":
    unittest.main()


class SessionPolicies(unittest.TestCase):
    """A session assumed with a session policy may do what its role's policies and the session
    policy both allow ("The resulting session's permissions are the intersection of the role's
    identity-based policy and the session policies", IAM User Guide,
    id_credentials_temp_control-access_assumerole): the copy worker, as a copy's Batch role, may
    read the source but not configure its inventory (ferry-core's ASSUMED_SESSION_POLICY)."""

    ROLE = "arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026"
    SESSION_POLICY = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Sid": "NotTheGenerators", "Effect": "Deny", "Action": "s3:PutInventoryConfiguration", "Resource": "*"}]}
    ROLE_POLICY = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutInventoryConfiguration"], "Resource": ["arn:aws:s3:::src-photos", "arn:aws:s3:::src-photos/*"]}]}
    BUCKET_POLICY = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
         "Action": ["s3:GetObject", "s3:PutInventoryConfiguration"], "Resource": ["arn:aws:s3:::src-photos", "arn:aws:s3:::src-photos/*"]}]}

    def verdict(self, session_policy, action, resource):
        identity = authz.Identity(authz.policy.Principal.role(self.ROLE, "worker"), [self.ROLE_POLICY], None, session_policy)
        check = authz.Check(action, resource, "111111111111", self.BUCKET_POLICY)
        return authz.Authorizer.check(mock.Mock(extra_context={}), identity, check)

    def test_the_session_policy_denies_what_the_role_may(self):
        inventory = ("s3:PutInventoryConfiguration", "arn:aws:s3:::src-photos")
        read = ("s3:GetObject", "arn:aws:s3:::src-photos/2026/a.jpg")
        self.assertEqual(self.verdict(None, *inventory), "", "the role itself may")
        refused = self.verdict(self.SESSION_POLICY, *inventory)
        self.assertIn("explicit deny in a session policy", refused)
        self.assertEqual(self.verdict(self.SESSION_POLICY, *read), "", "and reads as before")

    def test_a_session_policy_grants_nothing_the_role_may_not(self):
        refused = self.verdict(self.SESSION_POLICY, "s3:DeleteObject", "arn:aws:s3:::src-photos/2026/a.jpg")
        self.assertIn("is not authorized to perform: s3:DeleteObject", refused)


class Announcements(unittest.TestCase):
    def test_put_events_is_authorized_on_each_bus(self):
        (c,) = actions.events_checks("AWSEvents.PutEvents", {"Entries": [{"Source": "ferry"}, {"Source": "ferry", "EventBusName": "default"}]},
                                     "222222222222", "eu-west-1")
        self.assertEqual((c.action, c.resource), ("events:PutEvents", "arn:aws:events:eu-west-1:222222222222:event-bus/default"))
        with self.assertRaises(authz.Refused):
            actions.events_checks("AWSEvents.PutRule", {}, "222222222222", "eu-west-1")

    def test_publish_is_authorized_on_the_topic(self):
        topic = "arn:aws:sns:eu-west-1:222222222222:ferry-runs"
        (c,) = actions.sns_checks({"Action": "Publish", "TopicArn": topic}, "222222222222")
        self.assertEqual((c.action, c.resource, c.resource_account), ("sns:Publish", topic, "222222222222"))
        with self.assertRaises(authz.Refused):
            actions.sns_checks({"Action": "Subscribe"}, "222222222222")
