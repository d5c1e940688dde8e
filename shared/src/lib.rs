//! ferry-core: ferry's domain, pure and tested without AWS.
//!
//! The copy request and its validation ([`request`]), the names of everything a copy creates
//! ([`names`]), S3 Inventory ([`inventory`]) and CSV ([`manifest`]) manifests, the CreateJob
//! request and job states ([`job`]), completion reports ([`report`]), and the closed list of
//! error names the state machine matches ([`error`]), and the clients handlers are given
//! ([`clients`]). No AWS calls live here (and of the Lambda runtime only the conversion of a
//! [`StepError`] into its error, feature `lambda`): handlers call the SDK with what
//! this crate builds.

pub mod clients;
pub mod clock;
pub mod error;
pub mod inventory;
pub mod job;
pub mod manifest;
pub mod names;
pub mod policy;
pub mod report;
pub mod request;
pub mod stack;
pub mod steps;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;

pub use error::{ErrorName, StepError};
