//! Label selectors (`matchLabels`, `matchExpressions`) and node selector requirements, and
//! whether a set of labels satisfies them: the one matcher the linter (LoadBalancer pools,
//! architecture pins) and the planner (affinity, spread, budgets, claims, node affinity) share.
//!
//! Construction validates the way apimachinery's `LabelSelectorAsSelector` and the scheduler's
//! node-selector parsing do: label selectors take `In`, `NotIn`, `Exists`, `DoesNotExist`; node
//! selector requirements also `Gt` and `Lt` with exactly one integer; `In`/`NotIn` need values
//! and `Exists`/`DoesNotExist` take none. An invalid selector is an error here; the callers
//! decide what it selects (both treat it as selecting nothing, as Kubernetes does for a term
//! it cannot parse). Key and value syntax is left to the API server's validation.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub op: Op,
}

/// Why a selector or requirement is not one Kubernetes would accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error("`{operator}` (key `{key}`) is not an operator a {context} takes")]
    Operator {
        key: String,
        operator: String,
        context: &'static str,
    },
    #[error("`{operator}` (key `{key}`) {needs}")]
    Values {
        key: String,
        operator: String,
        needs: &'static str,
    },
    #[error("the selector's {0} is not in the shape of a label selector")]
    Shape(&'static str),
}

impl Requirement {
    /// A requirement from a label selector's `matchExpressions`.
    pub fn label(key: &str, operator: &str, values: &[String]) -> Result<Self, SelectorError> {
        if matches!(operator, "Gt" | "Lt") {
            return Err(SelectorError::Operator {
                key: key.into(),
                operator: operator.into(),
                context: "label selector",
            });
        }
        Self::node(key, operator, values)
    }

    /// A requirement from a node selector term (`matchExpressions` or `matchFields`).
    pub fn node(key: &str, operator: &str, values: &[String]) -> Result<Self, SelectorError> {
        let wrong = |needs| SelectorError::Values {
            key: key.into(),
            operator: operator.into(),
            needs,
        };
        let integer = || match values {
            [one] => one
                .parse::<i64>()
                .map_err(|_| wrong("needs exactly one integer value")),
            _ => Err(wrong("needs exactly one integer value")),
        };
        let op = match operator {
            "In" | "NotIn" if values.is_empty() => return Err(wrong("needs at least one value")),
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(wrong("takes no values"))
            }
            "In" => Op::In(values.to_vec()),
            "NotIn" => Op::NotIn(values.to_vec()),
            "Exists" => Op::Exists,
            "DoesNotExist" => Op::DoesNotExist,
            "Gt" => Op::Gt(integer()?),
            "Lt" => Op::Lt(integer()?),
            _ => {
                return Err(SelectorError::Operator {
                    key: key.into(),
                    operator: operator.into(),
                    context: "selector",
                })
            }
        };
        Ok(Requirement {
            key: key.to_string(),
            op,
        })
    }

    /// `NotIn` and `DoesNotExist` hold for a missing label; `Gt`/`Lt` need an integer value.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match &self.op {
            Op::In(vs) => value.is_some_and(|v| vs.contains(v)),
            Op::NotIn(vs) => value.is_none_or(|v| !vs.contains(v)),
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
            Op::Gt(n) => value
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v > *n),
            Op::Lt(n) => value
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v < *n),
        }
    }
}

/// A label selector: every requirement must hold. The empty selector matches every set of
/// labels; "no selector at all" is the caller's to decide (it usually matches nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    pub requirements: Vec<Requirement>,
}

impl Selector {
    /// A selector no labels satisfy: `In` over no values. (The API rejects an empty `In`, so
    /// it cannot collide with anything read from a manifest.)
    pub fn nothing() -> Self {
        Selector {
            requirements: vec![Requirement {
                key: String::new(),
                op: Op::In(Vec::new()),
            }],
        }
    }

