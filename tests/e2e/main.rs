//! The end-to-end suite: the real `tidbpe` binary against one shared lab
//! (moto with every world the tests ask for, an IMDS per world, a fault
//! proxy per test that needs one), read through its JSON report.
//!
//! One test binary, so one lab start for the whole suite: put new end-to-end
//! tests in a module here rather than in a new top-level `tests/*.rs` (each of
//! those is its own binary and starts its own lab).

#[path = "../common/mod.rs"]
mod common;

mod believe;
mod beyond;
mod cli;
mod commands;
mod deadline;
mod discovery;
mod doctor_verdicts;
mod faults;
mod fixes_apply;
mod garbled;
mod hostile;
mod large;
mod probe_engines;
mod probes;
mod redact;
mod replay;
mod scenarios;
mod terminal;
mod tidb;
mod untrusted_input;
mod verdicts;
mod worlds;

/// The test harness starts tests in name order: this one comes first and
/// starts the lab in the background, then builds the large world (its
/// tests start late and would otherwise wait for its build at the end).
#[test]
fn a_lab_starts_in_the_background() {
    common::start_lab_in_background(&["large"]);
}
