//! The `ferry-job-submit` Lambda function: its configuration from the environment, then
//! ferry-core's runtime loop around the crate's `handle`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // The stack's configuration, from the variables the template sets; a missing one fails the
    // init by name.
    let config = ferry_core::stack::StackConfig::from_lookup(|n| std::env::var(n).ok())?;
    ferry_core::lambda::serve("job-submit", config, ferry_job_submit::handle).await
}