    /// `matchLabels` pairs (each an `In` with one value) followed by `matchExpressions`.
    pub fn new<'a>(
        match_labels: impl IntoIterator<Item = (&'a String, &'a String)>,
        match_expressions: impl IntoIterator<Item = Result<Requirement, SelectorError>>,
    ) -> Result<Self, SelectorError> {
        let mut requirements: Vec<Requirement> = match_labels
            .into_iter()
            .map(|(k, v)| Requirement {
                key: k.clone(),
                op: Op::In(vec![v.clone()]),
            })
            .collect();
        for r in match_expressions {
            requirements.push(r?);
        }
        Ok(Selector { requirements })
    }

    /// A label selector as JSON (`{matchLabels: …, matchExpressions: […]}`), as found in any
    /// object the linter reads. Values that are not strings are errors, as they are to the API
    /// server's strict decoder.
    pub fn from_value(selector: &Value) -> Result<Self, SelectorError> {
        let object = selector.as_object().ok_or(SelectorError::Shape("value"))?;
        let labels: BTreeMap<String, String> = match object.get("matchLabels") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect::<Option<_>>()
                .ok_or(SelectorError::Shape("matchLabels"))?,
            Some(_) => return Err(SelectorError::Shape("matchLabels")),
        };
        let expressions = match object.get("matchExpressions") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(a)) => a.as_slice(),
            Some(_) => return Err(SelectorError::Shape("matchExpressions")),
        };
        let requirement = |e: &Value| {
            let text = |field| e.get(field).and_then(Value::as_str);
            let values = match e.get("values") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<_>>()
                    .ok_or(SelectorError::Shape("matchExpressions values"))?,
                Some(_) => return Err(SelectorError::Shape("matchExpressions values")),
            };
            Requirement::label(
                text("key").unwrap_or(""),
                text("operator").unwrap_or(""),
                &values,
            )
        };
        Self::new(&labels, expressions.iter().map(requirement))
    }

    /// A selector from lab.yaml (a LoadBalancer pool's `serviceSelector`).
    pub fn from_lab(selector: &kubelab_spec::model::LabelSelector) -> Result<Self, SelectorError> {
        use kubelab_spec::model::SelectorOperator;
        Self::new(
            &selector.match_labels,
            selector.match_expressions.iter().map(|e| {
                let operator = match e.operator {
                    SelectorOperator::In => "In",
                    SelectorOperator::NotIn => "NotIn",
                    SelectorOperator::Exists => "Exists",
                    SelectorOperator::DoesNotExist => "DoesNotExist",
                };
                Requirement::label(&e.key, operator, &e.values)
            }),
        )
    }

    /// A k8s-openapi label selector (pod affinity, spread constraints, budgets, claims).
    #[cfg(feature = "k8s-openapi")]
    pub fn from_k8s(
        selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    ) -> Result<Self, SelectorError> {
        Self::new(
            selector.match_labels.iter().flatten(),
            selector.match_expressions.iter().flatten().map(|r| {
                Requirement::label(&r.key, &r.operator, r.values.as_deref().unwrap_or(&[]))
            }),
        )
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn matches(selector: Value, pairs: &[(&str, &str)]) -> bool {
        Selector::from_value(&selector)
            .expect("a valid selector")
            .matches(&labels(pairs))
    }

    #[test]
    fn match_labels_and_every_operator() {
        let tier = json!({ "matchLabels": { "tier": "web" } });
        assert!(matches(tier.clone(), &[("tier", "web"), ("x", "y")]));
        assert!(!matches(tier.clone(), &[("tier", "db")]));
        assert!(!matches(tier, &[]));
        let expr = |op: &str, values: Value| json!({ "matchExpressions": [{ "key": "zone", "operator": op, "values": values }] });
        assert!(matches(expr("In", json!(["a", "b"])), &[("zone", "b")]));
        assert!(!matches(expr("In", json!(["a"])), &[("zone", "b")]));
        assert!(!matches(expr("In", json!(["a"])), &[]));
        assert!(matches(expr("NotIn", json!(["a"])), &[("zone", "b")]));
        assert!(
            matches(expr("NotIn", json!(["a"])), &[]),
            "absent is not in"
        );
        assert!(!matches(expr("NotIn", json!(["a"])), &[("zone", "a")]));
        assert!(matches(expr("Exists", json!([])), &[("zone", "")]));
        assert!(!matches(expr("Exists", Value::Null), &[]));
        assert!(matches(expr("DoesNotExist", json!([])), &[]));
        assert!(!matches(expr("DoesNotExist", json!([])), &[("zone", "a")]));
    }

    #[test]
    fn the_empty_selector_matches_everything_and_nothing_matches_nothing() {
        assert!(matches(json!({}), &[]));
        assert!(matches(json!({ "matchLabels": null }), &[("a", "b")]));
        assert!(!Selector::nothing().matches(&labels(&[])));
        assert!(!Selector::nothing().matches(&labels(&[("", "")])));
    }

    #[test]
    fn node_requirements_compare_integers() {
        let gt = Requirement::node("cpus", "Gt", &["4".into()]).unwrap();
        assert!(gt.matches(&labels(&[("cpus", "8")])));
        assert!(!gt.matches(&labels(&[("cpus", "4")])));
        assert!(!gt.matches(&labels(&[("cpus", "many")])));
        let lt = Requirement::node("cpus", "Lt", &["4".into()]).unwrap();
        assert!(lt.matches(&labels(&[("cpus", "2")])));
        assert!(!lt.matches(&labels(&[])));
        assert!(Requirement::node("cpus", "Gt", &["4".into(), "5".into()]).is_err());
        assert!(Requirement::node("cpus", "Gt", &["four".into()]).is_err());
    }

    // Where the linter's matcher and the planner's disagreed: the linter failed an unknown
    // operator and matched a non-string matchLabels value only when the label was absent; the
    // planner dropped unknown operators (matching more) and took Gt/Lt in label selectors.
    // Kubernetes rejects all of these selectors.
    #[test]
    fn selectors_kubernetes_rejects_are_errors() {
        let expr = |op: &str, values: Value| json!({ "matchExpressions": [{ "key": "k", "operator": op, "values": values }] });
        for bad in [
            expr("Equals", json!(["a"])),
            expr("Gt", json!(["1"])),
            expr("In", json!([])),
            expr("NotIn", Value::Null),
            expr("Exists", json!(["a"])),
            expr("In", json!([1])),
            json!({ "matchExpressions": [{ "key": "k" }] }),
            json!({ "matchLabels": { "tier": 1 } }),
            json!({ "matchLabels": ["tier"] }),
            json!("tier=web"),
        ] {
            assert!(Selector::from_value(&bad).is_err(), "{bad}");
        }
        let err = Selector::from_value(&expr("Equals", json!(["a"]))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`Equals` (key `k`) is not an operator a selector takes"
        );
    }

    #[test]
    fn lab_selectors_read_like_manifest_ones() {
        let lab: kubelab_spec::model::LabelSelector = serde_json::from_value(json!({
            "matchLabels": { "exposure": "public" },
            "matchExpressions": [{ "key": "tier", "operator": "NotIn", "values": ["db"] }]
        }))
        .unwrap();
        let selector = Selector::from_lab(&lab).unwrap();
        assert!(selector.matches(&labels(&[("exposure", "public")])));
        assert!(!selector.matches(&labels(&[("exposure", "public"), ("tier", "db")])));
        assert!(!selector.matches(&labels(&[])));
    }
}
