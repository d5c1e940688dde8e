//! The copy worker acts only for a job ferry submitted, and only within its copy.
//!
//! Anyone of the account allowed `lambda:InvokeFunction` on the worker can hand it an event, so
//! nothing in the event is taken on trust. Before it assumes any role, the worker asks S3 Batch
//! Operations, as itself, about the job the event names (DescribeJob): the job must be Active,
//! invoke this function (LambdaInvoke), run as the Batch role of the copy its arguments name,
//! and carry exactly the event's `userArguments`. The copy's stored plan then says which source
//! bucket and prefix the tasks may name and which destination the arguments may write. A
//! refusal fails the invocation's every task for good, naming the rule.
//!
//! No answer is kept between invocations: a job that has ended stops being one the worker acts
//! for at its next invocation.

use std::collections::BTreeMap;

use ferry_core::clients::Clients;
use ferry_core::control::StoredPlan;
use ferry_core::layout::CopyLayout;
use ferry_core::names::{batch_role_arn, partition};
use ferry_core::stack::StackConfig;
use ferry_core::worker::{WorkerArguments, WorkerEvent};

/// What the worker may do for an authenticated job.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub args: WorkerArguments,
    /// The account that owns the copy's source bucket: every call on it expects that owner.
    pub source_account: String,
    pub source_bucket: String,
    pub source_prefix: String,
}

impl Authenticated {
    /// Whether a task's object is one of the copy's: in its source bucket, under its prefix.
    pub fn covers(&self, bucket: &str, key: &str) -> Result<(), String> {
        if bucket != self.source_bucket {
            return Err(format!(
                "s3://{bucket} is not this copy's source bucket ({}): refused",
                self.source_bucket
            ));
        }
        if !key.starts_with(&self.source_prefix) {
            return Err(format!(
                "{key} is not under this copy's source prefix {:?}: refused",
                self.source_prefix
            ));
        }
        Ok(())
    }
}

/// The function's ARN without a version or alias qualifier.
fn unqualified(arn: &str) -> &str {
    match arn.match_indices(':').nth(6) {
        Some((i, _)) => &arn[..i],
        None => arn,
    }
}

/// Authenticates the event's job (see the module's documentation); `function_arn` is this
/// function's (the Lambda context's `invoked_function_arn`). The error is the refusal's text.
pub async fn authenticate(
    clients: &Clients,
    config: &StackConfig,
    event: &WorkerEvent,
    function_arn: &str,
) -> Result<Authenticated, String> {
    let id = &event.job.id;
    let refused = |why: String| format!("AccessDenied: copy-worker: job {id}: {why}: refused");
    let job = ferry_core::job::describe_job(&clients.s3control, &config.account_id, id)
        .await
        .map_err(|e| {
            refused(format!(
                "not a Batch Operations job of this account ({})",
                e.cause
            ))
        })?;
    let status = job.status().map_or("(none)", |s| s.as_str());
    if status != "Active" {
        return Err(refused(format!(
            "it is {status}, and the worker acts only for a running job"
        )));
    }
    let invoke = job
        .operation()
        .and_then(|o| o.lambda_invoke())
        .ok_or_else(|| refused("it invokes no function".into()))?;
    let invoked = invoke.function_arn().unwrap_or_default();
    if unqualified(invoked) != unqualified(function_arn) {
        return Err(refused(format!(
            "it invokes {invoked}, not this function ({function_arn})"
        )));
    }
    let theirs: BTreeMap<String, String> = invoke
        .user_arguments()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    if theirs != event.job.user_arguments {
        return Err(refused(
            "the event's userArguments are not the job's".into(),
        ));
    }
    let args = WorkerArguments::from_map(&theirs).map_err(refused)?;
    let role = batch_role_arn(partition(&config.region), &config.account_id, &args.copy_id);
    if job.role_arn() != Some(role.as_str()) {
        return Err(refused(format!(
            "it runs as {}, not the Batch role of copy {} ({role})",
            job.role_arn().unwrap_or("(none)"),
            args.copy_id
        )));
    }
    // Stored plans never change: read once per worker instance, not once per task.
    let key = CopyLayout::of(&config.account_id, &args.copy_id).plan_key();
    let body = clients
        .immutable_object(&config.ferry_bucket, &key)
        .await
        .map_err(|e| refused(format!("its copy's plan cannot be read ({})", e.cause)))?
        .ok_or_else(|| refused(format!("copy {} has no stored plan", args.copy_id)))?;
    let plan: StoredPlan = serde_json::from_slice(&body)
        .map_err(|e| refused(format!("its copy's plan {key} does not parse ({e})")))?;
    let req = &plan.request;
    if req.destination.bucket != args.destination_bucket
        || req.destination.key_prefix != args.key_prefix
    {
        return Err(refused(format!(
            "its destination s3://{}/{} is not copy {}'s (s3://{}/{})",
            args.destination_bucket,
            args.key_prefix,
            args.copy_id,
            req.destination.bucket,
            req.destination.key_prefix
        )));
    }
    // The settings are the plan's; a job of the rest of a copy that overwrites looks before it
    // writes (skip-identical), and a verification is one of any copy's jobs.
    let planned = WorkerArguments::of(req);
    let existing_ok = args.existing == planned.existing
        || (planned.existing == ferry_core::request::Existing::Overwrite
            && args.existing == ferry_core::request::Existing::SkipIdentical);
    if args.storage_class != planned.storage_class
        || args.metadata_directive != planned.metadata_directive
        || args.encryption != planned.encryption
        || !existing_ok
    {
        return Err(refused(format!(
            "its settings (storage class, metadata, encryption, existing objects) are not copy {}'s plan",
            args.copy_id
        )));
    }
    Ok(Authenticated {
        args,
        source_account: req.source.account_id.clone(),
        source_bucket: req.source.bucket.clone(),
        source_prefix: req.source.prefix.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qualified_function_arn_is_the_function() {
        let f = "arn:aws:lambda:eu-west-1:222222222222:function:ferry-copy-worker";
        assert_eq!(unqualified(&format!("{f}:live")), f);
        assert_eq!(unqualified(&format!("{f}:$LATEST")), f);
        assert_eq!(unqualified(f), f);
    }
}
