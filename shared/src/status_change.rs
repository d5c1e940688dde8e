//! The "Step Functions Execution Status Change" event EventBridge delivers to `cleanup-start`,
//! typed: the fields of the Step Functions Developer Guide's examples (cw-events; the contract
//! corpus's `sfn-status-change/`). Only what ferry reads is required; `startDate`, `stopDate`,
//! `input` and `output` may be absent or null (a RUNNING execution has no `stopDate`, a failed
//! one no `output`).

use serde::{Deserialize, Serialize};

/// The event's `source` and `detail-type`.
pub const SOURCE: &str = "aws.states";
pub const DETAIL_TYPE: &str = "Step Functions Execution Status Change";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionStatusChange {
    pub source: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub account: String,
    pub region: String,
    pub detail: StatusChangeDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChangeDetail {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub status: String,
    /// Epoch milliseconds.
    #[serde(default)]
    pub start_date: Option<i64>,
    #[serde(default)]
    pub stop_date: Option<i64>,
}

impl ExecutionStatusChange {
    /// From an event, refused (naming the field) unless it is a Step Functions status change.
    pub fn from_value(event: serde_json::Value) -> Result<ExecutionStatusChange, String> {
        let change: ExecutionStatusChange = serde_path_to_error::deserialize(event)
            .map_err(|e| format!("not a Step Functions Execution Status Change event: {e}"))?;
        if change.source != SOURCE || change.detail_type != DETAIL_TYPE {
            return Err(format!(
                "not a Step Functions Execution Status Change event: source {:?}, detail-type {:?}",
                change.source, change.detail_type
            ));
        }
        Ok(change)
    }
}
