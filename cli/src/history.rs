//! An execution's history, read newest first with one paginator, and the outputs of ferry's
//! functions in it read back with ferry-core's own types.

use aws_sdk_sfn::types::HistoryEvent;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::target::Target;
use crate::{aws_error, Result};

/// Reads the history of execution `arn` newest first, one page (up to 100 events) at a time,
/// until `enough` says a page was the last one needed or the history ends.
pub async fn newest_first(
    target: &Target,
    arn: &str,
    mut enough: impl FnMut(&[HistoryEvent]) -> bool,
) -> Result<()> {
    let mut token = None;
    loop {
        let page = target
            .clients
            .sfn
            .get_execution_history()
            .execution_arn(arn)
            .reverse_order(true)
            .max_results(100)
            .set_next_token(token)
            .send()
            .await
            .map_err(aws_error("GetExecutionHistory"))?;
        if enough(page.events()) {
            return Ok(());
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(());
        }
    }
}

/// What a `lambda:invoke` Task returns: the function's own output in `Payload`.
#[derive(Debug, Deserialize)]
struct Invoked<T> {
    #[serde(rename = "Payload")]
    payload: T,
}

/// The output of the function a succeeded Task invoked, read as `T`; `None` for another event,
/// or a Task whose function returns something else.
pub fn task_output<T: DeserializeOwned>(event: &HistoryEvent) -> Option<T> {
    let text = event.task_succeeded_event_details()?.output()?;
    serde_json::from_str::<Invoked<T>>(text)
        .ok()
        .map(|i| i.payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::types::{HistoryEventType, TaskSucceededEventDetails};
    use ferry_core::steps::JobRecord;

    fn succeeded(output: &str) -> HistoryEvent {
        HistoryEvent::builder()
            .id(7)
            .r#type(HistoryEventType::TaskSucceeded)
            .timestamp(aws_smithy_types::DateTime::from_secs(0))
            .task_succeeded_event_details(
                TaskSucceededEventDetails::builder()
                    .resource_type("lambda")
                    .resource("invoke")
                    .output(output)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    /// A `lambda:invoke` result as Step Functions records it, around job-submit's JobRecord.
    #[test]
    fn the_job_record_is_read_from_a_lambda_invoke_result() {
        let record = serde_json::to_value(ferry_core::testing::csv_job_record(0)).unwrap();
        let out =
            serde_json::json!({"ExecutedVersion": "$LATEST", "Payload": record, "StatusCode": 200});
        let read: JobRecord = task_output(&succeeded(&out.to_string())).unwrap();
        assert_eq!(read.job_id, "job-1");
        // Another function's output is not a job record.
        let other = serde_json::json!({"Payload": {"changed": ["src-photos"]}});
        assert!(task_output::<JobRecord>(&succeeded(&other.to_string())).is_none());
    }
}
