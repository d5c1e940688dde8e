//! The plan of one run of a copy ([`RunPlan`]), which the state machine carries from step to step
//! (`$.plan`), and how `plan` builds it: from a copy request and the execution (a run), or from a
//! copy's stored request and the run it names (a cleanup). Every function derives names and
//! policies from it.

use serde::{Deserialize, Serialize};

use crate::clock::{parse_timestamp, Epoch};
use crate::job::grant_expiry;
use crate::names::{Attempt, ExecutionName, Names, SourceSide};
use crate::policy::CopyPolicies;
use crate::request::CopyRequest;
use crate::stack::StackContext;
use crate::{ErrorName, StepError};

/// How far the clocks of two functions may disagree when one checks an expiry the other set.
pub const CLOCK_SKEW_SECONDS: i64 = 300;

/// `plan`'s input: the execution's input and the context object's name and start time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanInput {
    /// The copy request as written (validated by `plan`), or `{"runCopy": "<copyId>"}` /
    /// `{"verifyCopy": "<copyId>"}` for a run of a copy whose plan is stored.
    pub request: serde_json::Value,
    /// `$$.Execution.Name`: `<copyId>-<n>`.
    pub execution: String,
    /// `$$.Execution.StartTime`.
    pub start_time: String,
}

/// `plan`'s input in cleanup mode, from the execution input `{"cleanup": {"execution": "<name>"}}`
/// of a cleanup execution, which revokes what run `<name>` left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CleanupInput {
    /// The execution input's `cleanup` section.
    pub cleanup: CleanupOf,
    /// `$$.Execution.Name`: `<copyId>-cleanup-<n>`.
    pub execution: String,
    pub start_time: String,
}

pub use crate::execution_input::CleanupOf;

/// What `plan` accepts: a copy request, or a run to clean up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PlanEvent {
    Copy(PlanInput),
    Cleanup(CleanupInput),
}

/// One run of a copy, as every later step receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunPlan {
    pub request: CopyRequest,
    pub execution: String,
    pub run: u16,
    pub started_at: Epoch,
    /// When this run's grants expire; moved forward when they are renewed.
    pub expires_at: Epoch,
    pub ferry_bucket: String,
    /// Flow A: the delivered inventory report the job reads, once the wait has found it.
    #[serde(default)]
    pub inventory_manifest: Option<InventoryManifestRef>,
    /// What the state machine calls in the copy's source account (`$.plan.sourceSide`): that
    /// account's invoke role and source functions. Derived from the request each time a plan
    /// is made (a cleanup's too); absent from plans of earlier versions, which never read it.
    #[serde(default)]
    pub source_side: SourceSide,
    /// The KMS key the copies are encrypted under (SSE-KMS), when the request does not name
    /// one: the destination bucket's default key, which plan reads. The Batch role may use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_default_key: Option<String>,
    /// Whether the destination held an object under `keyPrefix` when the plan was made. With
    /// `destination.existing` other than `overwrite`, the copy then runs with the copy worker,
    /// which looks at each destination key first; into an empty prefix S3PutObjectCopy runs.
    #[serde(default)]
    pub destination_occupied: bool,
    /// A verification run (`ferry verify`, execution input `{"verifyCopy": "<copyId>"}`): the
    /// stored plan's request, and one job, the verification of the copy's manifest (flow A: the
    /// latest inventory report delivered for the copy).
    #[serde(default)]
    pub verify_only: bool,
    /// The destination bucket's versioning (`Enabled`, `Suspended`, `Disabled`) when the copy
    /// may overwrite (`destination.existing` overwrite or skip-identical): what an overwritten
    /// object becomes (a noncurrent version, or gone). Not looked at for `refuse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_versioning: Option<Versioning>,
    /// Flow C with `manifest.filter.incremental`: the start of the last run of this copy that
    /// copied everything; the run's jobs list only objects created after it. Absent for the
    /// first run, which lists everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental_since: Option<Epoch>,
    /// The preflight's destination half (plan): its verdicts that are not plain allows, the
    /// undecided ones (a refusal fails the plan). Always present, for the state machine's
    /// JSONPath (the run's end event carries it).
    #[serde(default)]
    pub preflight: Vec<crate::preflight::Verdict>,
}

