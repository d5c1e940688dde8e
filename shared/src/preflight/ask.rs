//! Asking IAM's policy simulator one [`Question`].

use aws_sdk_iam::types::{
    ContextEntry, ContextKeyTypeEnum, PolicyEvaluationDecisionType, PolicySourceType, Statement,
};

use super::{refuse_if_any, verdicts, Answer, Decision, Matched, Outcome, Question, Verdict};
use crate::error::from_sdk;
use crate::StepError;

/// The simulator's answers on every action of `q`, one SimulateCustomPolicy call.
pub async fn ask(iam: &aws_sdk_iam::Client, q: &Question) -> Result<Vec<Answer>, StepError> {
    let context: Vec<ContextEntry> = q
        .context
        .iter()
        .map(|c| {
            ContextEntry::builder()
                .context_key_name(&c.key)
                .context_key_type(ContextKeyTypeEnum::from(c.kind))
                .set_context_key_values(Some(c.values.clone()))
                .build()
        })
        .collect();
    let mut call = iam
        .simulate_custom_policy()
        .policy_input_list(&q.identity_policy)
        .set_action_names(Some(q.actions.clone()))
        .resource_arns(&q.resource)
        .set_context_entries(Some(context))
        .max_items(1000);
    if let Some(boundary) = &q.boundary {
        call = call.permissions_boundary_policy_input_list(boundary);
    }
    if let Some(policy) = &q.resource_policy {
        call = call.resource_policy(policy).caller_arn(&q.caller);
    }
    if let Some(owner) = &q.resource_owner {
        call = call.resource_owner(owner);
    }
    let out = match call.send().await {
        Ok(out) => out,
        // Not an answer: said, and the copy goes on (a refusal of ferry's own call, a
        // throttle, fail the step as any call's error does).
        Err(e)
            if matches!(
                crate::error::sdk_code(&e),
                Some("InvalidInput" | "PolicyEvaluation")
            ) =>
        {
            let why = e
                .as_service_error()
                .and_then(aws_sdk_iam::error::ProvideErrorMetadata::message)
                .unwrap_or_default()
                .to_string();
            let code = crate::error::sdk_code(&e).unwrap_or_default().to_string();
            return Ok(q
                .actions
                .iter()
                .map(|a| Answer {
                    action: a.clone(),
                    decision: Decision::Unanswered(format!("{code}: {why}")),
                    matched: Vec::new(),
                    missing: Vec::new(),
                })
                .collect());
        }
        Err(e) => {
            return Err(from_sdk(
                e,
                &format!("SimulateCustomPolicy ({} on {})", q.caller, q.resource),
            ))
        }
    };
    Ok(out
        .evaluation_results()
        .iter()
        .map(|r| {
            // One result per action; its resource's own result may hold what the top level
            // does not (the model: "When you list ARNs, missing values appear under
            // ResourceSpecificResults").
            let mut matched: Vec<Matched> = r.matched_statements().iter().map(matched_of).collect();
            let mut missing: Vec<String> = r.missing_context_values().to_vec();
            for specific in r.resource_specific_results() {
                matched.extend(specific.matched_statements().iter().map(matched_of));
                for k in specific.missing_context_values() {
                    if !missing.contains(k) {
                        missing.push(k.clone());
                    }
                }
            }
            Answer {
                action: r.eval_action_name().to_string(),
                decision: match r.eval_decision() {
                    PolicyEvaluationDecisionType::Allowed => Decision::Allowed,
                    PolicyEvaluationDecisionType::ExplicitDeny => Decision::ExplicitDeny,
                    // implicitDeny, and any decision this SDK does not know: not allowed.
                    _ => Decision::ImplicitDeny,
                },
                matched,
                missing,
            }
        })
        .collect())
}

/// [`ask`], then, for the actions the simulator does not allow, the same question with the
/// bucket's policy reduced to ferry's own statements (`control_policy`): an action that this
/// control does not allow either is one the simulator cannot judge here (the 2023 IAM User Guide:
/// "The policy simulator doesn't support simulation for IAM roles and users for cross-account
/// access"), so its answer becomes unanswered rather than a refusal of every copy.
pub async fn ask_checked(
    iam: &aws_sdk_iam::Client,
    q: &Question,
) -> Result<Vec<Answer>, StepError> {
    let mut answers = ask(iam, q).await?;
    let Some(control) = &q.control_policy else {
        return Ok(answers);
    };
    if !answers.iter().any(|a| a.decision == Decision::ImplicitDeny) {
        return Ok(answers);
    }
    let alone = Question {
        resource_policy: Some(control.clone()),
        ..q.clone()
    };
    let controls = ask(iam, &alone).await?;
    for a in answers
        .iter_mut()
        .filter(|a| a.decision == Decision::ImplicitDeny)
    {
        let judged = controls
            .iter()
            .any(|c| c.action == a.action && c.decision == Decision::Allowed);
        if !judged {
            a.decision = Decision::Unanswered(
                "it does not allow the action even with ferry's statements alone in the bucket's policy, so it cannot judge this question".into(),
            );
        }
    }
    Ok(answers)
}

/// Every question of one half asked ([`ask_checked`]) and judged ([`verdicts`]); each verdict
/// that is not an allow is logged.
pub async fn ask_all(
    iam: &aws_sdk_iam::Client,
    questions: &[Question],
) -> Result<Vec<Verdict>, StepError> {
    let mut out = Vec::new();
    for q in questions {
        let answers = ask_checked(iam, q).await?;
        out.extend(verdicts(q, &answers));
    }
    for v in out.iter().filter(|v| v.outcome != Outcome::Allowed) {
        tracing::warn!(verdict = %v.describe(), outcome = ?v.outcome, "preflight");
    }
    Ok(out)
}

/// One half of a run's preflight (`side` names it in a refusal): every question asked; a
/// refusal fails the step ([`refuse_if_any`]), else the verdicts that are not allows (the
/// undecided ones) are returned for the run's output.
pub async fn run_half(
    iam: &aws_sdk_iam::Client,
    questions: &[Question],
    side: &str,
) -> Result<Vec<Verdict>, StepError> {
    let verdicts = refuse_if_any(ask_all(iam, questions).await?, side)?;
    tracing::info!(
        asked = verdicts.len(),
        side,
        "preflight: nothing refuses the copy"
    );
    Ok(verdicts
        .into_iter()
        .filter(|v| v.outcome != Outcome::Allowed)
        .collect())
}

fn matched_of(s: &Statement) -> Matched {
    Matched {
        resource_policy: s.source_policy_type() == Some(&PolicySourceType::Resource),
        line: s.start_position().map_or(0, |p| p.line()),
    }
}
