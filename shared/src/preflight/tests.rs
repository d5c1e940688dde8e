use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::*;
use crate::testing::{csv_plan, destination_stack, STARTED_AT};

const VPCE_DENY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"OnlyThroughOurEndpoint","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::src-photos/*",
   "Condition":{"StringNotEqualsIfExists":{"aws:SourceVpce":"vpce-1a2b3c4d"}}}]}"#;

fn source_policies(policy: Option<&str>) -> BTreeMap<String, Option<String>> {
    ["src-photos", "src-manifests"]
        .into_iter()
        .map(|b| {
            (
                b.to_string(),
                policy.filter(|_| b == "src-photos").map(str::to_string),
            )
        })
        .collect()
}

fn answer(action: &str, decision: Decision, matched: &[(bool, i32)], missing: &[&str]) -> Answer {
    Answer {
        action: action.into(),
        decision,
        matched: matched
            .iter()
            .map(|&(resource_policy, line)| Matched {
                resource_policy,
                line,
            })
            .collect(),
        missing: missing.iter().map(|k| k.to_string()).collect(),
    }
}

/// The question on the source bucket's object reads by the Batch role.
fn source_read(policy: Option<&str>) -> Question {
    let plan = csv_plan();
    source_questions(
        &plan.preflight_subject(),
        &source_policies(policy),
        STARTED_AT,
    )
    .unwrap()
    .into_iter()
    .find(|q| q.bucket == "src-photos" && q.actions.contains(&"s3:GetObject".to_string()))
    .unwrap()
}

#[test]
fn one_statement_per_line_puts_statement_i_on_line_i_plus_2() {
    let policy: Value = serde_json::from_str(VPCE_DENY).unwrap();
    let mut two = policy.clone();
    two["Statement"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Sid": "Second", "Effect": "Allow"}));
    let text = one_statement_per_line(&two);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[1].contains("OnlyThroughOurEndpoint")
            && lines[2].is_empty()
            && lines[3].contains("Second"),
        "{text}"
    );
    // Line 4 counted from 1 and line 3 counted from 0 both name the second statement; no line
    // names two.
    assert_eq!(statement_at(&two, 4, "Allow").unwrap()["Sid"], "Second");
    assert_eq!(statement_at(&two, 3, "Allow").unwrap()["Sid"], "Second");
    assert_eq!(
        statement_at(&two, 2, "Deny").unwrap()["Sid"],
        "OnlyThroughOurEndpoint"
    );
    assert_eq!(
        statement_at(&two, 1, "Deny").unwrap()["Sid"],
        "OnlyThroughOurEndpoint"
    );
    assert!(
        statement_at(&two, 3, "Deny").is_none(),
        "the effect must match"
    );
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), two);
    // A single-object Statement, and a policy of no other member.
    let single = json!({"Statement": {"Sid": "One", "Effect": "Deny"}});
    let text = one_statement_per_line(&single);
    assert_eq!(
        text,
        "{\"Statement\":[\n{\"Sid\":\"One\",\"Effect\":\"Deny\"}\n]}"
    );
    assert_eq!(
        statement_at(&serde_json::from_str(&text).unwrap(), 2, "Deny").unwrap()["Sid"],
        "One"
    );
}

#[test]
fn the_probe_is_one_object_under_the_statements_prefix() {
    assert_eq!(
        probe("arn:aws:s3:::src/2026/*"),
        "arn:aws:s3:::src/2026/ferry-preflight"
    );
    assert_eq!(
        probe("arn:aws:s3:::src/a${*}b${?}c${$}/*"),
        "arn:aws:s3:::src/a*b?c$/ferry-preflight"
    );
    assert_eq!(probe("arn:aws:s3:::src"), "arn:aws:s3:::src");
}

/// Flow B with its manifest in the source account: the Batch role's reads of the source and of
/// the manifest, and job-submit's check of the manifest, each with the bucket's policy as it
/// will be (ferry's statements merged in), owned by the source account.
#[test]
fn the_source_half_asks_about_every_statement_ferry_merges() {
    let plan = csv_plan();
    let names = plan.names();
    let questions = source_questions(
        &plan.preflight_subject(),
        &source_policies(Some(VPCE_DENY)),
        STARTED_AT,
    )
    .unwrap();
    let asked: Vec<(&str, &str, &str)> = questions
        .iter()
        .flat_map(|q| {
            q.actions.iter().map(move |a| {
                (
                    q.bucket.as_str(),
                    a.as_str(),
                    q.caller.rsplit('/').next().unwrap(),
                )
            })
        })
        .collect();
    for wanted in [
        ("src-photos", "s3:GetObject", "ferry-batch-photos-2026"),
        ("src-photos", "s3:ListBucket", "ferry-batch-photos-2026"),
        (
            "src-manifests",
            "s3:GetObjectVersion",
            "ferry-batch-photos-2026",
        ),
        (
            "src-manifests",
            "s3:GetBucketLocation",
            "ferry-batch-photos-2026",
        ),
        (
            "src-manifests",
            "s3:GetObject",
            "ferry-job-submit-eu-west-1",
        ),
    ] {
        assert!(asked.contains(&wanted), "{wanted:?} not in {asked:?}");
    }
    let read = source_read(Some(VPCE_DENY));
    assert_eq!(
        read.resource,
        "arn:aws:s3:::src-photos/2026/ferry-preflight"
    );
    assert_eq!(
        read.resource_owner.as_deref(),
        Some("arn:aws:iam::111111111111:root")
    );
    let policy = read.resource_policy.as_deref().unwrap();
    assert!(policy.contains("OnlyThroughOurEndpoint") && policy.contains(&names.sid("SourceRead")));
    assert_eq!(
        read.identity_policy,
        batch_role_policy(&plan.request, &names, None).to_string()
    );
    let given: Vec<&str> = read.context.iter().map(|c| c.key.as_str()).collect();
    assert!(given.contains(&"aws:PrincipalArn") && !given.contains(&"aws:SourceVpce"));
}

