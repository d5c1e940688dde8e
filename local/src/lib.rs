//! ferry's sandbox, from Rust: [`Sandbox`] starts the two-account launcher (`local/sandbox`,
//! Python, moto) and stops it when dropped; [`FunctionHost`] serves every ferry function
//! in-process behind the Lambda Invoke API, each with the credentials and the environment of
//! its own account, and answers in Lambda's error shape so that the state machine's Retry and
//! Catch see ferry's error names. [`scenario::Scenario`] wires both together with clients of
//! both accounts, buckets and the leftovers check: the demo, the tests and `make sandbox` use
//! it; nothing extra is built.

mod host;
pub mod objects;
mod sandbox;
pub mod scenario;

pub use host::FunctionHost;
pub use sandbox::{Credentials, ForkServer, FunctionInfo, Sandbox, SandboxError, SandboxInfo};
