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

    /// A source function's check of who invoked it, before anything else and for every action
    /// (a revoke included): it was invoked through the alias `dest-<account>` of the plan's
    /// destination account. Each destination account's invoke role may invoke only its own
    /// alias (template.yaml, `Fn::ForEach::Destinations`), so a destination cannot act on
    /// another's copies (revoke its grants, remove its inventory) by handing over a plan
    /// naming it. `invoked_function_arn` is the Lambda context's.
    pub fn check_invoker(&self, invoked_function_arn: &str) -> Result<(), StepError> {
        let destination = &self.request.destination.account_id;
        match crate::names::invoking_destination(invoked_function_arn) {
            Some(caller) if caller == destination => Ok(()),
            Some(caller) => Err(StepError::new(
                ErrorName::AccessDenied,
                format!(
                    "invoked through the alias of destination account {caller} ({invoked_function_arn}) with a plan into {destination}: a destination acts on its own copies only; refused"
                ),
            )),
            None => Err(StepError::new(
                ErrorName::AccessDenied,
                format!(
                    "invoked as {invoked_function_arn}, not through a destination's alias ({}): the source functions act only for the destination account whose alias was invoked; refused",
                    crate::names::destination_alias(destination)
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::steps::{PlanInput, RunPlan};

    fn plan() -> RunPlan {
        let input = PlanInput {
            request: serde_json::from_str(include_str!("../fixtures/request-csv.json")).unwrap(),
            execution: "photos-2026-1".into(),
            start_time: "2026-11-28T13:45:50.123Z".into(),
        };
        RunPlan::from_input(&input, &crate::testing::destination_stack().context()).unwrap()
    }

    #[test]
    fn a_source_function_acts_only_for_the_destination_whose_alias_was_invoked() {
        let p = plan();
        let destination = p.request.destination.account_id.clone();
        // What the state machine invokes: the plan's own source side.
        p.check_invoker(&p.source_side.access_function).unwrap();
        p.check_invoker(&p.source_side.inventory_function).unwrap();
        let unqualified = "arn:aws:lambda:eu-west-1:111111111111:function:ferry-source-access";
        let other = p
            .source_side
            .access_function
            .replace(&destination, "333333333333");
        let e = p.check_invoker(&other).unwrap_err();
        assert_eq!(e.name, crate::ErrorName::AccessDenied);
        assert!(
            e.cause.contains(&format!(
                "alias of destination account 333333333333 ({other}) with a plan into {destination}"
            )),
            "{e:?}"
        );
        for arn in [
            unqualified.to_string(),
            format!("{unqualified}:1"),
            String::new(),
        ] {
            let e = p.check_invoker(&arn).unwrap_err();
            assert_eq!(e.name, crate::ErrorName::AccessDenied);
            assert!(
                e.cause.contains(&format!(
                    "not through a destination's alias (dest-{destination})"
                )),
                "{e:?}"
            );
        }
    }
}
