//! RBAC: no delete, no wildcards, no escalation paths, running pods only where reviewed,
//! careful with secrets, no cluster-admin.
//!
//! Rules are matched the way the RBAC authorizer matches requests: `*` in apiGroups,
//! resources or verbs stands for every one, and `*/<subresource>` for that subresource of
//! every resource. So a wildcard is judged by what it reaches, not only by the literal names.

use kubelab_manifests::Document;
use serde_json::Value;

use super::{info, Finding};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Verbs that raise the subject's own rights, and what they act on (for a `*` verb, which
/// includes them only where it reaches those resources).
const ESCALATING_VERBS: [(&str, &str, &[&str]); 3] = [
    ("bind", RBAC_GROUP, &["roles", "clusterroles"]),
    ("escalate", RBAC_GROUP, &["roles", "clusterroles"]),
    // Users and groups are cluster-scoped; a Role reaches only serviceaccounts.
    ("impersonate", "", &["users", "groups", "serviceaccounts"]),
];

/// Subresources that hand over a running process, a node or a token: (resource, namespaced).
const ESCALATING_RESOURCES: [(&str, bool); 4] = [
    ("pods/exec", true),
    ("pods/attach", true),
    ("nodes/proxy", false),
    ("serviceaccounts/token", true),
];

/// Everything whose writer chooses a pod spec: pods, and every controller with a pod template.
const POD_RUNNERS: [(&str, &str); 8] = [
    ("", "pods"),
    ("", "replicationcontrollers"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
];

fn strings(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// One entry of a Role's `rules`.
struct PolicyRule<'a> {
    groups: Vec<&'a str>,
    resources: Vec<&'a str>,
    verbs: Vec<&'a str>,
    /// Empty: every object of the resources.
    names: Vec<&'a str>,
}

impl<'a> PolicyRule<'a> {
    fn new(rule: &'a Value) -> Self {
        Self {
            groups: strings(rule.get("apiGroups")),
            resources: strings(rule.get("resources")),
            verbs: strings(rule.get("verbs")),
            names: strings(rule.get("resourceNames")),
        }
    }

    fn allows_verb(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| *v == verb || *v == "*")
    }

    fn reaches(&self, group: &str, resource: &str) -> bool {
        let subresource = resource.split_once('/').map(|(_, sub)| sub);
        self.groups.iter().any(|g| *g == group || *g == "*")
            && self.resources.iter().any(|r| {
                *r == "*"
                    || *r == resource
                    || subresource.is_some_and(|sub| r.strip_prefix("*/") == Some(sub))
            })
    }

    /// The verbs that write a pod spec into `group/resource`. A rule with resourceNames never
    /// allows `create`: the authorizer cannot match a name that does not exist yet.
    fn pod_writes(&self, group: &str, resource: &str) -> Vec<&'static str> {
        if !self.reaches(group, resource) {
            return Vec::new();
        }
        ["create", "update", "patch"]
            .into_iter()
            .filter(|v| self.allows_verb(v) && (*v != "create" || self.names.is_empty()))
            .collect()
    }
}

