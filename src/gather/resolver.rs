//! Route 53 Resolver rules associated with a VPC (DNS004): one listing of
//! the VPC's rule associations, then each rule read once, concurrently.
//! Both calls go through [`Bounded`], each named by its own [`Need`], so a
//! denied `GetResolverRule` is told apart from a denied listing.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use aws_sdk_route53resolver::types::Filter;
use tidbpe_checks::facts::ResolverRule;
use tidbpe_checks::{Fact, FactError, FactErrorKind, Need};

use super::aws::{fact_error, Aws};
use super::bounded::Bounded;
use super::Plan;

/// One association: the rule it names, its ID and status.
struct Association {
    rule_id: String,
    association_id: Option<String>,
    status: Option<String>,
}

/// The rules associated with `vpc_id`, each with its association; `None`
/// when no selected check reads them.
pub async fn rules(
    b: &Bounded,
    aws: &Aws,
    plan: &Plan,
    vpc_id: &str,
) -> Option<Fact<Vec<ResolverRule>>> {
    if !plan.wants(Need::ResolverRuleAssociations) {
        return None;
    }
    Some(associated_rules(b, aws, vpc_id).await)
}

async fn associated_rules(b: &Bounded, aws: &Aws, vpc_id: &str) -> Fact<Vec<ResolverRule>> {
    let associations = b
        .call(Need::ResolverRuleAssociations, || {
            aws.rule_associations(vpc_id)
        })
        .await?;
    // A rule is read once, however many associations name it.
    let mut by_rule: BTreeMap<&str, &Association> = BTreeMap::new();
    for a in &associations {
        by_rule.entry(a.rule_id.as_str()).or_insert(a);
    }
    let read = futures::future::join_all(
        by_rule
            .keys()
            .map(|id| b.call(Need::ResolverRules, move || aws.resolver_rule(id))),
    )
    .await;
    let mut rules = Vec::with_capacity(read.len());
    for (rule, association) in read.into_iter().zip(by_rule.values()) {
        let mut rule = rule?;
        rule.association_id = association.association_id.clone();
        rule.association_status = association.status.clone();
        rules.push(rule);
    }
    Ok(rules)
}

impl Aws {
    /// `ListResolverRuleAssociations` filtered by the VPC, every page.
    async fn rule_associations(&self, vpc_id: &str) -> Fact<Vec<Association>> {
        let need = Need::ResolverRuleAssociations;
        let items = self
            .route53resolver
            .list_resolver_rule_associations()
            .filters(Filter::builder().name("VPCId").values(vpc_id).build())
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| fact_error(need, &e))?;
        Ok(items
            .iter()
            // Another VPC's association (a server that ignores the filter) is not ours.
            .filter(|a| a.vpc_id().is_none_or(|v| v == vpc_id))
            .filter_map(|a| {
                Some(Association {
                    rule_id: a.resolver_rule_id()?.to_string(),
                    association_id: a.id().map(str::to_string),
                    status: a.status().map(|s| s.as_str().to_string()),
                })
            })
            .collect())
    }

    /// `GetResolverRule`.
    async fn resolver_rule(&self, rule_id: &str) -> Fact<ResolverRule> {
        let need = Need::ResolverRules;
        let out = self
            .route53resolver
            .get_resolver_rule()
            .resolver_rule_id(rule_id)
            .send()
            .await
            .map_err(|e| fact_error(need, &e))?;
        let rule = out.resolver_rule().ok_or_else(|| {
            FactError::of_call(
                need,
                FactErrorKind::Api,
                format!("the answer for {rule_id} carries no rule"),
            )
        })?;
        let target_ips = rule
            .target_ips()
            .iter()
            .filter_map(|t| {
                let ip: IpAddr = t.ip().or(t.ipv6())?.parse().ok()?;
                let port = t.port().and_then(|p| u16::try_from(p).ok()).unwrap_or(53);
                Some(SocketAddr::new(ip, port))
            })
            .collect();
        Ok(ResolverRule {
            rule_id: rule.id().unwrap_or(rule_id).to_string(),
            domain_name: rule.domain_name().unwrap_or_default().to_string(),
            rule_type: rule
                .rule_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            name: rule.name().map(str::to_string),
            target_ips,
            resolver_endpoint_id: rule.resolver_endpoint_id().map(str::to_string),
            owner_id: rule.owner_id().map(str::to_string),
            association_id: None,
            association_status: None,
        })
    }
}
