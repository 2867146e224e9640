//! `bookinfo traffic`: loads a Bookinfo product page at a fixed rate or concurrency, through
//! the project's own HTTP client, as anonymous visitors and signed-in users, and reports what
//! the pages said: status codes, latency, which reviews pod served each page, the stars, and
//! the degraded blocks. `--expect` makes a run a check (exit 1 when one fails).

pub mod args;
pub mod expect;
pub mod page;
pub mod progress;
pub mod run;
mod shares;
pub mod summary;
mod table;
pub mod users;

pub use args::{OutputFormat, TrafficArgs};
pub use run::{TrafficError, run};
pub use users::PageUrl;
