use ferry_core::{clients::Clients, stack::StackConfig};
use lambda_runtime::{run, service_fn, tracing, Diagnostic, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config = StackConfig::from_lookup(|n| std::env::var(n).ok())?;
    let clients =
        Clients::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await);
    run(service_fn(|event: LambdaEvent<_>| async {
        ferry_cleanup_start::handle(&clients, &config, event)
            .await
            .map_err(Diagnostic::from)
    }))
    .await
}
