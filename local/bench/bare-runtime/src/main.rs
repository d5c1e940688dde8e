//! The floor that `local/bench/init.sh` measures ferry's functions against: a lambda_runtime
//! function that answers each event with the event, with no SDK, no TLS and no logging set up.

use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move { Ok::<_, Error>(event.payload) },
    ))
    .await
}
