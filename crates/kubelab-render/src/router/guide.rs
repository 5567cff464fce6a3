//! The README beside frr.conf: where each part goes on pfSense and OPNsense, and how to check
//! that ECMP works.

use kubelab_spec::model::RouterKind;
use kubelab_spec::Lab;

use super::frr::accepted_prefixes;
use super::{PEER_GROUP, PREFIX_LIST, ROUTE_MAP_OUT};

pub fn readme(lab: &Lab) -> Option<String> {
    let bgp = lab.bgp.as_ref().filter(|b| b.enabled)?;
    let router = lab.router.as_ref()?;
    let speakers: Vec<String> = lab
        .bgp_speakers()
        .iter()
        .map(|(_, n)| match n.ip {
            Some(ip) => format!("- `{ip}` ({})", n.name),
            None => format!(
                "- {} (DHCP: accepted from `{}` through `bgp listen range`)",
                n.name,
                lab.network.subnet.net().trunc()
            ),
        })
        .collect();
    let prefixes: Vec<String> = accepted_prefixes(lab)
        .iter()
        .map(|p| format!("- `{p}` (and longer, up to /32)"))
        .collect();
    let ibgp = bgp.asn == router.asn;
    let max_paths = super::frr::max_paths(lab);
    let mut out = format!(
        "# Router configuration for `{lab}`\n\n\
         The cluster (AS {cluster_asn}) peers with **{router}** (AS {router_asn}, {address}) over {kind}.\n\
         Every BGP node advertises every LoadBalancer IP; the router installs up to {max_paths} equal-cost\n\
         paths per address (ECMP) and spreads connections across the nodes.\n\n\
         `frr.conf` is the whole configuration as FRR reads it. What it sets up:\n\n\
         - a peer group `{PEER_GROUP}` (remote AS {cluster_asn}) with these neighbors:\n{speakers}\n\
         - an inbound prefix-list `{PREFIX_LIST}` accepting exactly:\n{prefixes}\n\
         - an outbound route-map `{ROUTE_MAP_OUT}` that denies everything: the cluster learns no routes;\n\
         - `maximum-paths{ibgp_word} {max_paths}` for ECMP.\n\n",
        lab = lab.metadata.name,
        cluster_asn = bgp.asn,
        router = router.name,
        router_asn = router.asn,
        address = router.address,
        kind = if ibgp { "iBGP" } else { "eBGP" },
        speakers = speakers.join("\n"),
        prefixes = prefixes.join("\n"),
        ibgp_word = if ibgp { " ibgp" } else { "" },
    );
    let hold = bgp.hold_time_seconds;
    let keepalive = (hold / 3).max(1);
    if bgp.graceful_restart {
        out.push_str(&format!(
            "## Failover\n\n\
             - A node that loses power or its link is dropped within {failover} seconds: both sides use a\n  \
             {hold} s hold time with keepalives every {keepalive} s (`timers {keepalive} {hold}`), and when the hold\n  \
             timer runs out the router removes the node's routes at once.\n\
             - A Cilium agent restart or upgrade does not move traffic: graceful restart keeps the node's\n  \
             routes (marked stale) for up to {restart} s until the agent is back.\n\n\
             The two behave differently because of `no bgp graceful-restart notification`. Cilium offers\n\
             graceful restart with the notification bit (RFC 8538), which would stretch graceful restart\n\
             over a hold-timer expiry as well: a dead node would keep its routes for the {restart} s restart\n\
             time on top of the hold time. Keep that line on any router you configure by hand; without it\n\
             failover takes about {slow} s.\n\n",
            failover = super::frr::failover_seconds(lab),
            restart = crate::cilium::GRACEFUL_RESTART_SECONDS,
            slow = hold + crate::cilium::GRACEFUL_RESTART_SECONDS as u32,
        ));
    } else {
        out.push_str(&format!(
            "## Failover\n\n\
             A node that loses power or its link is dropped within {failover} seconds ({hold} s hold time,\n\
             keepalives every {keepalive} s, on both sides). Graceful restart is off: a Cilium agent restart\n\
             withdraws the node's routes until the agent is back.\n\n",
            failover = super::frr::failover_seconds(lab),
        ));
    }
    if super::frr::authenticated(lab) {
        out.push_str(
            "## Session password\n\n\
             The sessions are authenticated with TCP-MD5 (`neighbor ... password` in `frr.conf`, which\n\
             is therefore private: mode 0600, git-ignored). On pfSense and OPNsense, put the same\n\
             password in the peer group's (or each neighbor's) password field. The cluster side reads\n\
             it from the Secret in `cluster-secrets/bgp-auth.yaml`: apply that with\n\
             `kubectl apply -f cluster-secrets/bgp-auth.yaml` before the nodes peer. A mismatch shows\n\
             as sessions stuck in Connect/Active and `dial: i/o timeout` in the Cilium agent's log.\n\n",
        );
    }
    out.push_str(match router.kind {
        RouterKind::Pfsense => PFSENSE,
        RouterKind::Opnsense => OPNSENSE,
        RouterKind::Frr => PLAIN_FRR,
    });
    out.push_str(VERIFY);
    Some(out)
}

