//! What the router's side of BGP needs from the lab: something to accept, and a hold time that
//! lets it notice a dead node quickly.

use super::Context;
use crate::diagnostic::Diagnostic;

/// Above this hold time a node that loses power keeps its share of traffic for half a minute or
/// more: worth saying, though nothing breaks.
const SLOW_HOLD_SECONDS: u32 = 30;

pub fn check(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let lab = ctx.lab;
    let Some(bgp) = lab.bgp.as_ref().filter(|b| b.enabled) else {
        return;
    };
    if lab.router.is_none() {
        return; // `bgp-without-router` says so.
    }
    if lab.load_balancer.pools.is_empty() && !bgp.advertise_pod_cidr {
        // The router's inbound prefix-list would have no entry: FRR then accepts nothing, and
        // its configuration names a list that does not exist.
        out.push(
            Diagnostic::error(
                "bgp-without-pools",
                "BGP is enabled but there is nothing to advertise: no LoadBalancer pool",
            )
            .with_label_opt(ctx.key("/bgp"), "BGP enabled")
            .with_help(
                "add a pool under `loadBalancer.pools`, set `bgp.advertisePodCidr: true`, or set `bgp.enabled: false`",
            ),
        );
    }
    if let Some(var) = &bgp.password_env {
        let valid = var
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            out.push(
                Diagnostic::error(
                    "invalid-env-name",
                    format!("`{var}` is not an environment variable name"),
                )
                .with_label_opt(ctx.at("/bgp/passwordEnv"), "letters, digits and _")
                .with_help("name the variable that holds the password, e.g. KUBELAB_BGP_PASSWORD; the password itself never goes in lab.yaml"),
            );
        }
    }
    if bgp.hold_time_seconds > SLOW_HOLD_SECONDS {
        out.push(
            Diagnostic::warning(
                "slow-bgp-failover",
                format!(
                    "a node that loses power keeps its LoadBalancer traffic for up to {} s",
                    bgp.hold_time_seconds
                ),
            )
            .with_label_opt(ctx.at("/bgp/holdTimeSeconds"), "hold time")
            .with_help(
                "the router notices a dead node only when the hold time runs out; 9 s (the default) suits a lab on one switch, and graceful restart still covers agent restarts",
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn bgp_without_any_pool_is_an_error() {
        let lab = homelab_with(|t| {
            let start = t.find("loadBalancer:").unwrap();
            let end = start + t[start..].find("\n\n").unwrap();
            format!("{}loadBalancer: {{}}{}", &t[..start], &t[end..])
        });
        let c = codes(&lab);
        assert!(c.contains(&"bgp-without-pools"), "{c:?}");
        // Pod CIDRs give the router something to accept.
        let with_pod_cidr =
            lab.replace("  asn: 64513\n", "  asn: 64513\n  advertisePodCidr: true\n");
        assert!(!codes(&with_pod_cidr).contains(&"bgp-without-pools"));
        assert!(!codes(&homelab_with(|t| t)).contains(&"bgp-without-pools"));
    }

    #[test]
    fn the_password_comes_from_a_named_environment_variable() {
        let named = homelab_with(|t| {
            t.replace(
                "  asn: 64513\n",
                "  asn: 64513\n  passwordEnv: KUBELAB_BGP_PASSWORD\n",
            )
        });
        assert!(
            !codes(&named).contains(&"invalid-env-name"),
            "{:?}",
            codes(&named)
        );
        let clear = homelab_with(|t| {
            t.replace(
                "  asn: 64513\n",
                "  asn: 64513\n  passwordEnv: \"hunter2 in clear\"\n",
            )
        });
        assert!(codes(&clear).contains(&"invalid-env-name"));
        // A password written in lab.yaml is not a field at all.
        let inline =
            homelab_with(|t| t.replace("  asn: 64513\n", "  asn: 64513\n  password: hunter2\n"));
        assert!(crate::check_bytes("lab.yaml", inline.as_bytes()).error_count() > 0);
    }

    #[test]
    fn a_long_hold_time_warns_about_failover() {
        let slow = homelab_with(|t| t.replace("holdTimeSeconds: 9 ", "holdTimeSeconds: 90 "));
        let d = diagnostics(&slow);
        let w = d
            .iter()
            .find(|d| d.code == "slow-bgp-failover")
            .expect("warned");
        assert!(!w.is_error());
        assert!(w.message.contains("90 s"), "{}", w.message);
        assert!(!codes(&homelab_with(|t| t)).contains(&"slow-bgp-failover"));
    }
}
