//! No code: this crate's dependencies give every crate of the workspace the same features
//! whichever packages a cargo command selects (see its Cargo.toml).
