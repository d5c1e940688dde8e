//! How every ferry function runs on Lambda (feature `lambda`): the clients built once, and each
//! event handed to the function's `handle` with them and the stack's configuration (which
//! `main.rs` reads from the environment, the only place that does); a [`StepError`] becomes the
//! runtime's error with ferry's error name as its type, which the state machine's Retry and
//! Catch match. The sandbox's function host calls the same `handle`s without this loop.

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::clients::Clients;
use crate::stack::StackConfig;
use crate::StepError;

/// Runs `handler` with `config` for every event Lambda delivers, until the runtime stops. `step`
/// is the function's name without `ferry-` (`job-submit`), which begins every error's cause.
pub async fn serve<E, O>(
    step: &'static str,
    config: StackConfig,
    handler: impl AsyncFn(&Clients, &StackConfig, LambdaEvent<E>) -> Result<O, StepError>,
) -> Result<(), lambda_runtime::Error>
where
    E: DeserializeOwned,
    O: Serialize,
{
    lambda_runtime::tracing::init_default_subscriber();
    let clients =
        Clients::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await);
    lambda_runtime::run(service_fn(|event: LambdaEvent<E>| async {
        // Boxed: the handler's future nests deep enough to overflow the compiler's layout
        // query depth when it is inlined into the runtime's.
        Box::pin(handler(&clients, &config, event))
            .await
            .map_err(|e| Diagnostic::from(e.in_step(step)))
    }))
    .await
}
