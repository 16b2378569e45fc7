//! Randomized differential test against the `iam-rs` crate (written later in this file).
