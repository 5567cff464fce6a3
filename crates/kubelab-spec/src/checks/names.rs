//! Names that end up as Kubernetes object or host names must be DNS labels and unique.

use std::collections::HashMap;

use super::{is_dns_label, Context};
use crate::diagnostic::Diagnostic;

pub fn check(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let lab = ctx.lab;
    dns_label(
        ctx,
        out,
        "/metadata/name",
        &lab.metadata.name,
        "the cluster name",
    );
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, node) in lab.nodes.iter().enumerate() {
        dns_label(
            ctx,
            out,
            &format!("/nodes/{i}/name"),
            &node.name,
            "a node name",
        );
        if let Some(&first) = seen.get(node.name.as_str()) {
            out.push(
                Diagnostic::error(
                    "duplicate-node-name",
                    format!("two nodes are named `{}`", node.name),
                )
                .with_label_opt(ctx.at_node(i, "name"), "second use")
                .with_label_opt(ctx.at_node(first, "name"), "first use")
                .with_help(
                    "node names become hostnames and Kubernetes node names; make each unique",
                ),
            );
        } else {
            seen.insert(&node.name, i);
        }
        for key in node.labels.keys() {
            if !is_label_key(key) {
                out.push(
                    Diagnostic::error("invalid-label", format!("`{key}` is not a valid Kubernetes label key"))
                        .with_label_opt(ctx.spans.key(&format!("/nodes/{i}/labels/{}", crate::yaml::escape_pointer(key))), "invalid key")
                        .with_help("a label key is an optional DNS prefix and `/`, then up to 63 letters, digits, `-`, `_` or `.`"),
                );
            }
            if key.starts_with("node-role.kubernetes.io/")
                && node.role == crate::model::Role::Worker
            {
                out.push(
                    Diagnostic::warning("restricted-label", format!("workers cannot set the label `{key}` on themselves"))
                        .with_label_opt(ctx.spans.key(&format!("/nodes/{i}/labels/{}", crate::yaml::escape_pointer(key))), "rejected by NodeRestriction")
                        .with_help("the NodeRestriction admission plugin refuses node-role.kubernetes.io/* from kubelets; use a prefix such as kubelab.dev/role"),
                );
            }
        }
    }
    for (i, pool) in lab.load_balancer.pools.iter().enumerate() {
        dns_label(
            ctx,
            out,
            &format!("/loadBalancer/pools/{i}/name"),
            &pool.name,
            "a pool name",
        );
    }
    if let Some(nas) = &lab.nas {
        for (i, export) in nas.exports.iter().enumerate() {
            dns_label(
                ctx,
                out,
                &format!("/nas/exports/{i}/name"),
                &export.name,
                "an export name",
            );
        }
    }
    for (i, ns) in lab.security.namespaces.iter().enumerate() {
        dns_label(
            ctx,
            out,
            &format!("/security/namespaces/{i}/name"),
            &ns.name,
            "a namespace name",
        );
    }
}

fn dns_label(ctx: &Context, out: &mut Vec<Diagnostic>, pointer: &str, name: &str, what: &str) {
    if !is_dns_label(name) {
        out.push(
            Diagnostic::error("invalid-name", format!("`{name}` is not valid as {what}"))
                .with_label_opt(ctx.at(pointer), "not a DNS label")
                .with_help("use at most 63 lower-case letters, digits and `-`, starting and ending with a letter or digit"),
        );
    }
}

fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    let prefix_ok = prefix.is_none_or(|p| p.len() <= 253 && p.split('.').all(is_dns_label));
    name_ok && prefix_ok
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn duplicate_node_names_are_errors() {
        let lab = homelab_with(|t| t.replace("name: worker-02", "name: worker-01"));
        assert!(codes(&lab).contains(&"duplicate-node-name"));
        assert!(!codes(&homelab_with(|t| t)).contains(&"duplicate-node-name"));
    }

    #[test]
    fn node_names_must_be_dns_labels() {
        let lab = homelab_with(|t| t.replace("name: worker-03", "name: Worker_03"));
        assert!(codes(&lab).contains(&"invalid-name"));
    }

    #[test]
    fn label_keys_are_validated() {
        let lab = homelab_with(|t| {
            t.replace("    memory: 8Gi\n    localStorage: true\n  - name: worker-02", "    memory: 8Gi\n    localStorage: true\n    labels: {\"bad key!\": x, kubelab.dev/zone: a}\n  - name: worker-02")
        });
        let c = codes(&lab);
        assert_eq!(
            c.iter().filter(|c| **c == "invalid-label").count(),
            1,
            "{c:?}"
        );
    }

    #[test]
    fn workers_cannot_self_assign_node_roles() {
        let lab = homelab_with(|t| {
            t.replace("    memory: 8Gi\n    localStorage: true\n  - name: worker-02", "    memory: 8Gi\n    localStorage: true\n    labels: {node-role.kubernetes.io/storage: \"\"}\n  - name: worker-02")
        });
        assert!(codes(&lab).contains(&"restricted-label"));
    }
}