/// A bucket's versioning, as GetBucketVersioning's `Status` says it (absent: never enabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    Enabled,
    Suspended,
    Disabled,
}

impl Versioning {
    /// GetBucketVersioning's `Status` (`Enabled`, `Suspended`, or none: never enabled). A
    /// status this version does not know reads as not versioned: an overwrite is then said to
    /// lose the object, the warning that errs on the careful side.
    pub fn from_status(status: Option<&str>) -> Versioning {
        match status {
            Some("Enabled") => Versioning::Enabled,
            Some("Suspended") => Versioning::Suspended,
            _ => Versioning::Disabled,
        }
    }

    /// Whether an overwritten object stays, as a noncurrent version.
    pub fn keeps_overwritten(self) -> bool {
        self == Versioning::Enabled
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Versioning::Enabled => "Enabled",
            Versioning::Suspended => "Suspended",
            Versioning::Disabled => "Disabled",
        }
    }
}

impl PlanInput {
    /// A run of a copy's stored plan: the execution input `{"runCopy": "<copyId>"}` (a
    /// scheduled run) or `{"verifyCopy": "<copyId>"}` (a verification run); the copy id, and
    /// whether the run only verifies. `None` for a copy request; `InvalidRequest` for an input
    /// that names a stored run but is not one.
    pub fn stored_copy(&self) -> Result<Option<(String, bool)>, StepError> {
        let input = crate::execution_input::ExecutionInput::parse(&self.request)
            .map_err(|why| StepError::new(ErrorName::InvalidRequest, why))?;
        Ok(input.stored_copy().map(|(c, v)| (c.to_string(), v)))
    }
}

impl RunPlan {
    /// Whether the copy's jobs run the copy worker (LambdaInvoke) for every object.
    pub fn worker_for_everything(&self) -> bool {
        self.request.destination.existing != crate::request::Existing::Overwrite
            && self.destination_occupied
    }
}

/// A delivered inventory report: its `manifest.json` in the ferry bucket, and that object's
/// ETag (CreateJob needs it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryManifestRef {
    pub key: String,
    pub etag: String,
    /// `creationTimestamp` of the manifest, milliseconds since the epoch.
    pub created_at_millis: u64,
}

impl RunPlan {
    /// Validates the request against the stack and derives the run from the execution.
    pub fn from_input(input: &PlanInput, ctx: &StackContext) -> Result<RunPlan, StepError> {
        let request = CopyRequest::from_value(&input.request)?;
        request.validate(ctx)?;
        let run = match ExecutionName::parse(&input.execution) {
            Some(e) if !e.cleanup && e.copy_id == request.copy_id => u16::try_from(e.number)
                .map_err(|_| {
                    StepError::new(
                        ErrorName::InvalidRequest,
                        format!("execution {}: run numbers go up to 65535", input.execution),
                    )
                })?,
            _ => {
                return Err(StepError::new(
                    ErrorName::InvalidRequest,
                    format!(
                        "execution name `{}` must be `{}-<n>`: the copyId and a run number",
                        input.execution, request.copy_id
                    ),
                ))
            }
        };
        let started_at = parse_timestamp(&input.start_time)
            .map_err(|e| StepError::new(ErrorName::InvalidRequest, e.to_string()))?;
        let expires_at = grant_expiry(started_at, request.timing.grant_lifetime_seconds);
        Ok(RunPlan::of(
            request,
            run,
            input.execution.clone(),
            started_at,
            expires_at,
            ctx,
        ))
    }

