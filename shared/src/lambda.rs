//! How every ferry function runs on Lambda (feature `lambda`): the configuration read once from
//! the environment, the clients built once, and each event handed to the function's `handle`
//! with both; a [`StepError`] becomes the runtime's error with ferry's error name as its type,
//! which the state machine's Retry and Catch match.

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::clients::Clients;
use crate::stack::StackConfig;
use crate::StepError;

/// Runs `handler` for every event Lambda delivers, until the runtime stops. A configuration the
/// stack did not set right fails the init, naming the variable.
pub async fn serve<E, O>(
    handler: impl AsyncFn(&Clients, &StackConfig, LambdaEvent<E>) -> Result<O, StepError>,
) -> Result<(), lambda_runtime::Error>
where
    E: DeserializeOwned,
    O: Serialize,
{
    lambda_runtime::tracing::init_default_subscriber();
    let config = StackConfig::from_lookup(|n| std::env::var(n).ok())?;
    let clients =
        Clients::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await);
    lambda_runtime::run(service_fn(|event: LambdaEvent<E>| async {
        // Boxed: the handler's future nests deep enough to overflow the compiler's layout
        // query depth when it is inlined into the runtime's.
        Box::pin(handler(&clients, &config, event))
            .await
            .map_err(Diagnostic::from)
    }))
    .await
}
