//! What the tests of every crate share, kept out of the production crates: stub backends,
//! requests and their answers, the services' binaries spawned as a user runs them, a test
//! certificate authority, scratch MariaDB and mongod servers, readers of the product page,
//! and skipping (or, in CI, failing) tests whose outside tool is missing. A dev-dependency
//! of every crate whose tests need it, and a dependency of `bench` only.

pub mod binary;
pub mod ca;
pub mod databases;
pub mod fetch;
pub mod page;
pub mod prometheus;
pub mod skip;
pub mod stub;

pub use binary::{SpawnedBinary, assert_command_line, parse_flags, run_binary};
pub use ca::TestCa;
pub use fetch::{
    Fetched, closed_port, fetch, get, get_json, get_over_h2c, http_client, post, serve,
};
pub use skip::{report_skip, tool_or_skip};
pub use stub::{Answer, Recorded, Stub};
