//! RBAC: no delete, no wildcards, no escalation paths, careful with secrets, no cluster-admin.

use serde_json::Value;

use super::{info, Finding};
use crate::input::Document;

const ESCALATING_VERBS: [&str; 3] = ["bind", "escalate", "impersonate"];
const ESCALATING_RESOURCES: [&str; 4] = [
    "pods/exec",
    "pods/attach",
    "nodes/proxy",
    "serviceaccounts/token",
];

fn strings(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

pub fn check(doc: &Document, out: &mut Vec<Finding>) {
    let mut finding = |rule: &'static str, message: String| {
        out.push(Finding {
            rule,
            severity: info(rule).map(|r| r.severity).expect("registered rule"),
            file: doc.file.clone(),
            line: doc.line,
            object: doc.reference(),
            namespace: (doc.kind() == "Role" || doc.kind() == "RoleBinding")
                .then(|| doc.namespace().to_string()),
            container: None,
            message,
        });
    };
    match doc.kind() {
        "Role" | "ClusterRole" => {
            for (i, rule) in doc
                .value
                .get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let verbs = strings(rule.get("verbs"));
                let resources = strings(rule.get("resources"));
                let groups = strings(rule.get("apiGroups"));
                let at = format!("rule {}", i + 1);
                for verb in &verbs {
                    if matches!(*verb, "delete" | "deletecollection") {
                        finding(
                            "KL201",
                            format!("{at} allows `{verb}` on {}", resources.join(", ")),
                        );
                    }
                }
                if verbs.contains(&"*") {
                    finding("KL201", format!("{at} allows every verb, delete included"));
                }
                for (what, list) in [
                    ("verbs", &verbs),
                    ("resources", &resources),
                    ("apiGroups", &groups),
                ] {
                    if list.contains(&"*") {
                        finding("KL202", format!("{at} has `*` in {what}"));
                    }
                }
                for verb in verbs.iter().filter(|v| ESCALATING_VERBS.contains(v)) {
                    finding("KL203", format!("{at} allows `{verb}`"));
                }
                for resource in resources
                    .iter()
                    .filter(|r| ESCALATING_RESOURCES.contains(r))
                {
                    finding("KL203", format!("{at} grants `{resource}`"));
                }
                let core = groups.iter().any(|g| g.is_empty() || *g == "*");
                if core
                    && resources.iter().any(|r| *r == "pods" || *r == "*")
                    && verbs.iter().any(|v| *v == "create" || *v == "*")
                {
                    finding("KL203", format!("{at} can create pods, which run as any ServiceAccount in the namespace"));
                }
                if core && resources.iter().any(|r| *r == "secrets" || *r == "*") {
                    let reads: Vec<&str> = verbs
                        .iter()
                        .copied()
                        .filter(|v| matches!(*v, "get" | "list" | "watch" | "*"))
                        .collect();
                    if !reads.is_empty() {
                        finding("KL204", format!("{at} can {} secrets", reads.join("/")));
                    }
                }
            }
        }
        "RoleBinding" | "ClusterRoleBinding"
            if doc.value.pointer("/roleRef/name").and_then(Value::as_str)
                == Some("cluster-admin") =>
        {
            let subjects: Vec<String> = doc
                .value
                .get("subjects")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|s| {
                    format!(
                        "{} {}",
                        s.get("kind").and_then(Value::as_str).unwrap_or("?"),
                        s.get("name").and_then(Value::as_str).unwrap_or("?")
                    )
                })
                .collect();
            finding(
                "KL205",
                format!("binds cluster-admin to {}", subjects.join(", ")),
            );
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules_of(value: Value) -> Vec<&'static str> {
        let doc = Document {
            file: "r.yaml".into(),
            line: 1,
            value,
        };
        let mut out = Vec::new();
        check(&doc, &mut out);
        out.into_iter().map(|f| f.rule).collect()
    }

    fn role(rules: Value) -> Value {
        json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": { "name": "r", "namespace": "p" }, "rules": rules })
    }

    #[test]
    fn the_seeds_ci_runner_role_passes_but_for_secrets_read() {
        let r = role(json!([
            { "apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "create", "update", "patch"] },
            { "apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["get", "list"] },
        ]));
        assert_eq!(rules_of(r), ["KL204"]);
    }

    #[test]
    fn delete_wildcards_and_escalation_are_flagged() {
        assert_eq!(
            rules_of(role(
                json!([{ "apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["delete"] }])
            )),
            ["KL201"]
        );
        let all = rules_of(role(
            json!([{ "apiGroups": ["*"], "resources": ["*"], "verbs": ["*"] }]),
        ));
        for rule in ["KL201", "KL202", "KL203", "KL204"] {
            assert!(all.contains(&rule), "{rule}: {all:?}");
        }
        assert_eq!(
            rules_of(role(
                json!([{ "apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"] }])
            )),
            ["KL203"]
        );
        assert_eq!(
            rules_of(role(
                json!([{ "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["bind"] }])
            )),
            ["KL203"]
        );
    }

    #[test]
    fn cluster_admin_bindings_are_flagged() {
        let binding = json!({ "kind": "ClusterRoleBinding", "metadata": { "name": "b" }, "roleRef": { "kind": "ClusterRole", "name": "cluster-admin" }, "subjects": [{ "kind": "ServiceAccount", "name": "ci" }] });
        assert_eq!(rules_of(binding), ["KL205"]);
        let fine = json!({ "kind": "RoleBinding", "metadata": { "name": "b" }, "roleRef": { "kind": "Role", "name": "deployer" } });
        assert_eq!(rules_of(fine), Vec::<&str>::new());
    }
}
