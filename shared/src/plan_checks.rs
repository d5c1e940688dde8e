//! What a function checks before it acts on a plan it was handed (the security reviews: no
//! function trusts its caller): the plan is one this stack could have made.

use crate::clock::{format_timestamp, Epoch};
use crate::stack::StackConfig;
use crate::steps::{RunPlan, CLOCK_SKEW_SECONDS};
use crate::{ErrorName, StepError};

impl RunPlan {
    /// What a function checks before it acts on a plan it was handed: the plan is one this
    /// stack could have made. The request passes validation against the stack (on the source
    /// side: its destination one of `DestinationAccountIds`, its source this account, its buckets in
    /// `SourceBuckets`), its ferry bucket is the destination stack's, and the grant expiry
    /// `expires_at` lies no further than the request's grant lifetime from `now` (five minutes
    /// of clock skew allowed). A state machine of someone else's, or a forged payload, gets
    /// `AccessDenied` naming the rule.
    pub fn check_against(
        &self,
        config: &StackConfig,
        now: Epoch,
        expires_at: Epoch,
    ) -> Result<(), StepError> {
        let denied = |why: String| StepError::new(ErrorName::AccessDenied, why);
        let req = &self.request;
        let ctx = if config.is_source_side() {
            config.serves(&req.destination.account_id)?;
            if req.source.account_id != config.account_id {
                return Err(denied(format!(
                    "the plan's source.accountId is {}, not this account ({}): refused",
                    req.source.account_id, config.account_id
                )));
            }
            config.source_context(&req.destination.account_id)
        } else {
            config.context()
        };
        if self.ferry_bucket != ctx.ferry_bucket {
            return Err(denied(format!(
                "the plan's ferry bucket is {}, not the destination stack's {}: refused",
                self.ferry_bucket, ctx.ferry_bucket
            )));
        }
        req.validate(&ctx)
            .map_err(|v| denied(format!("the plan does not hold against this stack: {v}")))?;
        // The source stack's own cap (MaxGrantLifetimeSeconds) as well as the request's.
        let (lifetime, what) = if config.is_source_side()
            && config.grant_lifetime_max < req.timing.grant_lifetime_seconds
        {
            (
                config.grant_lifetime_max,
                "the source stack's MaxGrantLifetimeSeconds",
            )
        } else {
            (
                req.timing.grant_lifetime_seconds,
                "timing.grantLifetimeSeconds",
            )
        };
        let latest = now
            .saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX))
            .saturating_add(CLOCK_SKEW_SECONDS);
        if expires_at > latest {
            return Err(denied(format!(
                "the grant expiry {} lies beyond now + {what} ({lifetime} s, {}): refused",
                format_timestamp(expires_at),
                format_timestamp(latest)
            )));
        }
        if config.is_source_side() && !req.cleanup.revoke_grants && !config.kept_grants {
            return Err(denied(
                "cleanup.revokeGrants is false, and this source stack forbids kept grants (its KeptGrants parameter is not `allow`): refused; revoke the grants at the end, or ask the source account to allow kept grants".into(),
            ));
        }
        Ok(())
    }
}
