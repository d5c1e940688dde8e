//! The `ferry-destination-access` Lambda function: ferry-core's runtime loop around the crate's `handle`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ferry_core::lambda::serve(ferry_destination_access::handle).await
}
