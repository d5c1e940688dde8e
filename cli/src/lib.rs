//! The `ferry` command. AWS by default (the SDK's credential chain, `--profile`, `--region`);
//! `--sandbox` (or `FERRY_SANDBOX`, which `make sandbox` prints) points every command at the
//! two-account sandbox; `ferry demo` brings a sandbox up itself.
//!
//! Exit statuses (docs/src/operate.md, "Exit statuses"): 0 copied, 1 `CopyIncomplete` (or a
//! problem `ferry doctor` found), 2 invalid request (or command line), 3 any other failure.

pub mod args;
pub mod check;
pub mod commands;
#[cfg(feature = "demo")]
pub mod demo;
pub mod deploy;
pub mod doctor;
pub mod history;
pub mod init;
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

/// The repository the current directory is in (a directory holding `template.yaml` and the
/// sandbox), for the commands that use the repository (`demo`, `--sandbox`, `deploy`): nothing
/// of the build's own checkout is baked into the binary.
pub fn repository() -> Result<std::path::PathBuf> {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::other(format!("the current directory: {e}")))?;
    cwd.ancestors()
        .find(|d| d.join("template.yaml").is_file() && d.join("local/sandbox").is_dir())
        .map(std::path::Path::to_path_buf)
        .ok_or_else(|| {
            CliError::other(format!(
                "{} is not inside the ferry repository, where the template and the sandbox are: run this from the checkout (or, for --sandbox, set {} to a running sandbox's description)",
                cwd.display(),
                target::SANDBOX_VAR
            ))
        })
}

/// An AWS call's failure with what was being done, the service's code and message.
pub fn aws_error<E>(doing: &str) -> impl FnOnce(aws_sdk_sfn::error::SdkError<E>) -> CliError + '_
where
    E: aws_sdk_sfn::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    move |e| {
        let detail = match (e.code(), e.message()) {
            (Some(code), Some(msg)) => format!("{code}: {msg}"),
            (Some(code), None) => code.to_string(),
            _ => one_line(&e),
        };
        CliError::other(format!("{doing}: {detail}"))
    }
}

/// An error and its causes on one line, `outer: cause: root cause`, each cause's own message
/// once: a cause whose text the line holds already is skipped (the SDK's errors repeat their
/// source's message), and line breaks become spaces. Never a `Debug` dump.
pub fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = String::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !text.is_empty() && !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        next = e.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1
                .as_deref()
                .map(|l| l as &(dyn std::error::Error + 'static))
        }
    }

    #[test]
    fn an_error_chain_is_one_line_with_each_cause_once() {
        let e = Layer(
            "dispatch failure",
            Some(Box::new(Layer(
                "the credentials provider was not enabled",
                Some(Box::new(Layer(
                    "no providers in chain\nprovided credentials",
                    Some(Box::new(Layer("no providers in chain", None))),
                ))),
            ))),
        );
        assert_eq!(
            one_line(&e),
            "dispatch failure: the credentials provider was not enabled: no providers in chain provided credentials"
        );
    }
}
