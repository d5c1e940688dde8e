//! The `ferry-source-inventory` Lambda function: ferry-core's runtime loop around the crate's `handle`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ferry_core::lambda::serve(ferry_source_inventory::handle).await
}
