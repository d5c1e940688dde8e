//! The preflight's destination half (ferry_core::preflight).

use ferry_core::clients::{read_bucket_policy, Clients};
use ferry_core::clock::{Clock, SystemClock};
use ferry_core::preflight::{self, Verdict};
use ferry_core::steps::RunPlan;
use ferry_core::{stack::StackConfig, ErrorName, StepError};

/// The preflight's destination half, before anything is granted or created: every S3 statement
/// of the Batch role's policy, within the stack's permissions boundary, put to IAM's policy
/// simulator, the destination bucket's with that bucket's policy (the source account asks about
/// its buckets with theirs, in its own step). A refusal fails the plan naming the statement;
/// the undecided verdicts are returned.
pub async fn destination_half(
    clients: &Clients,
    config: &StackConfig,
    plan: &RunPlan,
) -> Result<Vec<Verdict>, StepError> {
    let bucket = &plan.request.destination.bucket;
    let mut policies = std::collections::BTreeMap::new();
    if let Some(text) = read_bucket_policy(&clients.s3, bucket, &config.account_id).await? {
        let policy = serde_json::from_str(&text).map_err(|e| {
            StepError::new(
                ErrorName::InvalidRequest,
                format!("destination.bucket: {bucket}'s policy is not JSON: {e}"),
            )
        })?;
        policies.insert(bucket.clone(), policy);
    }
    let questions = preflight::role_questions(
        &plan.preflight_subject(),
        Some(&preflight::boundary_of(config)),
        &policies,
        SystemClock.now(),
    );
    preflight::run_half(
        &clients.iam,
        &questions,
        &format!("destination account {}", config.account_id),
    )
    .await
}
