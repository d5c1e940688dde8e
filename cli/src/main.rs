//! `ferry`: plan, start, watch, report, revoke and list copies; `ferry demo` runs a whole copy in
//! the sandbox. Exit statuses: 0 copied, 1 CopyIncomplete, 2 invalid request, 3 other failures.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
#[cfg(feature = "demo")]
use ferry_cli::demo::{self, DemoFlow, DemoOptions};
use ferry_cli::target::{Target, SANDBOX_VAR};
use ferry_cli::{commands, plan, CliError};

#[derive(Parser)]
#[command(
    name = "ferry",
    version,
    about = "Cross-account S3 copies with S3 Batch Operations"
)]
struct Cli {
    /// AWS CLI profile of the destination account (else the SDK's credential chain).
    #[arg(long, global = true, env = "AWS_PROFILE")]
    profile: Option<String>,
    /// The copy's Region, where both stacks are deployed.
    #[arg(long, global = true)]
    region: Option<String>,
    /// The state machine's ARN (default: `ferry` in the caller's account and Region).
    #[arg(long, global = true, env = "FERRY_STATE_MACHINE_ARN")]
    state_machine: Option<String>,
    /// Talk to the sandbox `make sandbox` started: its description is the file FERRY_SANDBOX
    /// names (which `make sandbox` prints), else target/sandbox/current.json. FERRY_SANDBOX set
    /// implies --sandbox.
    #[arg(long, global = true)]
    sandbox: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a copy request offline and print everything the copy will do.
    Plan {
        request: PathBuf,
        /// The plan as JSON, for machines.
        #[arg(long)]
        json: bool,
    },
    /// Start a copy: the next run `<copyId>-<n>` of the destination state machine.
    Start {
        request: PathBuf,
        /// Follow the run to its end, as `ferry watch` does.
        #[arg(long)]
        watch: bool,
    },
    /// Verify a copy again: a new run whose one job checks every object of the copy's manifest
    /// at the destination (present, same size, same ETag or checksum).
    Verify {
        copy_id: String,
        /// Follow the run to its end, as `ferry watch` does.
        #[arg(long)]
        watch: bool,
    },
    /// Follow a copy's latest run (or a named execution): steps, job progress, outcome.
    Watch { copy_id: String },
    /// A copy's latest run: counts by status and error code, jobs, retries, failed keys.
    Report {
        copy_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Stop a copy's run if it is still going, cancel its job and remove every grant.
    Revoke { copy_id: String },
    /// Recent copies, one line each (latest run, its state, its cleanup), newest first.
    List {
        /// How many copies (or executions) to show.
        #[arg(long, default_value_t = 20)]
        max: usize,
        /// Every execution, runs and cleanups, instead of one line per copy.
        #[arg(long)]
        executions: bool,
    },
    /// A whole cross-account copy in the sandbox, verified at the destination (built with
    /// `--features demo`, as `make demo` builds it).
    #[cfg(feature = "demo")]
    Demo {
        #[arg(long, value_enum, default_value_t = DemoFlow::Inventory)]
        flow: DemoFlow,
        #[arg(long, default_value_t = 48)]
        objects: usize,
        /// 2: consolidation, a second source account copied into the same destination at the
        /// same time.
        #[arg(long, default_value_t = 1)]
        sources: usize,
        /// SSE-KMS at both ends: source objects under the source account's listed key, copies
        /// under a key of the destination account.
        #[arg(long)]
        kms: bool,
    },
}

fn repo_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    root.canonicalize().unwrap_or(root)
}

async fn target(cli: &Cli) -> Result<Target, CliError> {
    let described = std::env::var_os(SANDBOX_VAR).filter(|v| !v.is_empty());
    if cli.sandbox || described.is_some() {
        let path = described
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("target/sandbox/current.json"));
        return Target::sandbox_file(&path);
    }
    Target::aws(
        cli.profile.as_deref(),
        cli.region.as_deref(),
        cli.state_machine.as_deref(),
    )
    .await
}

async fn run(cli: Cli) -> Result<i32, CliError> {
    match &cli.command {
        Command::Plan { request, json } => {
            let (raw, req) = plan::read_request(request)?;
            let d = plan::describe(&plan::plan(&raw, &req)?);
            if *json {
                println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
            } else {
                print!("{}", plan::render(&d));
            }
            Ok(0)
        }
        #[cfg(feature = "demo")]
        Command::Demo {
            flow,
            objects,
            sources,
            kms,
        } => {
            demo::run(
                &repo_root(),
                DemoOptions {
                    flow: *flow,
                    objects: *objects,
                    sources: *sources,
                    kms: *kms,
                },
            )
            .await
        }
        Command::Start { request, watch } => {
            // An invalid request is refused before any AWS call.
            let (raw, req) = plan::read_request(request)?;
            plan::plan(&raw, &req)?;
            commands::start(&target(&cli).await?, request, *watch).await
        }
        Command::Verify { copy_id, watch } => {
            commands::verify(&target(&cli).await?, copy_id, *watch).await
        }
        Command::Watch { copy_id } => commands::watch(&target(&cli).await?, copy_id).await,
        Command::Report { copy_id, json } => {
            commands::report(&target(&cli).await?, copy_id, *json).await
        }
        Command::Revoke { copy_id } => commands::revoke(&target(&cli).await?, copy_id).await,
        Command::List { max, executions } => {
            commands::list(&target(&cli).await?, *max, *executions).await
        }
    }
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let status = match run(cli).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ferry: {e}");
            e.status
        }
    };
    std::process::exit(status);
}