#[test]
fn a_vpc_endpoint_deny_is_refused_naming_its_sid_and_key() {
    let q = source_read(Some(VPCE_DENY));
    // The deny is the policy's first statement: line 2 counted from 1, 1 from 0.
    for line in [2, 1] {
        let v = verdicts(
            &q,
            &[answer(
                "s3:GetObject",
                Decision::ExplicitDeny,
                &[(true, line)],
                &["aws:SourceVpce"],
            )],
        );
        assert_eq!(v[0].outcome, Outcome::Refused);
        assert_eq!(v[0].statement.as_deref(), Some("OnlyThroughOurEndpoint"));
        assert_eq!(v[0].conditions, ["StringNotEqualsIfExists aws:SourceVpce"]);
    }
    let v = verdicts(
        &q,
        &[answer(
            "s3:GetObject",
            Decision::ExplicitDeny,
            &[(true, 2)],
            &["aws:SourceVpce"],
        )],
    );
    let err = refuse_if_any(v, "source account 111111111111").unwrap_err();
    assert_eq!(err.name, ErrorName::AccessDenied);
    assert!(
        err.cause.contains("src-photos: s3:GetObject by ferry-batch-photos-2026: refused by statement OnlyThroughOurEndpoint (condition StringNotEqualsIfExists aws:SourceVpce)")
            && err.cause.contains("aws:SourceVpce is absent"),
        "{}",
        err.cause
    );
}

#[test]
fn a_deny_on_a_key_ferry_cannot_know_is_undecided_and_the_copy_goes_on() {
    let org: &str = r#"{"Version":"2012-10-17","Statement":[
      {"Sid":"OnlyOurOrganization","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::src-photos/*",
       "Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-ferrytest"}}}]}"#;
    let q = source_read(Some(org));
    let v = verdicts(
        &q,
        &[answer(
            "s3:GetObject",
            Decision::ExplicitDeny,
            &[(true, 2)],
            &["aws:PrincipalOrgID"],
        )],
    );
    assert_eq!(
        (v[0].outcome, v[0].missing.clone()),
        (Outcome::Undecided, vec!["aws:PrincipalOrgID".to_string()])
    );
    assert!(
        v[0].describe().contains("depends on aws:PrincipalOrgID"),
        "{}",
        v[0].describe()
    );
    assert!(refuse_if_any(v, "source").is_ok());
    // Allowed without a key it may need: undecided too; without a missing key, allowed.
    let v = verdicts(
        &q,
        &[answer(
            "s3:GetObject",
            Decision::Allowed,
            &[],
            &["aws:SecureTransport"],
        )],
    );
    assert_eq!(v[0].outcome, Outcome::Undecided);
    let v = verdicts(
        &q,
        &[answer(
            "s3:GetObject",
            Decision::Allowed,
            &[],
            &["aws:SourceVpce"],
        )],
    );
    assert_eq!(v[0].outcome, Outcome::Allowed);
}

/// AWS's pages disagree on whether the simulator takes a role as the caller of a resource
/// policy across accounts: its refusal of the question is undecided, and the copy goes on.
#[test]
fn a_question_the_simulator_refuses_is_undecided() {
    let q = source_read(Some(VPCE_DENY));
    let v = verdicts(
        &q,
        &[answer(
            "s3:GetObject",
            Decision::Unanswered("InvalidInput: the caller is a role".into()),
            &[],
            &[],
        )],
    );
    assert_eq!(v[0].outcome, Outcome::Undecided);
    assert_eq!(
        v[0].describe(),
        "src-photos: s3:GetObject by ferry-batch-photos-2026: cannot be decided: IAM's policy simulator did not answer (InvalidInput: the caller is a role)"
    );
    assert!(refuse_if_any(v, "source").is_ok());
}

