//! `ferry`: plan, start, watch, report, revoke and list copies; write the files to start from,
//! deploy the stacks and check that they agree; `ferry demo` runs a whole copy in the sandbox.
//! Exit statuses: 0 success, 1 CopyIncomplete (or doctor's problems), 2 invalid input, 3 others.

use std::path::PathBuf;

use clap::{CommandFactory, Parser};
use ferry_cli::args::{AwsArgs, Cli, Command};
#[cfg(feature = "demo")]
use ferry_cli::demo::{self, DemoOptions};
use ferry_cli::target::{Target, SANDBOX_VAR};
use ferry_cli::{commands, deploy, doctor, init, plan, repository, CliError};

/// The file FERRY_SANDBOX names, when it names one.
fn described_sandbox() -> Option<PathBuf> {
    std::env::var_os(SANDBOX_VAR)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The running sandbox's description: the file FERRY_SANDBOX names, else the one `make sandbox`
/// writes in the repository.
fn sandbox_description() -> Result<PathBuf, CliError> {
    match described_sandbox() {
        Some(p) => Ok(p),
        None => Ok(repository()?.join("target/sandbox/current.json")),
    }
}

async fn target(aws: &AwsArgs) -> Result<Target, CliError> {
    if aws.sandbox || described_sandbox().is_some() {
        return Target::sandbox_file(&sandbox_description()?);
    }
    Target::aws(
        aws.profile.as_deref(),
        aws.region.as_deref(),
        aws.state_machine.as_deref(),
    )
    .await
}

/// The clients `ferry plan --check` asks IAM's policy simulator with: the sandbox's, or AWS's
/// (any account's credentials: SimulateCustomPolicy evaluates only the policies it is given). No
/// stack is needed.
async fn simulator_clients(
    profile: Option<&str>,
    sandbox: bool,
    region: &str,
) -> Result<ferry_core::clients::Clients, CliError> {
    if sandbox || described_sandbox().is_some() {
        return Ok(Target::sandbox_file(&sandbox_description()?)?.clients);
    }
    let config = ferry_cli::target::aws_config(profile, Some(region)).await?;
    Ok(ferry_core::clients::Clients::new(&config))
}

async fn run(cli: Cli) -> Result<i32, CliError> {
    let aws = cli.command.aws().cloned().unwrap_or_default();
    match &cli.command {
        Command::Plan {
            request,
            json,
            check,
            bucket_policy,
            profile,
            sandbox,
            estimate,
            objects,
            manifest_file,
            bytes,
            large,
            identical,
            occupied,
            bucket_objects,
            worker_ms,
        } => {
            let (raw, req) = plan::read_request(request)?;
            let run = plan::plan(&raw, &req)?;
            let d = plan::describe(&run);
            if *estimate {
                let objects = match (objects, manifest_file) {
                    (Some(n), _) => *n,
                    (None, Some(path)) => ferry_cli::check::count_rows(path)?,
                    (None, None) => {
                        return Err(CliError::invalid(
                            "--estimate needs the number of objects: --objects N, or --manifest-file FILE (a local copy of the CSV manifest)",
                        ))
                    }
                };
                let planned = ferry_core::cost::Planned {
                    objects,
                    large: *large,
                    identical: *identical,
                    bucket_objects: bucket_objects.unwrap_or(objects),
                    occupied: *occupied,
                    worker_ms: *worker_ms,
                };
                let usage = ferry_core::cost::Usage::planned(&req, &planned);
                let bill = ferry_core::cost::Bill::of(&req.region, &usage);
                if *json {
                    let out = serde_json::json!({"usage": usage, "bill": bill, "bytes": bytes});
                    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
                } else {
                    print!(
                        "{}",
                        ferry_cli::check::render_estimate(&req, &planned, *bytes, &bill)
                    );
                }
                return Ok(0);
            }
            if !*check {
                if *json {
                    println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
                } else {
                    print!("{}", plan::render(&d));
                }
                return Ok(0);
            }
            let policies = ferry_cli::check::read_policies(bucket_policy)?;
            let clients = simulator_clients(profile.as_deref(), *sandbox, &req.region).await?;
            let verdicts = ferry_cli::check::verdicts(&clients, &run, &policies).await?;
            if *json {
                let out = serde_json::json!({"plan": d, "preflight": verdicts});
                println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            } else {
                print!("{}", plan::render(&d));
                print!("{}", ferry_cli::check::render(&verdicts));
            }
            Ok(ferry_cli::check::status(&verdicts))
        }
        Command::Init {
            deployment,
            plain,
            path,
        } => {
            let text = match (*deployment, *plain) {
                (true, _) => init::DEPLOYMENT.to_string(),
                (false, true) => init::plain_request(),
                (false, false) => init::REQUEST.to_string(),
            };
            init::write(&text, path.as_deref())
        }
        Command::Schema => {
            let schema = ferry_core::request::json_schema();
            println!(
                "{}",
                serde_json::to_string_pretty(&schema).unwrap_or_default()
            );
            Ok(0)
        }
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "ferry", &mut std::io::stdout());
            Ok(0)
        }
        Command::Deploy {
            config,
            account,
            side,
            dry_run,
        } => deploy::run(config, account, *side, *dry_run).await,
        Command::Doctor {
            config,
            request,
            region,
            sandbox,
        } => {
            let sandbox_path = if *sandbox || (config.is_none() && described_sandbox().is_some()) {
                Some(sandbox_description()?)
            } else {
                None
            };
            doctor::run(
                config.as_deref(),
                request.as_deref(),
                region.as_deref(),
                sandbox_path.as_deref(),
            )
            .await
        }
        #[cfg(feature = "demo")]
        Command::Demo {
            flow,
            objects,
            sources,
            kms,
        } => {
            demo::run(
                &repository()?,
                DemoOptions {
                    flow: *flow,
                    objects: *objects,
                    sources: *sources,
                    kms: *kms,
                },
            )
            .await
        }
        Command::Start { request, watch, .. } => {
            // An invalid request is refused before any AWS call.
            let (raw, req) = plan::read_request(request)?;
            plan::plan(&raw, &req)?;
            commands::start(&target(&aws).await?, request, *watch).await
        }
        Command::Verify { copy_id, watch, .. } => {
            commands::verify(&target(&aws).await?, copy_id, *watch).await
        }
        Command::Watch { copy_id, .. } => commands::watch(&target(&aws).await?, copy_id).await,
        Command::Report { copy_id, json, .. } => {
            commands::report(&target(&aws).await?, copy_id, *json).await
        }
        Command::Revoke { copy_id, .. } => commands::revoke(&target(&aws).await?, copy_id).await,
        Command::List {
            max, executions, ..
        } => commands::list(&target(&aws).await?, *max, *executions).await,
    }
}

#[tokio::main]
async fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and --version print and exit 0; a bad command line exits 2, as an invalid
        // request does.
        Err(e) => e.exit(),
    };
    let status = match run(cli).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ferry: {e}");
            e.status
        }
    };
    std::process::exit(status);
}
