//! The preflight: before anything is granted or created, every S3 action the copy's roles will
//! perform is put to IAM's policy simulator (`iam:SimulateCustomPolicy`) with the policies that
//! will decide it: the Batch role's policy as ferry renders it, within its permissions boundary,
//! and the bucket's own policy with ferry's statements merged in, in the request context that
//! S3 Batch Operations presents. A refusal names the bucket, the statement's Sid, the action and
//! the condition that applies; what the simulator cannot decide (a context key ferry cannot know)
//! is said and the copy goes on.
//!
//! The questions come from the policies ferry renders (every S3 statement of the Batch role's
//! policy, every statement ferry merges into a source bucket's policy), so a new permission is
//! checked as soon as it is granted. Each object statement is asked about one object under its
//! prefix, [`PROBE_KEY`]: a foreign statement that refuses only some keys under the prefix is
//! not seen before the job.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::Epoch;
use crate::names::Names;
use crate::policy::{batch_role_policy, merge, source_account_grants, strings, PolicyKind};
use crate::request::CopyRequest;
use crate::{ErrorName, StepError};

mod ask;
mod context;
pub use ask::{ask, ask_all, ask_checked, run_half};
pub use context::{batch_context, ContextValue, KNOWN_ABSENT};

/// The object each object statement is asked about, under the statement's prefix.
pub const PROBE_KEY: &str = "ferry-preflight";

/// The actions every copy calls: the copy's read of each object and its write, the listing of
/// the source, and flow C's generator. ferry grants more (the ACL and tagging reads and writes,
/// the version reads, GetBucketLocation) because AWS's policies for S3 Batch Operations list
/// them, but AWS does not say which of them a job calls for a given object: a statement that
/// refuses only those is undecided, not a refusal.
pub const CERTAIN_ACTIONS: [&str; 4] = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:PutInventoryConfiguration",
];

/// What the preflight asks about: the copy's request and names, the key its copies are
/// encrypted under (the Batch role may use it), and when its grants expire
/// (`RunPlan::preflight_subject`).
pub struct Subject<'a> {
    pub request: &'a CopyRequest,
    pub names: Names,
    pub destination_key: Option<&'a str>,
    pub expires_at: Epoch,
}

/// One question to the simulator: may `caller` perform `actions` on `resource`?
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// The bucket whose policy is asked about (named in a refusal).
    pub bucket: String,
    /// The role that will call (its ARN; the simulator's CallerArn).
    pub caller: String,
    pub actions: Vec<String>,
    pub resource: String,
    /// The caller's identity policy (PolicyInputList).
    pub identity_policy: String,
    pub boundary: Option<String>,
    /// The bucket's policy as it will be, one statement per line (so that a statement the
    /// simulator points at by its position is found again).
    pub resource_policy: Option<String>,
    /// The account that owns the bucket, when it is not the caller's (ResourceOwner).
    pub resource_owner: Option<String>,
    /// The bucket's policy with ferry's statements alone: asked when the simulator allows an
    /// action with neither, to tell a policy that allows nothing from a simulator that cannot
    /// judge the question (see [`ask_checked`]).
    pub control_policy: Option<String>,
    pub context: Vec<ContextValue>,
}

/// The simulator's decision on one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
    /// The simulator refused the question (`InvalidInput`), with its message: AWS's pages
    /// disagree on whether it takes a role as the caller of a resource policy across accounts.
    Unanswered(String),
}

/// A statement the simulator matched: from the resource policy or not, and its first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub resource_policy: bool,
    pub line: i32,
}

/// The simulator's answer on one action of a question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub action: String,
    pub decision: Decision,
    pub matched: Vec<Matched>,
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Allowed,
    Refused,
    /// The simulator decided without a context key ferry cannot know: said, and the copy goes on.
    Undecided,
}

/// The preflight's verdict on one action of one caller on one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub bucket: String,
    pub caller: String,
    pub action: String,
    pub outcome: Outcome,
    /// The statement that decides: its Sid, or where it is when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    /// The statement's conditions, `Operator key` each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<String>,
    /// The context keys the simulator was not given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

impl Verdict {
    /// One line: the bucket, the action, who, and why.
    pub fn describe(&self) -> String {
        let role = self.caller.rsplit('/').next().unwrap_or(&self.caller);
        let statement = self
            .statement
            .as_deref()
            .map(|s| format!(" by statement {s}"))
            .unwrap_or_default();
        let conditions = if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" (condition {})", self.conditions.join(", "))
        };
        match self.outcome {
            Outcome::Allowed => format!("{}: {} by {role}: allowed", self.bucket, self.action),
            Outcome::Refused => format!(
                "{}: {} by {role}: refused{statement}{conditions}{}",
                self.bucket,
                self.action,
                absent_note(&self.conditions)
            ),
            Outcome::Undecided if self.missing.is_empty() => format!(
                "{}: {} by {role}: cannot be decided: {}",
                self.bucket,
                self.action,
                self.statement.as_deref().unwrap_or_default()
            ),
            Outcome::Undecided => format!(
                "{}: {} by {role}: cannot be decided{statement}{conditions}: it depends on {}, which ferry cannot know before the copy",
                self.bucket,
                self.action,
                self.missing.join(", ")
            ),
        }
    }
}

