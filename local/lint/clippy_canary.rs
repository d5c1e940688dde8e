//! The check that clippy lints the test build (`make clippy`): compiled by clippy's driver with
//! the arguments the build passes it, this file must fail (`clippy::needless_return`, a lint
//! that only warns unless warnings are errors). If it compiles, the build is not linted.

pub fn canary() -> u32 {
    return 1;
}