const PFSENSE: &str = "## pfSense (FRR package)\n\n\
1. System > Package Manager: install **frr**.\n\
2. Services > FRR > Global Settings: enable FRR; set the Router ID to the router's LAN address.\n\
3. Services > FRR > Global Settings > Prefix Lists: add the prefix-list entries from `frr.conf`\n   (action permit, `le 32`). Route Maps: add the outbound deny route-map.\n\
4. Services > FRR > BGP: enable BGP, set the Local AS and Router ID, and set the multipath\n   (maximum paths) value from `frr.conf`. Enable graceful restart. If the GUI has no\n   setting for `no bgp graceful-restart notification`, use the raw configuration (below): without\n   it failover takes about two minutes (see Failover above).\n\
5. Services > FRR > BGP > Neighbors: add the peer group first (a neighbor whose name is the\n   peer-group name, with the cluster's Remote AS, the inbound prefix-list and outbound route-map),\n   then one neighbor per node IP with that peer group. Set the peer group's keepalive and hold\n   timers to the `timers` values in `frr.conf`.\n\
6. Firewall > Rules > LAN: allow TCP port 179 from the node addresses to the router.\n\n\
The FRR package's raw configuration field (Global Settings, advanced) accepts `frr.conf` as a\n\
whole instead of steps 3–5; use one approach, not both.\n\n";

const OPNSENSE: &str = "## OPNsense (os-frr plugin)\n\n\
1. System > Firmware > Plugins: install **os-frr**.\n\
2. Routing > General: enable.\n\
3. Routing > BGP: enable, set the AS number and Router ID; under Prefix Lists and Route Maps add\n   the entries from `frr.conf`; under Neighbors add one neighbor per node IP with the cluster's\n   remote AS, the inbound prefix-list, the outbound route-map and the keepalive/hold timers from\n   `frr.conf`; enable graceful restart and add `no bgp graceful-restart notification` to the BGP\n   configuration (see Failover above).\n\
4. Firewall > Rules > LAN: allow TCP port 179 from the node addresses.\n\n";

const PLAIN_FRR: &str = "## Any FRR router\n\n\
Enable `bgpd` in `/etc/frr/daemons`, merge `frr.conf` into `/etc/frr/frr.conf` (or load it\n\
with `vtysh -f frr.conf`), and restart FRR. `vtysh --dryrun -f frr.conf` checks it first.\n\n";

const VERIFY: &str = "## Checking it\n\n\
- On the router: `vtysh -c 'show bgp summary'` lists every node as Established;\n  `vtysh -c 'show ip route bgp'` shows each LoadBalancer IP with one next hop per node.\n\
- On pfSense, `netstat -rWn4` shows the multipath routes.\n\
- Failover: `vtysh -c 'show bgp neighbors'` shows `Hold time is` the hold time above for every\n  node; `vtysh -c 'show running-config'` shows `no bgp graceful-restart notification`.\n\
- In the cluster: `cilium bgp peers` shows the sessions from the nodes' side.\n\
- ECMP hashes per flow: test from several clients, not several requests from one.\n";
