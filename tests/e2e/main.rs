//! The end-to-end suite: the real `tidbpe` binary against one shared lab
//! (moto with every world the tests ask for, an IMDS per world, a fault
//! proxy per test that needs one), read through its JSON report.
//!
//! One test binary, so one lab start for the whole suite: put new end-to-end
//! tests in a module here rather than in a new top-level `tests/*.rs` (each of
//! those is its own binary and starts its own lab).

#[path = "../common/mod.rs"]
mod common;

mod aws;
mod cli;
mod deadline;
mod discovery;
mod faults;
mod replay;
mod scenarios;
mod worlds;
