//! The security section: namespaces, allow rules and RBAC that keep least privilege.

use super::Context;
use crate::diagnostic::Diagnostic;
use crate::model::{parse_port, PodSecurityLevel};

/// Verbs that destroy; the seed's CI runner must never hold them.
const DESTRUCTIVE_VERBS: [&str; 2] = ["delete", "deletecollection"];

pub fn check(ctx: &Context, out: &mut Vec<Diagnostic>) {
    for (i, recipient) in ctx.lab.secrets.recipients.iter().enumerate() {
        let plausible = recipient.starts_with("age1") && recipient.len() == 62;
        if !plausible {
            out.push(
                Diagnostic::error("invalid-recipient", format!("`{recipient}` is not an age recipient"))
                    .with_label_opt(ctx.at(&format!("/secrets/recipients/{i}")), "expected age1… (62 characters)")
                    .with_help("`age-keygen -y key.txt` prints the recipient of an age key; kubelab prints its own at `kubelab secrets init`"),
            );
        }
    }
    let sec = &ctx.lab.security;
    if sec.pod_security != PodSecurityLevel::Restricted {
        out.push(
            Diagnostic::warning("weak-pod-security", format!("app namespaces enforce `{}` Pod Security, not `restricted`", sec.pod_security.as_str()))
                .with_label_opt(ctx.at("/security/podSecurity"), "weaker than the seed's baseline")
                .with_help("`restricted` requires non-root, no privilege escalation, dropped capabilities and a seccomp profile"),
        );
    }
    // Sets, so that long lists stay linear.
    let namespaces: std::collections::HashSet<&str> =
        sec.namespaces.iter().map(|n| n.name.as_str()).collect();
    let mut seen = std::collections::HashSet::new();
    for (i, ns) in sec.namespaces.iter().enumerate() {
        if !seen.insert(ns.name.as_str()) {
            out.push(
                Diagnostic::error(
                    "duplicate-namespace",
                    format!("namespace `{}` is declared twice", ns.name),
                )
                .with_label_opt(
                    ctx.at(&format!("/security/namespaces/{i}/name")),
                    "second declaration",
                ),
            );
        }
        if matches!(
            ns.name.as_str(),
            "kube-system" | "kube-public" | "kube-node-lease" | "default"
        ) {
            out.push(
                Diagnostic::warning("system-namespace", format!("`{}` is not an app namespace", ns.name))
                    .with_label_opt(ctx.at(&format!("/security/namespaces/{i}/name")), "managed by Kubernetes")
                    .with_help("default-deny and restricted Pod Security here would break system components; create your own namespace"),
            );
        }
        for (r, rule) in ns.allow.iter().enumerate() {
            let pointer = format!("/security/namespaces/{i}/allow/{r}");
            if rule.from.is_none() && rule.to.is_none() && ctx.known(&pointer) {
                out.push(
                    Diagnostic::error(
                        "allow-without-peer",
                        format!("allow rule `{}` has neither `from` nor `to`", rule.name),
                    )
                    .with_label_opt(ctx.at(&pointer), "allows nothing")
                    .with_help("add `from:` for incoming traffic or `to:` for outgoing traffic"),
                );
            }
            for (p, port) in rule.ports.iter().enumerate() {
                if parse_port(port).is_none() {
                    out.push(
                        Diagnostic::error("invalid-port", format!("`{port}` is not a port"))
                            .with_label_opt(
                                ctx.at(&format!("{pointer}/ports/{p}")),
                                "expected PORT or PORT/PROTOCOL",
                            )
                            .with_help("write `8080`, `53/UDP` or `443/TCP`"),
                    );
                }
            }
        }
    }
    for (i, subject) in sec.rbac.iter().enumerate() {
        let pointer = format!("/security/rbac/{i}");
        if !namespaces.contains(&subject.namespace.as_str()) && ctx.complete("/security/namespaces")
        {
            out.push(
                Diagnostic::warning(
                    "rbac-unknown-namespace",
                    format!(
                        "`{}` gets access to namespace `{}`, which the lab does not declare",
                        subject.name, subject.namespace
                    ),
                )
                .with_label_opt(
                    ctx.at(&format!("{pointer}/namespace")),
                    "not in `security.namespaces`",
                )
                .with_help("declare the namespace so it gets default-deny and Pod Security labels"),
            );
        }
        for (r, rule) in subject.rules.iter().enumerate() {
            for (v, verb) in rule.verbs.iter().enumerate() {
                let at = ctx.at(&format!("{pointer}/rules/{r}/verbs/{v}"));
                if DESTRUCTIVE_VERBS.contains(&verb.as_str()) {
                    out.push(
                        Diagnostic::warning("rbac-delete", format!("`{}` may `{verb}`", subject.name))
                            .with_label_opt(at, "destructive verb")
                            .with_help("the baseline grants automation no delete, so a bad pipeline cannot destroy workloads; remove it unless you mean it"),
                    );
                } else if verb == "*" {
                    out.push(
                        Diagnostic::warning(
                            "rbac-wildcard",
                            format!("`{}` holds every verb", subject.name),
                        )
                        .with_label_opt(at, "wildcard, includes delete")
                        .with_help(
                            "list the verbs it needs, e.g. get, list, create, update, patch",
                        ),
                    );
                }
            }
            if rule.resources.iter().any(|r| r == "*") || rule.api_groups.iter().any(|g| g == "*") {
                out.push(
                    Diagnostic::warning("rbac-wildcard", format!("`{}` has a wildcard resource or API group", subject.name))
                        .with_label_opt(ctx.at(&format!("{pointer}/rules/{r}")), "wildcard")
                        .with_help("name the resources; wildcards include resources added later, such as secrets"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use crate::model::parse_port;

    #[test]
    fn delete_verbs_warn() {
        let c = codes(&homelab_with(|t| {
            t.replace(
                "verbs: [get, list, create, update, patch]",
                "verbs: [get, list, create, update, patch, delete]",
            )
        }));
        assert!(c.contains(&"rbac-delete"), "{c:?}");
        assert!(!codes(&homelab_with(|t| t)).contains(&"rbac-delete"));
    }

    #[test]
    fn ports_parse() {
        assert_eq!(parse_port("8080"), Some((8080, "TCP")));
        assert_eq!(parse_port("53/UDP"), Some((53, "UDP")));
        assert_eq!(parse_port("0"), None);
        assert_eq!(parse_port("80/tcp"), None);
        let c = codes(&homelab_with(|t| {
            t.replace("ports: [\"8080\"]", "ports: [\"http\"]")
        }));
        assert!(c.contains(&"invalid-port"), "{c:?}");
    }
}
