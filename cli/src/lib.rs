//! The `ferry` command. AWS by default (the SDK's credential chain, `--profile`, `--region`);
//! `--sandbox` (or `FERRY_SANDBOX`, which `make sandbox` prints) points every command at the
//! two-account sandbox; `ferry demo` brings a sandbox up itself.
//!
//! Exit statuses (docs/src/operate.md, "Exit statuses"): 0 copied, 1 `CopyIncomplete`,
//! 2 invalid request (or command line), 3 any other failure.

pub mod commands;
#[cfg(feature = "demo")]
pub mod demo;
pub mod history;
pub mod plan;
pub mod runs;
pub mod target;
pub mod watch;

use std::fmt;

use aws_sdk_sfn::error::ProvideErrorMetadata;

/// A failure the command reports: a message for the person and the exit status.
#[derive(Debug)]
pub struct CliError {
    pub status: i32,
    pub message: String,
}

impl CliError {
    pub fn new(status: i32, message: impl Into<String>) -> CliError {
        CliError {
            status,
            message: message.into(),
        }
    }

    /// Exit status 3: anything but an invalid request or an incomplete copy.
    pub fn other(message: impl Into<String>) -> CliError {
        CliError::new(3, message)
    }

    /// Exit status 2.
    pub fn invalid(message: impl Into<String>) -> CliError {
        CliError::new(2, message)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

pub type Result<T> = std::result::Result<T, CliError>;

/// An AWS call's failure with what was being done, the service's code and message.
pub fn aws_error<E>(doing: &str) -> impl FnOnce(aws_sdk_sfn::error::SdkError<E>) -> CliError + '_
where
    E: aws_sdk_sfn::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| {
        let detail = match (e.code(), e.message()) {
            (Some(code), Some(msg)) => format!("{code}: {msg}"),
            (Some(code), None) => code.to_string(),
            _ => aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
        };
        CliError::other(format!("{doing}: {detail}"))
    }
}
