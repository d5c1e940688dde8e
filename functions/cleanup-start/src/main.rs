//! The `ferry-cleanup-start` Lambda function: ferry-core's runtime loop around the crate's `handle`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ferry_core::lambda::serve(ferry_cleanup_start::handle).await
}
