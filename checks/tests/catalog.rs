//! Meta-tests that keep the catalog honest: IDs and slugs are unique and
//! well-formed, every check has its explain page, and no check passes on
//! facts that were never gathered. (Needs against the IAM policy and the
//! explain pages' calls: `catalog.rs`'s unit tests; needs against what
//! gather calls: the binary's `gather` tests.)

use std::collections::BTreeSet;

use tidbpe_checks::facts::Facts;
use tidbpe_checks::{judge_all, Status, CATALOG};

#[test]
fn ids_and_slugs_are_unique_and_well_formed() {
    let mut ids = BTreeSet::new();
    let mut slugs = BTreeSet::new();
    for c in CATALOG {
        let (letters, digits) = c.id.split_at(c.id.len() - 3);
        assert!(
            (2..=3).contains(&letters.len()) && letters.bytes().all(|b| b.is_ascii_uppercase()),
            "{}",
            c.id
        );
        assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{}", c.id);
        assert!(
            c.slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{}",
            c.slug
        );
        assert!(ids.insert(c.id), "duplicate ID {}", c.id);
        assert!(slugs.insert(c.slug), "duplicate slug {}", c.slug);
    }
}

#[test]
fn the_catalog_holds_every_id_of_the_spec() {
    let spec = [
        "INP001", "AWS001", "SVC001", "SVC002", "VPC001", "VPC002", "VPC003", "VPC004", "EP001",
        "EP002", "EP003", "EP004", "AZ001", "AZ002", "SG001", "SG002", "ACL001", "ACL002",
        "DNS001", "DNS002", "DNS003", "DNS004", "IPV001", "NET001", "NET002", "TDB001", "TDB002",
    ];
    let ids: Vec<&str> = CATALOG.iter().map(|c| c.id).collect();
    assert_eq!(ids, spec);
}

#[test]
fn every_check_has_an_explain_page_that_names_it() {
    for c in CATALOG {
        let first = c.explain.lines().next().unwrap_or_default();
        assert_eq!(first, format!("# {} {}", c.id, c.slug));
        if c.judge.is_some() {
            assert!(c.explain.contains("**Why it matters.**"), "{}", c.id);
            assert!(c.explain.contains("**Fix"), "{}", c.id);
        }
    }
}

#[test]
fn nothing_passes_on_facts_never_gathered() {
    let findings = judge_all(&Facts::default());
    for f in &findings {
        assert_ne!(
            f.status,
            Status::Pass,
            "{} passed on no facts: {}",
            f.id,
            f.summary
        );
    }
    for c in CATALOG.iter().filter(|c| c.judge.is_none()) {
        let f = findings.iter().find(|f| f.id == c.id).expect("finding");
        assert_eq!(f.status, Status::Skip, "{} is not implemented", c.id);
    }
}
