//! Every way a ferry execution starts, as one type, and the schedule's input to `cleanup-start`.
//! The JSON is what the state machine has always received (its Choice states read these shapes:
//! `statemachine.rs` checks them); no code builds it with `json!` or reads it by key.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The execution input's `cleanup` section: the run to clean up, which must have ended, and
/// whether the cleanup is forced (`ferry revoke`: the run need not exist any more, and
/// everything is revoked, whatever the copy's `cleanup` section keeps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CleanupOf {
    /// `<copyId>-<n>`.
    pub execution: String,
    /// Written only when set: a cleanup's input is `{"cleanup": {"execution": ...}}` otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

/// The input of an execution of ferry's state machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ExecutionInput {
    /// A new run of a copy's stored plan (a scheduled sync, started by `cleanup-start`):
    /// `{"runCopy": "<copyId>"}`.
    RunCopy(RunCopy),
    /// A verification run (`ferry verify`, or a scheduled verification):
    /// `{"verifyCopy": "<copyId>"}`.
    VerifyCopy(VerifyCopy),
    /// A cleanup of run `<copyId>-<n>` (the cleanup rule's; `ferry revoke`'s adds
    /// `"force": true`): `{"cleanup": {"execution": "<copyId>-<n>"}}`.
    Cleanup(CleanupRequest),
    /// A copy request as written (`ferry start`); `plan` validates it.
    Request(Value),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunCopy {
    pub run_copy: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyCopy {
    pub verify_copy: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CleanupRequest {
    pub cleanup: CleanupOf,
}

/// What an execution input is not: `{"runCopy": ...}` with other fields, say. The rule, for the
/// caller's error.
pub const STORED_RUN_SHAPE: &str =
    "a run of a stored plan has the input {\"runCopy\": \"<copyId>\"} or {\"verifyCopy\": \"<copyId>\"}, and nothing else";

impl ExecutionInput {
    /// A new run of `copy_id`'s stored plan, verifying only when `verify`.
    pub fn stored_run(copy_id: &str, verify: bool) -> ExecutionInput {
        if verify {
            ExecutionInput::VerifyCopy(VerifyCopy {
                verify_copy: copy_id.to_string(),
            })
        } else {
            ExecutionInput::RunCopy(RunCopy {
                run_copy: copy_id.to_string(),
            })
        }
    }

    /// The cleanup of run `execution`; `force` revokes everything (`ferry revoke`).
    pub fn cleanup(execution: &str, force: bool) -> ExecutionInput {
        ExecutionInput::Cleanup(CleanupRequest {
            cleanup: CleanupOf {
                execution: execution.to_string(),
                force,
            },
        })
    }

    /// An execution input read back: one of the typed shapes, or a copy request. A value
    /// that names `runCopy` or `verifyCopy` but is not exactly that shape is refused with
    /// [`STORED_RUN_SHAPE`] (it is no copy request either).
    pub fn parse(value: &Value) -> Result<ExecutionInput, String> {
        let input: ExecutionInput =
            serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        if let ExecutionInput::Request(Value::Object(fields)) = &input {
            if fields.contains_key("runCopy") || fields.contains_key("verifyCopy") {
                return Err(STORED_RUN_SHAPE.to_string());
            }
        }
        Ok(input)
    }

    /// A run of a copy's stored plan: its copy id, and whether the run only verifies.
    pub fn stored_copy(&self) -> Option<(&str, bool)> {
        match self {
            ExecutionInput::RunCopy(r) => Some((&r.run_copy, false)),
            ExecutionInput::VerifyCopy(v) => Some((&v.verify_copy, true)),
            _ => None,
        }
    }

    /// The JSON the state machine receives.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an execution input serializes")
    }
}

/// An EventBridge schedule's input to `cleanup-start`: a scheduled sync
/// (`{"scheduledRun": "<copyId>"}`) or a scheduled verification
/// (`{"scheduledVerification": "<copyId>"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum ScheduleInput {
    ScheduledRun(String),
    ScheduledVerification(String),
}

impl ScheduleInput {
    /// The copy, and whether the run only verifies.
    pub fn copy(&self) -> (&str, bool) {
        match self {
            ScheduleInput::ScheduledRun(c) => (c, false),
            ScheduleInput::ScheduledVerification(c) => (c, true),
        }
    }

    /// `value` as a schedule's input, when it names one (`None`: another event); an error
    /// names the field when its copy id is not a non-empty string.
    pub fn parse(value: &Value) -> Option<Result<ScheduleInput, String>> {
        let fields = value.as_object()?;
        let field = ["scheduledRun", "scheduledVerification"]
            .into_iter()
            .find(|f| fields.contains_key(*f))?;
        Some(
            serde_json::from_value::<ScheduleInput>(value.clone())
                .ok()
                .filter(|s| !s.copy().0.is_empty())
                .ok_or_else(|| format!("{field}: a copyId (a string) is expected")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_shape_is_the_json_the_state_machine_reads() {
        for (input, json) in [
            (
                ExecutionInput::stored_run("photos-2026", false),
                json!({"runCopy": "photos-2026"}),
            ),
            (
                ExecutionInput::stored_run("photos-2026", true),
                json!({"verifyCopy": "photos-2026"}),
            ),
            (
                ExecutionInput::cleanup("photos-2026-3", true),
                json!({"cleanup": {"execution": "photos-2026-3", "force": true}}),
            ),
        ] {
            assert_eq!(serde_json::to_value(&input).unwrap(), json);
            assert_eq!(ExecutionInput::parse(&json).unwrap(), input);
        }
        // A cleanup that is not forced says nothing of it.
        assert_eq!(
            serde_json::to_value(ExecutionInput::cleanup("photos-2026-3", false)).unwrap(),
            json!({"cleanup": {"execution": "photos-2026-3"}})
        );
        // A copy request (its own `cleanup` section included) is a request.
        let request: Value =
            serde_json::from_str(include_str!("../fixtures/request-csv.json")).unwrap();
        assert_eq!(
            ExecutionInput::parse(&request).unwrap(),
            ExecutionInput::Request(request.clone())
        );
        assert_eq!(ExecutionInput::parse(&request).unwrap().stored_copy(), None);
        assert_eq!(
            ExecutionInput::stored_run("photos-2026", true).stored_copy(),
            Some(("photos-2026", true))
        );
        // Half a stored run is neither.
        for bad in [
            json!({"runCopy": "photos-2026", "verifyCopy": "photos-2026"}),
            json!({"runCopy": 7}),
            json!({"verifyCopy": "photos-2026", "copyId": "x"}),
        ] {
            assert_eq!(
                ExecutionInput::parse(&bad).unwrap_err(),
                STORED_RUN_SHAPE,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_schedules_input_names_its_copy() {
        assert_eq!(
            ScheduleInput::parse(&json!({"scheduledRun": "photos-2026"})),
            Some(Ok(ScheduleInput::ScheduledRun("photos-2026".into())))
        );
        assert_eq!(
            ScheduleInput::parse(&json!({"scheduledVerification": "photos-2026"}))
                .unwrap()
                .unwrap()
                .copy(),
            ("photos-2026", true)
        );
        for (bad, field) in [
            (json!({"scheduledRun": 7}), "scheduledRun"),
            (json!({"scheduledRun": ""}), "scheduledRun"),
            (
                json!({"scheduledVerification": null}),
                "scheduledVerification",
            ),
        ] {
            assert_eq!(
                ScheduleInput::parse(&bad),
                Some(Err(format!("{field}: a copyId (a string) is expected")))
            );
        }
        assert_eq!(ScheduleInput::parse(&json!({"detail-type": "x"})), None);
    }
}