    /// The plan of the run a cleanup names, rebuilt from the copy's stored request (its stored
    /// plan's), which is validated against the stack as a run's request is: its grants are
    /// renewed nowhere, only revoked. A forced cleanup (`ferry revoke`) revokes everything,
    /// bucket statements and inventory configuration included, whatever the copy's `cleanup`
    /// section keeps.
    pub fn for_cleanup(
        input: &CleanupInput,
        stored: CopyRequest,
        ctx: &StackContext,
    ) -> Result<RunPlan, StepError> {
        let invalid = |why: String| StepError::new(ErrorName::InvalidRequest, why);
        let cleanup_of = &input.cleanup.execution;
        let target = ExecutionName::parse(cleanup_of)
            .filter(|e| !e.cleanup)
            .ok_or_else(|| {
                invalid(format!(
                    "cleanup.execution: `{cleanup_of}` is not the name of a copy's run (`<copyId>-<n>`)"
                ))
            })?;
        stored.validate(ctx).map_err(|v| {
            let e = StepError::from(v);
            invalid(format!(
                "the stored plan of copy {} does not hold against this stack any more: {}",
                stored.copy_id, e.cause
            ))
        })?;
        let mut request = stored;
        if input.cleanup.force {
            request.cleanup = crate::request::Cleanup::default();
        }
        if target.copy_id != request.copy_id {
            return Err(invalid(format!(
                "the stored plan is of copy {}, not {}",
                request.copy_id, target.copy_id
            )));
        }
        let started_at = parse_timestamp(&input.start_time).map_err(|e| invalid(e.to_string()))?;
        let run = u16::try_from(target.number)
            .map_err(|_| invalid(format!("run {} is out of range", target.number)))?;
        // A cleanup grants nothing: its expiry is its start.
        Ok(RunPlan::of(
            request,
            run,
            cleanup_of.clone(),
            started_at,
            started_at,
            ctx,
        ))
    }

    /// The plan of run `run` of `request` (execution `execution`), before `plan` looks at the
    /// destination: the source side's names follow from the request, the ferry bucket from the
    /// stack.
    fn of(
        request: CopyRequest,
        run: u16,
        execution: String,
        started_at: Epoch,
        expires_at: Epoch,
        ctx: &StackContext,
    ) -> RunPlan {
        RunPlan {
            run,
            execution,
            started_at,
            expires_at,
            ferry_bucket: ctx.ferry_bucket.clone(),
            inventory_manifest: None,
            source_side: SourceSide::of(
                &request.source.account_id,
                &request.region,
                &request.destination.account_id,
            ),
            destination_default_key: None,
            destination_occupied: false,
            verify_only: false,
            destination_versioning: None,
            incremental_since: None,
            preflight: Vec::new(),
            request,
        }
    }

    /// The KMS key the copies are encrypted under: the request's SSE-KMS key, else the
    /// destination bucket's default key (SSE-S3 asked for: none).
    pub fn destination_key(&self) -> Option<&str> {
        match &self.request.destination.encryption {
            Some(e) => e.kms_key_arn.as_deref(),
            None => self.destination_default_key.as_deref(),
        }
    }

    pub fn names(&self) -> Names {
        Names::new(&self.request, &self.ferry_bucket)
    }

