//! The commands that act on a deployed ferry, one file each (`plan` and `demo` have their own
//! modules).

mod list;
mod report;
mod revoke;
mod start;

pub use list::{list, render_copies, render_executions};
pub use report::{render_report, report, ReportView};
pub use revoke::revoke;
pub use start::{start, verify, watch};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::Run;
    use aws_sdk_sfn::types::ExecutionStatus;
    use ferry_core::names::ExecutionName;
    use ferry_core::steps::CopyTotals;

    fn run(name: &str, status: ExecutionStatus, started: i64) -> Run {
        Run {
            name: ExecutionName::parse(name).unwrap(),
            arn: format!("arn:aws:states:eu-west-1:222222222222:execution:ferry:{name}"),
            status,
            started,
            stopped: Some(started + 60),
        }
    }

    #[test]
    fn list_shows_each_copy_once_with_its_latest_run_and_cleanup() {
        // Newest first, as ListExecutions answers.
        let runs = [
            run(
                "photos-2026-cleanup-3",
                ExecutionStatus::Succeeded,
                1_795_900_400,
            ),
            run("photos-2026-3", ExecutionStatus::Aborted, 1_795_900_300),
            run("logs-1", ExecutionStatus::Succeeded, 1_795_900_200),
            run("photos-2026-2", ExecutionStatus::Failed, 1_795_900_100),
            run("photos-2026-1", ExecutionStatus::Succeeded, 1_795_900_000),
        ];
        let text = render_copies(&runs, 20);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[1].starts_with("photos-2026"), "{text}");
        assert!(lines[1].contains("   3  ABORTED"), "{text}");
        assert!(
            lines[1].ends_with("photos-2026-cleanup-3 SUCCEEDED"),
            "{text}"
        );
        assert!(
            lines[2].starts_with("logs") && lines[2].ends_with(" -"),
            "{text}"
        );
        assert_eq!(render_copies(&runs, 1).lines().count(), 2);
        assert_eq!(render_executions(&runs).lines().count(), 6);
    }

    #[test]
    fn a_report_lists_counts_codes_and_failed_keys() {
        // The totals as job-report writes them (camelCase), read with ferry-core's type.
        let totals: CopyTotals = serde_json::from_value(serde_json::json!({
            "jobIds": ["j1", "j2"], "copied": 8, "failed": 2,
            "lastReport": {"tasks": 2, "succeeded": 0, "failed": 2, "retryable": 0, "permanent": 2,
              "byErrorCode": {"AccessDenied": {"count": 2, "class": "Permanent", "httpStatus": 403, "example": "Access Denied"}},
              "failedSample": [{"key": "2026/a b.jpg", "errorCode": "AccessDenied", "class": "Permanent"}]}
        }))
        .unwrap();
        let v = ReportView {
            execution: "photos-2026-1".into(),
            status: "FAILED".into(),
            error: Some("CopyIncomplete".into()),
            cause: Some("2 objects failed".into()),
            totals: Some(totals),
        };
        let text = render_report(&v);
        assert!(
            text.contains("error      CopyIncomplete: 2 objects failed"),
            "{text}"
        );
        assert!(text.contains("jobs       2 (1 retry): j1, j2"), "{text}");
        assert!(
            text.contains(&format!(
                "    {:<24} {:>8}  {:<9} Access Denied",
                "AccessDenied", 2, "Permanent"
            )),
            "{text}"
        );
        assert!(text.contains("    2026/a b.jpg  AccessDenied"), "{text}");
    }

    #[test]
    fn a_report_counts_objects_not_copyable_as_encrypted_apart_with_what_to_do() {
        let totals: CopyTotals = serde_json::from_value(serde_json::json!({
            "jobIds": ["j1"], "copied": 6, "failed": 2,
            "lastReport": {"tasks": 2, "succeeded": 0, "failed": 2, "retryable": 0, "permanent": 0,
              "notCopyable": 2,
              "byErrorCode": {
                "InvalidRequest (SSE-C)": {"count": 1, "class": "NotCopyable", "httpStatus": 400,
                  "example": "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."},
                "AccessDenied (KMS key)": {"count": 1, "class": "NotCopyable", "httpStatus": 403,
                  "example": "User: arn:aws:sts::222222222222:assumed-role/ferry-batch-photos-2026/s3-batch-operations is not authorized to perform: kms:Decrypt"}},
              "failedSample": []}
        }))
        .unwrap();
        let v = ReportView {
            execution: "photos-2026-1".into(),
            status: "FAILED".into(),
            error: Some("CopyIncomplete".into()),
            cause: None,
            totals: Some(totals),
        };
        let text = render_report(&v);
        assert!(
            text.contains("2 failed (0 retryable, 0 permanent, 2 not copyable as encrypted)"),
            "{text}"
        );
        assert!(
            text.contains("InvalidRequest (SSE-C)          1  NotCopyable"),
            "{text}"
        );
        assert!(
            text.contains("  not copyable (SSE-C): encrypted with a customer-provided key (SSE-C)"),
            "{text}"
        );
        assert!(
            text.contains(
                "  not copyable (KMS key): encrypted with a KMS key the Batch role may not use"
            ),
            "{text}"
        );
    }
}
