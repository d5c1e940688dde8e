//! How every ferry function runs on Lambda (feature `lambda`): the clients built once, and each
//! event handed to the function's `handle` with them and the stack's configuration (read here
//! from the environment and SSM, the only place that does); a [`StepError`] becomes the
//! runtime's error with ferry's error name as its type, which the state machine's Retry and
//! Catch match. The sandbox's function host calls the same `handle`s without this loop.

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::clients::Clients;
use crate::stack::StackConfig;
use crate::StepError;

/// Runs `handler` for every event Lambda delivers, until the runtime stops, with the stack's
/// configuration read at cold start (the environment, and the lists from SSM:
/// [`crate::parameters::load`]; a missing variable or an unreadable list fails the init by
/// name). `step` is the function's name without `ferry-` (`job-submit`), which begins every
/// error's cause.
pub async fn serve<E, O>(
    step: &'static str,
    handler: impl AsyncFn(&Clients, &StackConfig, LambdaEvent<E>) -> Result<O, StepError>,
) -> Result<(), lambda_runtime::Error>
where
    E: DeserializeOwned,
    O: Serialize,
{
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let config = crate::parameters::load_for(&sdk, |n| std::env::var(n).ok()).await?;
    let clients = Clients::new(&sdk);
    lambda_runtime::run(service_fn(|event: LambdaEvent<E>| async {
        // Boxed: the handler's future nests deep enough to overflow the compiler's layout
        // query depth when it is inlined into the runtime's.
        Box::pin(handler(&clients, &config, event))
            .await
            .map_err(|e| Diagnostic::from(e.in_step(step)))
    }))
    .await
}