/// Why a condition on a key that S3 Batch Operations never presents refuses.
fn absent_note(conditions: &[String]) -> String {
    let absent: Vec<&str> = KNOWN_ABSENT
        .iter()
        .copied()
        .filter(|k| conditions.iter().any(|c| c.ends_with(&format!(" {k}"))))
        .collect();
    if absent.is_empty() {
        String::new()
    } else {
        format!(
            ": S3 Batch Operations and the copy worker call S3 from no VPC endpoint of yours, so {} is absent from their requests",
            absent.join(", ")
        )
    }
}

/// A policy written with one statement per line and a blank line between two, after a first line
/// holding its other members: statement `i` starts on line `2i + 2` counted from 1, which is line
/// `2i + 1` counted from 0. AWS does not say how it counts; the two never meet (even lines from 1,
/// odd from 0), so a position names one statement either way.
pub fn one_statement_per_line(policy: &Value) -> String {
    let mut head = policy.clone();
    let statements = match head.as_object_mut().and_then(|o| o.remove("Statement")) {
        Some(Value::Array(list)) => list,
        Some(single) => vec![single],
        None => Vec::new(),
    };
    let members = head.to_string();
    let members = members.trim_end_matches('}');
    let sep = if members.len() > 1 { "," } else { "" };
    let body: Vec<String> = statements.iter().map(Value::to_string).collect();
    format!("{members}{sep}\"Statement\":[\n{}\n]}}", body.join(",\n\n"))
}

/// The statement of a policy written by [`one_statement_per_line`] that starts on `line` (counted
/// from 1 when even, from 0 when odd), when it has the wanted effect.
fn statement_at<'a>(policy: &'a Value, line: i32, effect: &str) -> Option<&'a Value> {
    let statements = policy.get("Statement")?;
    let list: Vec<&Value> = match statements {
        Value::Array(l) => l.iter().collect(),
        single => vec![single],
    };
    let index = if line % 2 == 0 {
        (line - 2) / 2
    } else {
        (line - 1) / 2
    };
    usize::try_from(index)
        .ok()
        .and_then(|i| list.get(i).copied())
        .filter(|s| s.get("Effect").and_then(Value::as_str) == Some(effect))
}

/// A statement's name in a verdict: its Sid, else its place.
fn statement_name(statement: &Value, line: i32) -> String {
    statement
        .get("Sid")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map_or_else(
            || format!("(no Sid, line {line} as ferry sent it)"),
            |s| s.to_string(),
        )
}

/// `Operator key` for every key of a statement's conditions.
fn conditions_of(statement: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(blocks) = statement.get("Condition").and_then(Value::as_object) {
        for (operator, keys) in blocks {
            if let Some(keys) = keys.as_object() {
                out.extend(keys.keys().map(|k| format!("{operator} {k}")));
            }
        }
    }
    out
}

/// The verdicts on a question from the simulator's answers.
pub fn verdicts(q: &Question, answers: &[Answer]) -> Vec<Verdict> {
    let policy: Option<Value> = q
        .resource_policy
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok());
    let given: Vec<&str> = q.context.iter().map(|c| c.key.as_str()).collect();
    answers
        .iter()
        .map(|a| {
            let mut v = Verdict {
                bucket: q.bucket.clone(),
                caller: q.caller.clone(),
                action: a.action.clone(),
                outcome: Outcome::Allowed,
                statement: None,
                conditions: Vec::new(),
                missing: a.missing.clone(),
            };
            // Keys the simulator lacked that ferry does not know to be absent.
            let unknown: Vec<String> = a
                .missing
                .iter()
                .filter(|k| !KNOWN_ABSENT.contains(&k.as_str()) && !given.contains(&k.as_str()))
                .cloned()
                .collect();
            match &a.decision {
                Decision::Unanswered(why) => {
                    v.outcome = Outcome::Undecided;
                    v.missing = Vec::new();
                    v.statement = Some(format!("IAM's policy simulator did not answer ({why})"));
                }
                Decision::Allowed if unknown.is_empty() => {}
                Decision::Allowed => {
                    v.outcome = Outcome::Undecided;
                    v.missing = unknown;
                }
                Decision::ExplicitDeny => {
                    v.outcome = Outcome::Refused;
                    explicit_deny(&mut v, a, policy.as_ref(), &unknown);
                }
                Decision::ImplicitDeny if unknown.is_empty() => {
                    v.outcome = Outcome::Refused;
                    v.statement = Some(if q.resource_policy.is_some() {
                        "none: neither the bucket policy nor the role's policy allows it".into()
                    } else {
                        "none: the role's policy, within its permissions boundary, does not allow it".into()
                    });
                }
                Decision::ImplicitDeny => {
                    v.outcome = Outcome::Undecided;
                    v.missing = unknown;
                }
            }
            if v.outcome == Outcome::Refused && !CERTAIN_ACTIONS.contains(&v.action.as_str()) {
                v.outcome = Outcome::Undecided;
                v.statement = Some(format!(
                    "{} refuses {}, which the copy calls for some objects only (AWS does not say which)",
                    v.statement.as_deref().unwrap_or("a statement"),
                    v.action
                ));
                v.missing = Vec::new();
            }
            v
        })
        .collect()
}