/// A deny of an action the copy calls for some objects only (an ACL read) is undecided; a deny
/// the simulator does not place, on a key ferry cannot know, too.
#[test]
fn a_deny_of_an_action_not_always_called_or_not_placed_on_an_unknown_key_is_undecided() {
    let q = source_read(Some(VPCE_DENY));
    let v = verdicts(
        &q,
        &[answer(
            "s3:GetObjectAcl",
            Decision::ExplicitDeny,
            &[(true, 2)],
            &["aws:SourceVpce"],
        )],
    );
    assert_eq!(v[0].outcome, Outcome::Undecided);
    assert!(
        v[0].describe().contains("OnlyThroughOurEndpoint refuses s3:GetObjectAcl, which the copy calls for some objects only"),
        "{}",
        v[0].describe()
    );
    let v = verdicts(
        &q,
        &[answer(
            "s3:GetObject",
            Decision::ExplicitDeny,
            &[],
            &["aws:PrincipalOrgID"],
        )],
    );
    assert_eq!(
        (v[0].outcome, v[0].missing.clone()),
        (Outcome::Undecided, vec!["aws:PrincipalOrgID".to_string()])
    );
}

#[test]
fn an_implicit_deny_and_an_unplaced_deny_refuse() {
    let q = source_read(None);
    let v = verdicts(
        &q,
        &[answer("s3:GetObject", Decision::ImplicitDeny, &[], &[])],
    );
    assert_eq!(v[0].outcome, Outcome::Refused);
    assert!(v[0]
        .describe()
        .contains("neither the bucket policy nor the role's policy allows it"));
    // A deny the simulator places where the policy has none (or in an identity policy).
    let v = verdicts(
        &q,
        &[answer(
            "s3:GetObject",
            Decision::ExplicitDeny,
            &[(false, 4)],
            &[],
        )],
    );
    assert_eq!(v[0].outcome, Outcome::Refused);
}

/// The destination half: every S3 statement of the role's policy, within the boundary, the
/// destination bucket with its policy, the source without (the source account asks with it).
#[test]
fn the_destination_half_asks_about_the_roles_policy_within_its_boundary() {
    let plan = csv_plan();
    let boundary = boundary_of(&destination_stack());
    let policies: BTreeMap<String, Value> =
        [("dst-photos".to_string(), json!({"Statement": []}))].into();
    let questions = role_questions(
        &plan.preflight_subject(),
        Some(&boundary),
        &policies,
        STARTED_AT,
    );
    let write = questions
        .iter()
        .find(|q| q.bucket == "dst-photos" && q.actions.contains(&"s3:PutObject".to_string()))
        .unwrap();
    assert_eq!(write.resource, "arn:aws:s3:::dst-photos/ferry-preflight");
    assert!(write.resource_policy.is_some() && write.boundary.is_some());
    let read = questions.iter().find(|q| q.bucket == "src-photos").unwrap();
    assert!(read.resource_policy.is_none() && read.resource_owner.is_none());
    assert!(read
        .context
        .iter()
        .any(|c| c.key == "s3:ResourceAccount" && c.values == ["111111111111"]));
    assert!(questions
        .iter()
        .all(|q| q.actions.iter().all(|a| a.starts_with("s3:"))));
}

/// IAM's simulator answering `decide(question's resource policy)` on every action.
fn simulator(decide: fn(Option<&str>) -> &'static str) -> aws_smithy_mocks::Rule {
    use aws_sdk_iam::types::{EvaluationResult, PolicyEvaluationDecisionType};
    aws_smithy_mocks::mock!(aws_sdk_iam::Client::simulate_custom_policy).then_compute_output(
        move |req| {
            let decision = decide(req.resource_policy());
            let results = req.action_names().iter().map(|a| {
                EvaluationResult::builder()
                    .eval_action_name(a)
                    .eval_decision(PolicyEvaluationDecisionType::from(decision))
                    .build()
                    .unwrap()
            });
            aws_sdk_iam::operation::simulate_custom_policy::SimulateCustomPolicyOutput::builder()
                .set_evaluation_results(Some(results.collect()))
                .build()
        },
    )
}

/// A simulator that does not judge a role's question across accounts (AWS's 2023 pages say it
/// does not) denies even with ferry's statements alone: its answers are unanswered, and the copy
/// goes on. One that allows ferry's statements alone and denies with the bucket's own refuses.
#[tokio::test]
async fn a_question_the_simulator_cannot_judge_is_told_from_a_refusal_by_its_control() {
    use aws_smithy_mocks::{mock_client, RuleMode};
    let q = source_read(Some(VPCE_DENY));
    let blind = simulator(|_| "implicitDeny");
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&blind]);
    let answers = ask_checked(&iam, &q).await.unwrap();
    assert!(
        answers
            .iter()
            .all(|a| matches!(a.decision, Decision::Unanswered(_))),
        "{answers:?}"
    );
    let v = verdicts(&q, &answers);
    assert!(v.iter().all(|v| v.outcome == Outcome::Undecided), "{v:?}");
    // Allowed with ferry's statements alone (no foreign Sid in the policy), not with the
    // bucket's own: a refusal.
    let judging = simulator(|p| {
        if p.is_some_and(|p| p.contains("OnlyThroughOurEndpoint")) {
            "implicitDeny"
        } else {
            "allowed"
        }
    });
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&judging]);
    let answers = ask_checked(&iam, &q).await.unwrap();
    assert!(
        answers.iter().all(|a| a.decision == Decision::ImplicitDeny),
        "{answers:?}"
    );
}
