//! The rules for the request's durations (`timing`): each within the range ferry's steps and
//! Step Functions' history allow.

use super::validate::Checker;
use super::StackContext;
use super::*;

impl CopyRequest {
    pub(super) fn check_timing(&self, ctx: &StackContext, v: &mut Checker) {
        let t = &self.timing;
        if !(1..=POLL_SECONDS_MAX).contains(&t.poll_seconds) {
            v.add(
                "timing.pollSeconds",
                format!(
                    "must be between 1 and {POLL_SECONDS_MAX} (got {}): the wait grows to 15 minutes from it",
                    t.poll_seconds
                ),
            );
        }
        if !(t.poll_seconds.max(1)..=POLL_SECONDS_MAX).contains(&t.max_poll_seconds) {
            v.add(
                "timing.maxPollSeconds",
                format!(
                    "must be between timing.pollSeconds ({}) and {POLL_SECONDS_MAX} (got {}): the longest wait between two looks at a running job",
                    t.poll_seconds, t.max_poll_seconds
                ),
            );
        }
        if t.inventory_deadline_seconds == 0
            || t.inventory_deadline_seconds > INVENTORY_DEADLINE_MAX
        {
            v.add(
                "timing.inventoryDeadlineSeconds",
                format!(
                    "must be between 1 and {INVENTORY_DEADLINE_MAX} (31 days) (got {})",
                    t.inventory_deadline_seconds
                ),
            );
        }
        if t.inventory_check_seconds == 0
            || t.inventory_check_seconds > t.inventory_deadline_seconds
        {
            v.add(
                "timing.inventoryCheckSeconds",
                format!(
                    "must be between 1 and timing.inventoryDeadlineSeconds ({}) (got {})",
                    t.inventory_deadline_seconds, t.inventory_check_seconds
                ),
            );
        }
        let min = ctx.grant_lifetime_min;
        if !(min..=GRANT_LIFETIME_MAX).contains(&t.grant_lifetime_seconds) {
            v.add(
                "timing.grantLifetimeSeconds",
                format!(
                    "must be between {min} and {GRANT_LIFETIME_MAX} (a year, the longest execution) (got {})",
                    t.grant_lifetime_seconds
                ),
            );
        }
        if t.propagation_seconds > PROPAGATION_SECONDS_MAX {
            v.add(
                "timing.propagationSeconds",
                format!(
                    "must be at most {PROPAGATION_SECONDS_MAX} (an hour) (got {})",
                    t.propagation_seconds
                ),
            );
        }
    }
}