/// An explicit deny's verdict (refused so far): the deny the simulator placed in the bucket's
/// policy, by its Sid and conditions; undecided when it holds only for want of a key ferry cannot
/// know (`unknown`), or cannot be placed while such a key is missing.
fn explicit_deny(v: &mut Verdict, a: &Answer, policy: Option<&Value>, unknown: &[String]) {
    let placed = a
        .matched
        .iter()
        .filter(|m| m.resource_policy)
        .find_map(|m| statement_at(policy?, m.line, "Deny").map(|s| (s, m.line)));
    match placed {
        Some((s, line)) => {
            v.statement = Some(statement_name(s, line));
            v.conditions = conditions_of(s);
            let depends: Vec<String> = unknown
                .iter()
                .filter(|k| v.conditions.iter().any(|c| c.ends_with(&format!(" {k}"))))
                .cloned()
                .collect();
            if !depends.is_empty() {
                v.outcome = Outcome::Undecided;
                v.missing = depends;
            }
        }
        None if !unknown.is_empty() => {
            v.outcome = Outcome::Undecided;
            v.missing = unknown.to_vec();
        }
        None => {
            v.statement = Some(match a.matched.iter().find(|m| m.resource_policy) {
                Some(m) => format!("of the bucket policy (line {})", m.line),
                None => "of the role's policy or boundary".into(),
            });
        }
    }
}

/// Fails with every refusal (`AccessDenied`, nothing granted yet), else returns the verdicts.
pub fn refuse_if_any(verdicts: Vec<Verdict>, side: &str) -> Result<Vec<Verdict>, StepError> {
    let refused: Vec<String> = verdicts
        .iter()
        .filter(|v| v.outcome == Outcome::Refused)
        .map(Verdict::describe)
        .collect();
    if refused.is_empty() {
        return Ok(verdicts);
    }
    Err(StepError::new(
        ErrorName::AccessDenied,
        format!(
            "preflight ({side}): the copy would be refused, so nothing was granted or created: {}; change the statement (or exempt the copy's role from it, e.g. by aws:PrincipalArn) and run the copy again (`ferry plan --check` asks the same questions)",
            refused.join("; ")
        ),
    ))
}

/// An object ARN's key for a statement's resource: `<prefix>*` becomes `<prefix>ferry-preflight`
/// (ferry's escapes of `*`, `?`, `$` undone; an escaped `*` ends in `}`, so the trailing `*` is
/// always the wildcard); a bucket ARN stays.
fn probe(resource: &str) -> String {
    let unescape = |text: &str| {
        text.replace("${*}", "*")
            .replace("${?}", "?")
            .replace("${$}", "$")
    };
    match resource.strip_suffix('*') {
        Some(prefix) => format!("{}{PROBE_KEY}", unescape(prefix)),
        None => unescape(resource),
    }
}

/// The bucket of an S3 ARN (`arn:<p>:s3:::bucket[/key]`), None for another resource.
fn bucket_of(arn: &str) -> Option<&str> {
    let rest = arn.split(":s3:::").nth(1)?;
    Some(rest.split('/').next().unwrap_or(rest)).filter(|b| !b.is_empty() && !b.contains('*'))
}

