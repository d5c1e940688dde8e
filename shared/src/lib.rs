//! ferry-core: ferry's domain, and the few AWS reads and writes the functions share.
//!
//! The copy request and its validation ([`request`]), the names of everything a copy creates
//! ([`names`]) and the ferry bucket's layout ([`layout`]), S3 Inventory ([`inventory`]) and CSV
//! ([`manifest`]) manifests, the CreateJob request, job states and the tracking schedule
//! ([`job`]), completion reports ([`report`]), policies ([`policy`]), the step payloads
//! ([`steps`]) and the closed list of error names the state machine matches ([`error`]). The
//! AWS calls here are the ones two functions share: the control objects in the ferry bucket
//! ([`control`]), an inventory delivery and its waiters ([`delivery`]), and the clients
//! handlers are given ([`clients`]); every other call is in the function that makes it. With
//! feature `lambda` (binaries and the function host only; the domain never uses it), how every
//! function runs on Lambda (`lambda::serve`) and the conversion of a [`StepError`] into the
//! runtime's error.

pub mod clients;
pub mod clock;
pub mod control;
pub mod cost;
pub mod delivery;
pub mod error;
pub mod execution_input;
pub mod ids;
pub mod inventory;
pub mod job;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod layout;
pub mod manifest;
pub mod names;
pub mod parameters;
mod plan_checks;
pub mod policy;
pub mod preflight;
pub mod records;
pub mod report;
pub mod request;
pub mod restore;
pub mod run_plan;
pub mod stack;
pub mod status_change;
pub mod steps;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
pub mod worker;

pub use error::{ErrorName, StepError};
