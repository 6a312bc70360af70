//! tidbpe's check catalog: pure judgement of gathered [`Facts`].
//!
//! Every check is a [`Check`]: a permanent ID, a slug, a title, the facts it
//! needs (hence the AWS calls and IAM actions), an `explain` page, and a
//! `judge` function from [`Facts`] to an [`Outcome`]. Nothing here does I/O
//! or knows an SDK type, so a report's facts can be judged again offline and
//! a check can be tested with a small fixture.
//!
//! Layout: `check.rs` (the vocabulary), `catalog.rs` (the list and the
//! verdict), `facts.rs` (the contract with gather), `read.rs` (reading
//! facts), `commands.rs` (AWS CLI fix commands), `rules.rs` (security-group
//! and network-ACL evaluation), `names.rs` (the shapes of names), and one
//! module per ID prefix: check `SG001` lives in `sg.rs`; `path.rs` reads
//! the one connection path three ways for the report. This file only
//! declares modules and re-exports.

pub mod catalog;
pub mod check;
pub mod facts;
pub mod names;
pub mod path;
pub mod probe_facts;
pub mod rules;
pub mod text;
pub mod validate;

mod commands;
mod probing;
mod read;

mod acl;
mod aws;
mod az;
mod dns;
mod ep;
mod inp;
mod ipv;
mod net;
mod sg;
mod svc;
mod tdb;
mod vpc;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use catalog::{find, iam_actions, judge_all, Verdict, CATALOG};
pub use check::{Check, Finding, Fix, Judged, Need, Outcome, Status};
pub use facts::{Fact, FactError, FactErrorKind, Facts};
pub use read::{effective_host, host_of, main_endpoint_id};