/// The destination half (the destination account's `plan`): every S3 statement of the Batch
/// role's policy, within `boundary`, and, for the buckets whose policy is in `policies`, with
/// that policy (the destination bucket's). Source buckets are asked here without their policy:
/// the source account asks with it ([`source_questions`]).
pub fn role_questions(
    subject: &Subject,
    boundary: Option<&Value>,
    policies: &BTreeMap<String, Value>,
    now: Epoch,
) -> Vec<Question> {
    let names = &subject.names;
    let role = batch_role_policy(subject.request, names, subject.destination_key);
    let identity = role.to_string();
    let mut out = Vec::new();
    for statement in role["Statement"].as_array().into_iter().flatten() {
        let actions: Vec<String> = strings(statement.get("Action"))
            .into_iter()
            .filter(|a| a.starts_with("s3:"))
            .collect();
        if actions.is_empty() {
            continue;
        }
        for resource in strings(statement.get("Resource")) {
            let Some(bucket) = bucket_of(&resource) else {
                continue;
            };
            let owner = owner_of(subject.request, bucket);
            out.push(Question {
                bucket: bucket.to_string(),
                caller: names.batch_role_arn.clone(),
                actions: actions.clone(),
                resource: probe(&resource),
                identity_policy: identity.clone(),
                boundary: boundary.map(Value::to_string),
                resource_policy: policies.get(bucket).map(one_statement_per_line),
                resource_owner: None,
                control_policy: None,
                context: batch_context(
                    &names.batch_role_arn,
                    &names.destination_account,
                    &owner,
                    now,
                ),
            });
        }
    }
    out
}

/// The account a bucket of the request belongs to (the destination's unless it is the source
/// bucket or a CSV manifest's of another account).
pub fn owner_of(req: &CopyRequest, bucket: &str) -> String {
    match &req.manifest {
        _ if bucket == req.source.bucket => req.source.account_id.clone(),
        crate::request::Manifest::Csv {
            account_id,
            bucket: b,
            ..
        } if b == bucket => account_id.clone(),
        _ => req.destination.account_id.clone(),
    }
}

/// The source half (the source account's `source-access`): every statement ferry will merge into
/// a source bucket's policy, asked with that policy as it will be (`policies`: each bucket's
/// current policy, None for none), for the role the statement names.
pub fn source_questions(
    subject: &Subject,
    policies: &BTreeMap<String, Option<String>>,
    now: Epoch,
) -> Result<Vec<Question>, StepError> {
    let names = &subject.names;
    let role_policy =
        batch_role_policy(subject.request, names, subject.destination_key).to_string();
    let source = &subject.request.source.account_id;
    let mut out = Vec::new();
    for (bucket, ours) in source_account_grants(subject.request, names, subject.expires_at) {
        let existing = policies.get(&bucket).cloned().flatten();
        let merged = merge(
            existing.as_deref(),
            &ours,
            &names.hash,
            PolicyKind::BucketPolicy,
            &bucket,
        )?;
        let merged: Value = serde_json::from_str(&merged).map_err(|e| {
            StepError::new(
                ErrorName::Internal,
                format!("{bucket}'s merged policy: {e}"),
            )
        })?;
        let text = one_statement_per_line(&merged);
        let control = one_statement_per_line(&serde_json::json!({
            "Version": crate::policy::VERSION,
            "Statement": ours
        }));
        for statement in &ours {
            let callers = strings(statement.pointer("/Condition/ArnEquals/aws:PrincipalArn"));
            let actions = strings(statement.get("Action"));
            for resource in strings(statement.get("Resource")) {
                for caller in &callers {
                    out.push(Question {
                        bucket: bucket.clone(),
                        caller: caller.clone(),
                        actions: actions.clone(),
                        resource: probe(&resource),
                        identity_policy: identity_for(
                            caller,
                            names,
                            &role_policy,
                            &actions,
                            &resource,
                        ),
                        boundary: None,
                        resource_policy: Some(text.clone()),
                        resource_owner: Some(names.account_root(source)),
                        control_policy: Some(control.clone()),
                        context: batch_context(caller, &names.destination_account, source, now),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The caller's identity policy: the Batch role's as ferry renders it; for another of ferry's
/// roles (job-submit, whose policy is the destination stack's), a policy allowing the asked
/// actions, so that the answer is the bucket policy's (the destination half checks the role).
fn identity_for(
    caller: &str,
    names: &Names,
    role_policy: &str,
    actions: &[String],
    resource: &str,
) -> String {
    if caller == names.batch_role_arn {
        return role_policy.to_string();
    }
    serde_json::json!({
        "Version": crate::policy::VERSION,
        "Statement": [{ "Effect": "Allow", "Action": actions, "Resource": resource }]
    })
    .to_string()
}

/// The destination stack's permissions boundary, as its template creates it (the template test
/// checks they are the same).
pub fn boundary_of(config: &crate::stack::StackConfig) -> Value {
    crate::policy::permissions_boundary(&crate::policy::BoundaryScope {
        partition: crate::names::partition(&config.region),
        region: &config.region,
        own_account: &config.account_id,
        source_accounts: &config.source_account_ids,
        destination_buckets: &config.destination_buckets,
        manifest_buckets: &config.manifest_buckets,
    })
}

#[cfg(test)]
mod tests;