pub fn check(doc: &Document, out: &mut Vec<Finding>) {
    let namespaced = doc.kind() == "Role" || doc.kind() == "RoleBinding";
    let mut finding = |rule: &'static str, message: String| {
        out.push(Finding {
            rule,
            severity: info(rule).map(|r| r.severity).expect("registered rule"),
            file: doc.file.clone(),
            line: doc.line,
            object: doc.reference(),
            namespace: namespaced.then(|| doc.namespace().to_string()),
            container: None,
            message,
        });
    };
    match doc.kind() {
        "Role" | "ClusterRole" => {
            for (i, value) in doc
                .value
                .get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let rule = PolicyRule::new(value);
                let (verbs, resources, groups) = (&rule.verbs, &rule.resources, &rule.groups);
                let at = format!("rule {}", i + 1);
                for verb in verbs {
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
                    ("verbs", verbs),
                    ("resources", resources),
                    ("apiGroups", groups),
                ] {
                    if list.contains(&"*") {
                        finding("KL202", format!("{at} has `*` in {what}"));
                    }
                }
                escalations(&rule, namespaced, &at, &mut finding);
                runs_pods(
                    &rule,
                    namespaced.then(|| doc.namespace()),
                    &at,
                    &mut finding,
                );
                // With resourceNames, reads reach only the named secrets (list and watch too:
                // they then answer only requests that select one of those names).
                let core = groups.iter().any(|g| g.is_empty() || *g == "*");
                if core
                    && rule.names.is_empty()
                    && resources.iter().any(|r| *r == "secrets" || *r == "*")
                {
                    let reads: Vec<&str> = verbs
                        .iter()
                        .copied()
                        .filter(|v| matches!(*v, "get" | "list" | "watch" | "*"))
                        .collect();
                    if !reads.is_empty() {
                        finding(
                            "KL204",
                            format!(
                                "{at} can {} every secret, not only named ones",
                                reads.join("/")
                            ),
                        );
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

/// KL203: each escalation named outright is its own finding; what a wildcard reaches is one
/// finding per rule, listing it.
/// `role`: the rule is a Role's, so wildcards reach only namespaced resources.
fn escalations(
    rule: &PolicyRule,
    role: bool,
    at: &str,
    finding: &mut impl FnMut(&'static str, String),
) {
    let mut through_wildcards = Vec::new();
    for (verb, group, targets) in ESCALATING_VERBS {
        if rule.verbs.contains(&verb) {
            finding("KL203", format!("{at} allows `{verb}`"));
        } else if rule.verbs.contains(&"*")
            && targets.iter().any(|t| {
                rule.reaches(group, t)
                    && (!role || verb != "impersonate" || *t == "serviceaccounts")
            })
        {
            through_wildcards.push(verb);
        }
    }
    for (resource, is_namespaced) in ESCALATING_RESOURCES {
        if rule.resources.contains(&resource) {
            finding("KL203", format!("{at} grants `{resource}`"));
        } else if (is_namespaced || !role)
            && rule.reaches("", resource)
            // Connecting to a pod or node, or minting a token, is a create (or, over
            // websockets, a get).
            && (rule.allows_verb("create") || rule.allows_verb("get"))
        {
            through_wildcards.push(resource);
        }
    }
    if !through_wildcards.is_empty() {
        finding(
            "KL203",
            format!(
                "{at} grants through `*`: {}",
                through_wildcards
                    .iter()
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
}

/// KL206: writing a pod spec, directly or through a controller's template, runs any pod the
/// writer likes; the message says how far that reaches. `namespace` is `None` for a
/// ClusterRole.
fn runs_pods(
    rule: &PolicyRule,
    namespace: Option<&str>,
    at: &str,
    finding: &mut impl FnMut(&'static str, String),
) {
    let mut verbs: Vec<&str> = Vec::new();
    let mut resources = Vec::new();
    for (group, resource) in POD_RUNNERS {
        let writes = rule.pod_writes(group, resource);
        if !writes.is_empty() {
            resources.push(resource);
            for verb in writes {
                if !verbs.contains(&verb) {
                    verbs.push(verb);
                }
            }
        }
    }
    if resources.is_empty() {
        return;
    }
    verbs.sort_by_key(|v| ["create", "update", "patch"].iter().position(|w| w == v));
    let can = format!("{at} can {} {}", verbs.join("/"), resources.join(", "));
    let message = match namespace {
        Some(ns) => format!(
            "{can}, so it can run any pod in namespace `{ns}`: one that mounts the namespace's Secrets and runs as any of its ServiceAccounts"
        ),
        None => format!(
            "{can}, so it can run any pod, mounting Secrets and running as any ServiceAccount, in every namespace a ClusterRoleBinding grants it: that is every namespace, kube-system's ServiceAccounts included, far worse than a Role in one namespace"
        ),
    };
    finding("KL206", message);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Severity;
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

    fn findings_of(value: Value) -> Vec<Finding> {
        let doc = Document {
            file: "r.yaml".into(),
            line: 1,
            value,
        };
        let mut out = Vec::new();
        check(&doc, &mut out);
        out
    }

    fn cluster_role(rules: Value) -> Value {
        json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": { "name": "r" }, "rules": rules })
    }

    fn sorted(mut rules: Vec<&'static str>) -> Vec<&'static str> {
        rules.sort();
        rules
    }

    #[test]
    fn the_seeds_ci_runner_role_is_a_deployer_that_reads_secrets() {
        let r = role(json!([
            { "apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "create", "update", "patch"] },
            { "apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["get", "list"] },
        ]));
        // Warnings both: it deploys by design, and reads the namespace's secrets.
        let found = findings_of(r);
        assert_eq!(
            sorted(found.iter().map(|f| f.rule).collect()),
            ["KL204", "KL206"]
        );
        assert!(found.iter().all(|f| f.severity == Severity::Warning));
    }

    #[test]
    fn reading_only_named_secrets_is_what_the_fix_asks_for() {
        let secrets = |verbs: Value, names: Option<Value>| {
            let mut rule = json!({ "apiGroups": [""], "resources": ["secrets"], "verbs": verbs });
            if let Some(names) = names {
                rule["resourceNames"] = names;
            }
            role(json!([rule]))
        };
        assert!(rules_of(secrets(json!(["get"]), Some(json!(["ci-token"])))).is_empty());
        // list and watch with names answer only requests that select those names.
        assert!(rules_of(secrets(
            json!(["get", "list", "watch"]),
            Some(json!(["ci-token", "registry"]))
        ))
        .is_empty());
        // No names, or an empty list, means every secret.
        assert_eq!(rules_of(secrets(json!(["get"]), None)), ["KL204"]);
        assert_eq!(
            rules_of(secrets(json!(["get"]), Some(json!([])))),
            ["KL204"]
        );
        assert_eq!(rules_of(secrets(json!(["list"]), None)), ["KL204"]);
    }

    #[test]
    fn writing_anything_with_a_pod_template_is_judged_like_creating_pods() {
        let runners = [
            ("", "pods"),
            ("", "replicationcontrollers"),
            ("apps", "deployments"),
            ("apps", "replicasets"),
            ("apps", "statefulsets"),
            ("apps", "daemonsets"),
            ("batch", "jobs"),
            ("batch", "cronjobs"),
        ];
        for (group, resource) in runners {
            for verb in ["create", "update", "patch", "*"] {
                let found = findings_of(role(
                    json!([{ "apiGroups": [group], "resources": [resource], "verbs": [verb] }]),
                ));
                let runs: Vec<&Finding> = found.iter().filter(|f| f.rule == "KL206").collect();
                assert_eq!(runs.len(), 1, "{verb} {group}/{resource}: {found:?}");
                assert_eq!(runs[0].severity, Severity::Warning);
                assert!(
                    runs[0].message.contains(resource)
                        && runs[0].message.contains("ServiceAccounts"),
                    "{}",
                    runs[0].message
                );
                assert!(
                    !found.iter().any(|f| f.rule == "KL203"),
                    "a deployer is no escalation: {found:?}"
                );
            }
        }
        let kl206 = |rules: Value| rules_of(role(rules)).contains(&"KL206");
        // Wildcards reach them too.
        assert!(kl206(
            json!([{ "apiGroups": ["*"], "resources": ["deployments"], "verbs": ["create"] }])
        ));
        assert!(kl206(
            json!([{ "apiGroups": ["batch"], "resources": ["*"], "verbs": ["patch"] }])
        ));
        // Reading is not running; neither is another group's `deployments`.
        assert!(!kl206(
            json!([{ "apiGroups": ["apps"], "resources": ["deployments", "statefulsets"], "verbs": ["get", "list", "watch"] }])
        ));
        assert!(!kl206(
            json!([{ "apiGroups": ["example.com"], "resources": ["deployments"], "verbs": ["create"] }])
        ));
        assert!(!kl206(
            json!([{ "apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["update"] }])
        ));
        // RBAC cannot match a create against resourceNames, so such a rule creates nothing...
        assert!(!kl206(
            json!([{ "apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["web"], "verbs": ["create"] }])
        ));
        // ...but updating one named Deployment still rewrites its pod template.
        assert!(kl206(
            json!([{ "apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["web"], "verbs": ["update"] }])
        ));
    }

    #[test]
    fn a_cluster_role_that_runs_pods_says_it_reaches_every_namespace() {
        let rule =
            json!([{ "apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create"] }]);
        let namespaced = findings_of(role(rule.clone()));
        assert!(
            namespaced[0].message.contains("namespace `p`")
                && !namespaced[0].message.contains("every namespace"),
            "{}",
            namespaced[0].message
        );
        let cluster = findings_of(cluster_role(rule));
        assert!(
            cluster[0].message.contains("every namespace")
                && cluster[0].message.contains("kube-system"),
            "{}",
            cluster[0].message
        );
    }

    #[test]
    fn escalations_no_deployer_needs_stay_errors() {
        let kl203 = |rules: Value| -> Vec<Severity> {
            findings_of(role(rules))
                .into_iter()
                .filter(|f| f.rule == "KL203")
                .map(|f| f.severity)
                .collect()
        };
        for resource in [
            "pods/exec",
            "pods/attach",
            "nodes/proxy",
            "serviceaccounts/token",
        ] {
            assert_eq!(
                kl203(json!([{ "apiGroups": [""], "resources": [resource], "verbs": ["create"] }])),
                [Severity::Error],
                "{resource}"
            );
        }
        for (group, resource, verb) in [
            ("rbac.authorization.k8s.io", "roles", "bind"),
            ("rbac.authorization.k8s.io", "clusterroles", "escalate"),
            ("", "serviceaccounts", "impersonate"),
        ] {
            assert_eq!(
                kl203(json!([{ "apiGroups": [group], "resources": [resource], "verbs": [verb] }])),
                [Severity::Error],
                "{verb}"
            );
        }
        // Through wildcards: every core resource includes pods/exec, `*/exec` every exec,
        // every verb on roles includes bind and escalate, on serviceaccounts impersonate.
        for rules in [
            json!([{ "apiGroups": [""], "resources": ["*"], "verbs": ["create"] }]),
            json!([{ "apiGroups": [""], "resources": ["*/exec"], "verbs": ["create"] }]),
            json!([{ "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["*"] }]),
            json!([{ "apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["*"] }]),
        ] {
            assert_eq!(kl203(rules.clone()), [Severity::Error], "{rules}");
        }
        // A Role reaches only its namespace's objects: no node proxy, no user impersonation.
        let wildcard = json!([{ "apiGroups": [""], "resources": ["*"], "verbs": ["*"] }]);
        let reached = |doc: Value| -> String {
            findings_of(doc)
                .into_iter()
                .filter(|f| f.rule == "KL203")
                .map(|f| f.message)
                .collect()
        };
        let in_role = reached(role(wildcard.clone()));
        assert!(
            in_role.contains("`pods/exec`")
                && in_role.contains("`impersonate`")
                && !in_role.contains("nodes/proxy"),
            "{in_role}"
        );
        let in_cluster_role = reached(cluster_role(wildcard));
        assert!(
            in_cluster_role.contains("`nodes/proxy`"),
            "{in_cluster_role}"
        );
        // Reading pods, or every verb on an unrelated resource, escalates nothing.
        assert!(kl203(json!([{ "apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"] }])).is_empty());
        assert!(
            kl203(json!([{ "apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"] }]))
                .is_empty()
        );
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
        for rule in ["KL201", "KL202", "KL203", "KL204", "KL206"] {
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
