//! The `ferry-job-track` Lambda function: its configuration from the environment and SSM, then
//! ferry-core's runtime loop around the crate's `handle`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // The stack's configuration is read at cold start (the environment, the lists from SSM);
    // a missing variable or an unreadable list fails the init by name.
    ferry_core::lambda::serve("job-track", ferry_job_track::handle).await
}
