//! Every test of ferry-tests in one binary (`cargo test -p ferry-tests --test suite`), one module
//! per concern: one link instead of fifteen, and one pool of test threads across all of them,
//! so that the tests that wait on a sandbox's copy overlap. Each sandbox is forked from this
//! process's fork server (`World::start`) and shares nothing with another.
//!
//! Run one module with a filter: `cargo test -p ferry-tests --test suite flow_a::`.

mod architecture;
mod archived;
mod contract;
mod encryption;
mod existing_objects;
mod failures;
mod faults;
mod flow_a;
mod flow_b;
mod foreign_policies;
mod generated;
mod hostile;
mod large_objects;
mod load;
mod many_accounts;
mod mutations;
mod statemachine;
mod template;
