//! Envoy route configuration as istiod writes it: routes with retries and faults, and RBAC.

use super::*;

pub(super) fn percentage_100() -> Value {
    json!({"numerator": 100, "denominator": "HUNDRED"})
}

/// Istio's default retry policy for HTTP routes.
pub(super) fn retry_policy() -> Value {
    json!({
        "retry_on": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
        "num_retries": 2,
        "retriable_status_codes": [503],
    })
}

pub(super) fn envoy_route(host: &str, route: &Route) -> Value {
    let mut matcher = json!({"prefix": "/"});
    if let Some(user) = &route.end_user {
        matcher["headers"] = json!([{"name": "end-user", "string_match": {"exact": user}}]);
    }
    let mut action = if route.clusters.len() == 1 {
        json!({"cluster": route.clusters[0].0, "timeout": "0s"})
    } else {
        json!({
            "weighted_clusters": {"clusters": route.clusters
                .iter()
                .map(|(name, weight)| json!({"name": name, "weight": weight}))
                .collect::<Vec<_>>()},
            "timeout": "0s",
        })
    };
    action["retry_policy"] = retry_policy();
    let mut envoy = json!({
        "match": matcher,
        "route": action,
        "decorator": {"operation": operation(host)},
    });
    let mut fault = serde_json::Map::new();
    if let Some(status) = route.abort_status {
        fault.insert(
            "abort".into(),
            json!({"http_status": status, "percentage": percentage_100()}),
        );
    }
    if let Some(delay) = &route.delay {
        fault.insert(
            "delay".into(),
            json!({"fixed_delay": delay, "percentage": percentage_100()}),
        );
    }
    if !fault.is_empty() {
        fault.insert(
            "@type".into(),
            json!("type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"),
        );
        envoy["typed_per_filter_config"] = json!({"envoy.filters.http.fault": fault});
    }
    envoy
}

pub(super) fn fault_filter() -> Value {
    json!({
        "name": "envoy.filters.http.fault",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"},
    })
}

/// RBAC as Istio translates ALLOW policies: a request passes when one rule matches both its
/// peer's identity (from the client certificate) and its method; no rule, no request.
pub(super) fn rbac_filter(rules: &[AllowRule]) -> Value {
    let mut policies = serde_json::Map::new();
    for (index, rule) in rules.iter().enumerate() {
        let or_ids = |ids: Vec<Value>| {
            if ids.is_empty() {
                json!({"any": true})
            } else {
                json!({"or_ids": {"ids": ids}})
            }
        };
        let principals = or_ids(
            rule.principals
                .iter()
                .map(|p| json!({"authenticated": {"principal_name": {"exact": spiffe(p)}}}))
                .collect(),
        );
        let permissions = if rule.methods.is_empty() {
            json!({"any": true})
        } else {
            json!({"or_rules": {"rules": rule.methods
                .iter()
                .map(|m| json!({"header": {"name": ":method", "string_match": {"exact": m}}}))
                .collect::<Vec<_>>()}})
        };
        policies.insert(
            format!("rule-{index}"),
            json!({"permissions": [permissions], "principals": [principals]}),
        );
    }
    json!({
        "name": "envoy.filters.http.rbac",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
            "rules": {"action": "ALLOW", "policies": policies},
        },
    })
}