    /// What the preflight asks about for this run.
    pub fn preflight_subject(&self) -> crate::preflight::Subject<'_> {
        crate::preflight::Subject {
            request: &self.request,
            names: self.names(),
            destination_key: self.destination_key(),
            expires_at: self.expires_at,
        }
    }

    /// Whether, at `at`, the run's new grants may still be taking effect (within
    /// `timing.propagationSeconds` of the run's start): an access refusal then is retried.
    pub fn grants_may_be_settling(&self, at: Epoch) -> bool {
        let window = i64::try_from(self.request.timing.propagation_seconds).unwrap_or(i64::MAX);
        at < self.started_at.saturating_add(window)
    }

    /// `err` as a step reports it at `now`: an `AccessDenied` while the run's grants may still
    /// be settling becomes [`ErrorName::NotYetInEffect`], which the state machine retries.
    pub fn refusal_while_settling(&self, err: StepError, now: Epoch) -> StepError {
        if err.name == ErrorName::AccessDenied && self.grants_may_be_settling(now) {
            StepError {
                name: ErrorName::NotYetInEffect,
                cause: format!("{} (the run's grants may not be in effect yet)", err.cause),
                source: err.source,
            }
        } else {
            err
        }
    }

    pub fn policies(&self) -> CopyPolicies {
        // A verification run verifies whatever the request says about `verify`: its role reads
        // the destination as a verifying copy's does.
        let verifying;
        let request = if self.verify_only && !self.request.verifies() {
            let mut r = self.request.clone();
            r.verify.enabled = Some(true);
            verifying = r;
            &verifying
        } else {
            &self.request
        };
        CopyPolicies::render(
            request,
            &self.names(),
            self.expires_at,
            self.destination_key(),
        )
    }

    /// The first job of this run.
    pub fn first_attempt(&self) -> Attempt {
        Attempt {
            run: self.run,
            job: 0,
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn versioning_reads_as_s3_says_it_and_passes_as_the_same_string() {
        use super::Versioning;
        for (status, v) in [
            (Some("Enabled"), Versioning::Enabled),
            (Some("Suspended"), Versioning::Suspended),
            (None, Versioning::Disabled),
            (Some("SomethingNew"), Versioning::Disabled),
        ] {
            assert_eq!(Versioning::from_status(status), v);
        }
        assert_eq!(
            serde_json::to_value(Versioning::Suspended).unwrap(),
            "Suspended"
        );
        assert!(
            Versioning::Enabled.keeps_overwritten() && !Versioning::Suspended.keeps_overwritten()
        );
    }

    use super::*;
    use crate::stack::{StackConfig, StackContext};
    use crate::ErrorName;

    fn ctx() -> StackContext {
        crate::testing::destination_stack().context()
    }

    fn input(execution: &str) -> PlanInput {
        PlanInput {
            request: serde_json::from_str(include_str!("../fixtures/request-csv.json")).unwrap(),
            execution: execution.into(),
            start_time: "2026-11-28T13:45:50.123Z".into(),
        }
    }

    fn stack(source_side: bool) -> StackConfig {
        if !source_side {
            return crate::testing::destination_stack();
        }
        StackConfig {
            // The template names a source stack's ferry bucket after its own account: never
            // the one a plan must name.
            ferry_bucket: "ferry-111111111111-eu-west-1".into(),
            ..crate::testing::source_stack()
        }
    }

    #[test]
    fn a_plan_of_this_stack_holds_on_both_sides() {
        let p = RunPlan::from_input(&input("photos-2026-1"), &ctx()).unwrap();
        let now = p.started_at + 60;
        for source_side in [false, true] {
            p.check_against(&stack(source_side), now, p.expires_at)
                .unwrap();
        }
    }

    #[test]
    fn the_source_side_refuses_a_plan_it_did_not_agree_to() {
        let good = RunPlan::from_input(&input("photos-2026-1"), &ctx()).unwrap();
        let now = good.started_at + 60;
        let source = stack(true);
        let refused = |p: &RunPlan, expires_at: Epoch| {
            let err = p.check_against(&source, now, expires_at).unwrap_err();
            assert_eq!(err.name, ErrorName::AccessDenied);
            err.cause
        };
        // A third account as the destination: the grant would name its root.
        let mut p = good.clone();
        p.request.destination.account_id = "333333333333".into();
        p.ferry_bucket = "ferry-333333333333-eu-west-1".into();
        assert!(refused(&p, p.expires_at).contains("serves the destination accounts of its DestinationAccountIds parameter (222222222222); the plan's destination.accountId is 333333333333: refused"));
        // Listed, the same plan holds: a source stack serves each of its destinations, each
        // with that destination's own ferry bucket.
        let two = StackConfig {
            destination_account_ids: vec!["222222222222".into(), "333333333333".into()],
            ..source.clone()
        };
        p.check_against(&two, now, p.expires_at).unwrap();
        let mut wrong = p.clone();
        wrong.ferry_bucket = crate::testing::FERRY_BUCKET.into();
        let err = wrong
            .check_against(&two, now, wrong.expires_at)
            .unwrap_err();
        assert!(
            err.cause
                .contains("not the destination stack's ferry-333333333333-eu-west-1"),
            "{}",
            err.cause
        );
        // The right account, another ferry bucket: inventory would be delivered there.
        let mut p = good.clone();
        p.ferry_bucket = "attacker-bucket".into();
        assert!(refused(&p, p.expires_at).contains("ferry bucket is attacker-bucket, not the destination stack's ferry-222222222222-eu-west-1"));
        // A grant until 9999.
        assert!(refused(&good, 253_402_300_799)
            .contains("lies beyond now + timing.grantLifetimeSeconds"));
        // A bucket the source stack does not list.
        let mut p = good.clone();
        p.request.source.bucket = "payroll".into();
        assert!(refused(&p, p.expires_at)
            .contains("source.bucket: payroll is not in the stacks' SourceBuckets"));
        // Another source account.
        let mut p = good;
        p.request.source.account_id = "444444444444".into();
        assert!(refused(&p, p.expires_at)
            .contains("source.accountId is 444444444444, not this account"));
    }

    /// The security round's finding 4: the source account caps how long its grants last and
    /// whether a copy may keep its bucket statements, whatever the request asks.
    #[test]
    fn the_source_stack_caps_grant_lifetimes_and_may_forbid_kept_grants() {
        let good = RunPlan::from_input(&input("photos-2026-1"), &ctx()).unwrap();
        let now = good.started_at + 60;
        let capped = StackConfig {
            grant_lifetime_max: 3_600,
            kept_grants: false,
            ..stack(true)
        };
        // The fixture asks for longer than an hour: refused, naming the stack's cap.
        assert!(good.request.timing.grant_lifetime_seconds > 3_600);
        let err = good
            .check_against(&capped, now, good.expires_at)
            .unwrap_err();
        assert_eq!(err.name, ErrorName::AccessDenied);
        assert!(
            err.cause
                .contains("lies beyond now + the source stack's MaxGrantLifetimeSeconds (3600 s"),
            "{}",
            err.cause
        );
        // Within the cap: granted.
        good.check_against(&capped, now, now + 3_000).unwrap();
        // Kept grants, forbidden.
        let mut keeps = good.clone();
        keeps.request.cleanup.revoke_grants = false;
        let err = keeps.check_against(&capped, now, now + 3_000).unwrap_err();
        assert!(
            err.cause.contains(
                "this source stack forbids kept grants (its KeptGrants parameter is not `allow`)"
            ),
            "{}",
            err.cause
        );
        // Allowed by a stack that says so; the destination side has no say.
        keeps
            .check_against(&stack(true), now, keeps.expires_at)
            .unwrap();
        keeps
            .check_against(&stack(false), now, keeps.expires_at)
            .unwrap();
    }

    #[test]
    fn the_destination_side_refuses_an_unlisted_destination() {
        let mut p = RunPlan::from_input(&input("photos-2026-1"), &ctx()).unwrap();
        p.request.destination.bucket = "prod-database-backups".into();
        let err = p
            .check_against(&stack(false), p.started_at, p.expires_at)
            .unwrap_err();
        assert_eq!(err.name, ErrorName::AccessDenied);
        assert!(err.cause.contains("destination.bucket: prod-database-backups is not in the destination stack's DestinationBuckets parameter (dst-photos)"), "{}", err.cause);
    }

    #[test]
    fn a_run_plan_comes_from_the_execution() {
        let p = RunPlan::from_input(&input("photos-2026-3"), &ctx()).unwrap();
        assert_eq!(p.run, 3);
        assert_eq!(p.started_at, 1_795_873_550);
        assert_eq!(p.expires_at, 1_795_873_550 + 1_468_800);
        assert_eq!(p.first_attempt(), Attempt { run: 3, job: 0 });
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(serde_json::from_value::<RunPlan>(json).unwrap(), p);
    }

    #[test]
    fn the_execution_must_name_the_copy() {
        for bad in [
            "photos-2025-1",
            "photos-2026",
            "photos-2026-cleanup-1",
            "photos-2026-99999",
        ] {
            let err = RunPlan::from_input(&input(bad), &ctx()).unwrap_err();
            assert_eq!(err.name, ErrorName::InvalidRequest, "{bad}");
        }
    }

    #[test]
    fn an_invalid_request_is_invalid_request_with_every_field() {
        let mut i = input("photos-2026-1");
        i.request["source"]["bucket"] = "ab".into();
        i.request["job"]["priority"] = (-1).into();
        let err = RunPlan::from_input(&i, &ctx()).unwrap_err();
        assert_eq!(err.name, ErrorName::InvalidRequest);
        assert!(
            err.cause.contains("source.bucket") && err.cause.contains("job.priority"),
            "{}",
            err.cause
        );
    }
}
