//! The `ferry-job-report` Lambda function: ferry-core's runtime loop around the crate's `handle`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ferry_core::lambda::serve(ferry_job_report::handle).await
}
