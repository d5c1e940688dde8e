//! The command line: every command, argument and option, with its help. `ferry completions`
//! and the docs test read the same definition (`Cli::command()`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::deploy::Side;

/// The exit statuses, shown under every command's help.
pub const EXIT_STATUSES: &str = "\
Exit status: 0 success; 1 the copy ended incomplete (CopyIncomplete), or doctor found a problem;
2 an invalid request, deployment file or command line; 3 any other failure.";

#[derive(Parser)]
#[command(
    name = "ferry",
    version,
    about = "Cross-account S3 copies with S3 Batch Operations, automated end to end",
    long_about = "Cross-account S3 copies with S3 Batch Operations, automated end to end.\n\n\
        ferry plans a copy offline, starts it on the destination account's state machine, follows \
        it, reports on it and revokes what it granted; it writes the files to start from, deploys \
        each account's stack and checks that the stacks agree. Documentation: docs/src/ in the \
        repository (docs/src/operate.md for these commands).",
    after_help = EXIT_STATUSES,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where the commands that call AWS go: shown under their own heading.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "AWS options")]
pub struct AwsArgs {
    /// AWS CLI profile of the destination account (else the SDK's credential chain)
    #[arg(long, env = "AWS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// The copy's Region, where both stacks are deployed (else the profile's or AWS_REGION)
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// The state machine's ARN (default: `ferry` in the caller's account and Region)
    #[arg(long, env = "FERRY_STATE_MACHINE_ARN", value_name = "ARN")]
    pub state_machine: Option<String>,
    /// Talk to the sandbox `make sandbox` started instead of AWS: its description is the file
    /// FERRY_SANDBOX names (which `make sandbox` prints), else target/sandbox/current.json of the
    /// repository the current directory is in. FERRY_SANDBOX set implies --sandbox
    #[arg(long)]
    pub sandbox: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Validate a copy request offline and print everything the copy will do
    #[command(after_help = concat!(
        "Example: ferry plan request.json --check --bucket-policy src-photos=src-photos-policy.json\n\n",
        "Exit status: 0 the request is valid (with --check: and no statement refuses the copy); 1 with --check, a statement refuses it; 2 it breaks a rule (each one is named, field by field)."
    ))]
    Plan {
        /// The copy request, a JSON file (`ferry init` writes one; `ferry schema` prints its schema)
        #[arg(value_name = "REQUEST")]
        request: PathBuf,
        /// Print the plan as JSON, for machines
        #[arg(long)]
        json: bool,
        /// Ask IAM's policy simulator whether the buckets' policies and the Batch role's (within
        /// ferry's boundary) allow every action of the copy, as a run's preflight does; reads no
        /// bucket and writes nothing. Exit status 1 when a statement refuses
        #[arg(long)]
        check: bool,
        /// With --check: a bucket's own policy, BUCKET=FILE (repeatable; a bucket not given has none)
        #[arg(long, value_name = "BUCKET=FILE", requires = "check")]
        bucket_policy: Vec<String>,
        /// With --check: the AWS CLI profile whose credentials ask the simulator (any account's)
        #[arg(long, value_name = "NAME", requires = "check")]
        profile: Option<String>,
        /// With --check: ask the sandbox's simulator (as FERRY_SANDBOX does)
        #[arg(long, requires = "check")]
        sandbox: bool,
        /// Print what one run of the copy would cost, line by line, at the prices of its Region
        /// in ferry's price data (each with its source), for --objects objects (or the rows of
        /// --manifest-file)
        #[arg(long)]
        estimate: bool,
        /// With --estimate: how many objects the copy lists
        #[arg(
            long,
            value_name = "N",
            requires = "estimate",
            conflicts_with = "manifest_file"
        )]
        objects: Option<u64>,
        /// With --estimate: a local copy of the copy's CSV manifest, whose rows are counted
        #[arg(long, value_name = "FILE", requires = "estimate")]
        manifest_file: Option<PathBuf>,
        /// With --estimate: their bytes in all (said, not priced: a COPY within a Region moves no
        /// billed data)
        #[arg(long, value_name = "BYTES", requires = "estimate")]
        bytes: Option<u64>,
        /// With --estimate: how many of them are over 5 GB
        #[arg(long, value_name = "N", default_value_t = 0, requires = "estimate")]
        large: u64,
        /// With --estimate: how many are already at the destination, identical (a re-run)
        #[arg(long, value_name = "N", default_value_t = 0, requires = "estimate")]
        identical: u64,
        /// With --estimate: the destination prefix already holds objects
        #[arg(long, requires = "estimate")]
        occupied: bool,
        /// With --estimate, flow C: how many objects the source bucket holds (default --objects)
        #[arg(long, value_name = "N", requires = "estimate")]
        bucket_objects: Option<u64>,
        /// With --estimate: the copy worker's time per object, in milliseconds (an assumption)
        #[arg(long, value_name = "MS", default_value_t = ferry_core::cost::ASSUMED_WORKER_MS, requires = "estimate")]
        worker_ms: u64,
    },
    /// Start a copy: the next run `<copyId>-<n>` of the destination account's state machine
    #[command(after_help = concat!(
        "Example: ferry start request.json --watch\n\n",
        "Exit status: 0 started (with --watch: as `ferry watch`); 2 an invalid request; 3 any other failure."
    ))]
    Start {
        /// The copy request, a JSON file (`ferry init` writes one; `ferry schema` prints its schema)
        #[arg(value_name = "REQUEST")]
        request: PathBuf,
        /// Follow the run to its end, as `ferry watch` does
        #[arg(long)]
        watch: bool,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Verify a copy again: a new run whose one job checks every object of the copy's manifest
    /// at the destination (present, same size, same ETag or checksum)
    #[command(after_help = concat!(
        "Example: ferry verify photos-2026 --watch\n\n",
        "Exit status: 0 started (with --watch: 0 every object verified, 1 one is missing or different); 3 any other failure."
    ))]
    Verify {
        /// The copy's copyId, as its request names it
        #[arg(value_name = "COPY_ID")]
        copy_id: String,
        /// Follow the run to its end, as `ferry watch` does
        #[arg(long)]
        watch: bool,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Follow a copy's latest run (or a named execution): steps, job progress, outcome
    #[command(after_help = concat!(
        "Example: ferry watch photos-2026\n\n",
        "Exit status: 0 copied; 1 CopyIncomplete; 2 InvalidRequest; 3 any other failure."
    ))]
    Watch {
        /// The copy's copyId (its latest run), or an execution's name (`photos-2026-2`)
        #[arg(value_name = "COPY_ID")]
        copy_id: String,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// A copy's latest run: counts by status and error code, jobs, retries, failed keys
    #[command(after_help = concat!(
        "Example: ferry report photos-2026 --json\n\n",
        "Exit status: as `ferry watch`, for the run reported on."
    ))]
    Report {
        /// The copy's copyId (its latest run), or an execution's name (`photos-2026-2`)
        #[arg(value_name = "COPY_ID")]
        copy_id: String,
        /// Print the report as JSON, for machines
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Stop a copy's run if it is still going, cancel its job and remove every grant
    #[command(after_help = concat!(
        "Example: ferry revoke photos-2026\n\n",
        "Exit status: 0 everything revoked; 1 the copy kept its source statements (cleanup.revokeGrants false); 3 any other failure."
    ))]
    Revoke {
        /// The copy's copyId
        #[arg(value_name = "COPY_ID")]
        copy_id: String,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Recent copies, one line each (latest run, its state, its cleanup), newest first
    #[command(after_help = concat!(
        "Example: ferry list --max 5\n\n",
        "Exit status: 0; 3 when the state machine cannot be read."
    ))]
    List {
        /// How many copies (or executions) to show
        #[arg(long, default_value_t = 20, value_name = "N")]
        max: usize,
        /// Every execution, runs and cleanups, instead of one line per copy
        #[arg(long)]
        executions: bool,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// Write a commented copy request to start from (or, with --deployment, a deployment file)
    #[command(after_help = concat!(
        "Examples: ferry init request.json\n",
        "          ferry init --plain request.json\n",
        "          ferry init --deployment ferry-deployment.toml\n\n",
        "Exit status: 0 written; 2 the file exists already (init never overwrites one)."
    ))]
    Init {
        /// Write the deployment file (TOML) that `ferry deploy` and `ferry doctor` read instead
        #[arg(long)]
        deployment: bool,
        /// The request without its comment lines: plain JSON, which any tool takes (`ferry plan`
        /// and `ferry start` take the commented one too)
        #[arg(long, conflicts_with = "deployment")]
        plain: bool,
        /// The file to create (it must not exist); standard output when absent
        #[arg(value_name = "PATH")]
        path: Option<PathBuf>,
    },
    /// Print the copy request's JSON Schema, for editors that validate request files
    #[command(after_help = concat!(
        "Example: ferry schema > ferry-request.schema.json\n\n",
        "Exit status: 0."
    ))]
    Schema,
    /// Print a completion script for a shell
    #[command(after_help = concat!(
        "Example: ferry completions bash > ~/.local/share/bash-completion/completions/ferry\n\n",
        "Exit status: 0."
    ))]
    Completions {
        /// The shell
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Deploy one account's stack with `sam deploy`, its parameters derived from the deployment
    /// file so that every stack agrees with the others
    #[command(after_help = concat!(
        "Example: ferry deploy --config ferry-deployment.toml --account 222222222222 --dry-run\n\n",
        "Runs `sam deploy` in the repository, after `sam build --beta-features` there, with the\n",
        "credentials of the account's profile, which must be that account's.\n",
        "Exit status: 0 deployed (or printed); 2 an invalid deployment file, an account it does not\n",
        "list, or a profile of another account; 3 sam failed or is missing."
    ))]
    Deploy {
        /// The deployment file (`ferry init --deployment` writes one)
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The account whose stack to deploy (12 digits)
        #[arg(long, value_name = "ACCOUNT")]
        account: String,
        /// Which stack, where the account holds both a destination and a source stack
        #[arg(long, value_enum)]
        side: Option<Side>,
        /// Print the `sam deploy` command instead of running it
        #[arg(long)]
        dry_run: bool,
    },
    /// Check, read-only, that the stacks exist and agree: each source lists its destinations and
    /// each destination its sources and their buckets; with --config, that they are what the file
    /// says; with --request, that they admit the copy
    #[command(after_help = concat!(
        "Example: ferry doctor --config ferry-deployment.toml --request request.json\n\n",
        "Each account is read with its profile from the file, after checking that the profile's\n",
        "credentials are that account's. Calls made: sts:GetCallerIdentity, ssm:GetParameters (the\n",
        "stacks' lists), s3:ListBucket (HeadBucket, the ferry bucket), states:DescribeStateMachine.\n",
        "Exit status: 0 the stacks agree; 1 a problem was found (each names the parameter to change);\n",
        "2 an invalid deployment file or request, or a profile of another account; 3 an account could\n",
        "not be read."
    ))]
    Doctor {
        /// The deployment file: the accounts to check and what their stacks should be
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// A copy request the stacks must admit
        #[arg(long, value_name = "REQUEST")]
        request: Option<PathBuf>,
        /// The Region to check (else the deployment file's)
        #[arg(long, value_name = "REGION", help_heading = "AWS options")]
        region: Option<String>,
        /// Check the sandbox's accounts (`make sandbox`) instead of the file's; FERRY_SANDBOX set
        /// and no --config imply it
        #[arg(long, help_heading = "AWS options")]
        sandbox: bool,
    },
    /// A whole cross-account copy in the sandbox, verified at the destination (built with
    /// `--features demo`, as `make demo` builds it; run from the repository)
    #[cfg(feature = "demo")]
    #[command(after_help = concat!(
        "Example: ferry demo --flow csv --objects 1000\n\n",
        "Exit status: 0 the copy and every check passed; 1 incomplete; 3 any other failure."
    ))]
    Demo {
        /// The flow to run
        #[arg(long, value_enum, default_value_t = crate::demo::DemoFlow::Inventory)]
        flow: crate::demo::DemoFlow,
        /// How many sample objects to create and copy
        #[arg(long, default_value_t = 48, value_name = "N")]
        objects: usize,
        /// 2: consolidation, a second source account copied into the same destination at the
        /// same time
        #[arg(long, default_value_t = 1, value_name = "N")]
        sources: usize,
        /// SSE-KMS at both ends: source objects under the source account's listed key, copies
        /// under a key of the destination account
        #[arg(long)]
        kms: bool,
    },
}

impl Command {
    /// The command's AWS options, for those that call AWS through the destination account.
    pub fn aws(&self) -> Option<&AwsArgs> {
        match self {
            Command::Start { aws, .. }
            | Command::Verify { aws, .. }
            | Command::Watch { aws, .. }
            | Command::Report { aws, .. }
            | Command::Revoke { aws, .. }
            | Command::List { aws, .. } => Some(aws),
            _ => None,
        }
    }
}
