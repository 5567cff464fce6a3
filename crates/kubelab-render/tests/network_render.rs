//! Cilium, LB-IPAM, BGP and the router's side, rendered from the example lab and checked
//! against lab.yaml.

use std::collections::BTreeSet;

use kubelab_render::{cilium, router};
use kubelab_spec::{examples, Lab};

fn lab(text: &str) -> Lab {
    let checked = kubelab_spec::check_bytes("lab.yaml", text.as_bytes());
    assert_eq!(checked.error_count(), 0, "{:?}", checked.diagnostics);
    checked.lab.unwrap()
}

/// What a router would learn from `frr.conf`: its neighbors and accepted prefixes.
struct Frr {
    asn: u32,
    neighbors: BTreeSet<String>,
    remote_as: u32,
    accepted: Vec<String>,
    max_paths: String,
    prefix_list_in: bool,
    route_map_out: bool,
}

fn parse_frr(conf: &str) -> Frr {
    let mut frr = Frr {
        asn: 0,
        neighbors: BTreeSet::new(),
        remote_as: 0,
        accepted: Vec::new(),
        max_paths: String::new(),
        prefix_list_in: false,
        route_map_out: false,
    };
    for line in conf.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["router", "bgp", asn] => frr.asn = asn.parse().unwrap(),
            ["neighbor", ip, "peer-group", "KUBELAB"] => {
                frr.neighbors.insert(ip.to_string());
            }
            ["neighbor", "KUBELAB", "remote-as", asn] => frr.remote_as = asn.parse().unwrap(),
            ["ip", "prefix-list", "KUBELAB-LB-IN", "seq", _, "permit", prefix, "le", "32"] => {
                frr.accepted.push(prefix.to_string())
            }
            ["neighbor", "KUBELAB", "prefix-list", "KUBELAB-LB-IN", "in"] => {
                frr.prefix_list_in = true
            }
            ["neighbor", "KUBELAB", "route-map", "KUBELAB-OUT", "out"] => frr.route_map_out = true,
            ["maximum-paths", rest @ ..] => frr.max_paths = rest.join(" "),
            _ => {}
        }
    }
    frr
}

#[test]
fn frr_peers_with_every_speaker_and_accepts_exactly_the_pools() {
    let lab = lab(examples::HOMELAB);
    let frr = parse_frr(&router::frr_conf(&lab).unwrap());
    assert_eq!(frr.asn, lab.router.as_ref().unwrap().asn);
    assert_eq!(frr.remote_as, lab.bgp.as_ref().unwrap().asn);
    let speakers: BTreeSet<String> = lab
        .bgp_speakers()
        .iter()
        .map(|(_, n)| n.ip.unwrap().to_string())
        .collect();
    assert_eq!(frr.neighbors, speakers);
    assert_eq!(frr.accepted, ["10.10.100.0/26"]);
    assert!(
        frr.prefix_list_in && frr.route_map_out,
        "eBGP needs policy both ways"
    );
    assert_eq!(frr.max_paths, "3");
}

#[test]
fn ibgp_ranges_and_pod_cidrs_change_the_router_config() {
    let text = examples::HOMELAB
        .replace(
            "  asn: 64513",
            "  asn: 64512\n  advertisePodCidr: true\n  maxPaths: 8",
        )
        .replace(
            "        - cidr: 10.10.100.0/26",
            "        - { start: 10.10.100.10, stop: 10.10.100.20 }",
        );
    let frr = parse_frr(&router::frr_conf(&lab(&text)).unwrap());
    assert_eq!(frr.max_paths, "ibgp 8");
    assert_eq!(
        frr.accepted,
        [
            "10.10.100.10/31",
            "10.10.100.12/30",
            "10.10.100.16/30",
            "10.10.100.20/32",
            "10.244.0.0/16"
        ]
    );
}

#[test]
fn no_bgp_means_no_router_config_and_no_bgp_objects() {
    let lab = lab(examples::MINIMAL);
    assert!(router::frr_conf(&lab).is_none());
    assert!(cilium::bgp_objects(&lab).is_none());
    assert_eq!(
        cilium::helm_values(&lab)["bgpControlPlane"]["enabled"],
        false
    );
}

#[test]
fn bgp_objects_select_the_speakers_and_peer_with_the_router() {
    let lab = lab(examples::HOMELAB);
    let (cluster, peer, advert) = cilium::bgp_objects(&lab).unwrap();
    let cluster = serde_json::to_value(&cluster).unwrap();
    assert_eq!(
        cluster["spec"]["nodeSelector"]["matchLabels"]["kubelab.dev/bgp"],
        "true"
    );
    let instance = &cluster["spec"]["bgpInstances"][0];
    assert_eq!(instance["localASN"], 64513);
    assert_eq!(instance["peers"][0]["peerAddress"], "10.10.0.1");
    assert_eq!(instance["peers"][0]["peerASN"], 64512);
    let peer = serde_json::to_value(&peer).unwrap();
    let wanted = &peer["spec"]["families"][0]["advertisements"]["matchLabels"];
    let advert = serde_json::to_value(&advert).unwrap();
    for (k, v) in wanted.as_object().unwrap() {
        assert_eq!(
            &advert["metadata"]["labels"][k], v,
            "the peer config must select the advertisement"
        );
    }
    assert_eq!(
        advert["spec"]["advertisements"][0]["service"]["addresses"][0],
        "LoadBalancerIP"
    );
}

#[test]
fn only_speakers_carry_the_bgp_label() {
    let lab = lab(examples::HOMELAB);
    let secrets =
        kubelab_pki::SecretsBundle::from_yaml(include_str!("fixtures/placeholder-secrets.yaml"))
            .unwrap();
    let tree = kubelab_render::render(&lab, &secrets).unwrap();
    assert!(tree.files["talos/worker-01.yaml"]
        .contents
        .contains("kubelab.dev/bgp: \"true\""));
    assert!(!tree.files["talos/master-01.yaml"]
        .contents
        .contains("kubelab.dev/bgp"));
    assert!(tree.files["talos/master-01.yaml"]
        .contents
        .contains("name: cilium-install"));
    assert!(!tree.files["talos/worker-01.yaml"]
        .contents
        .contains("inlineManifests"));
}

#[test]
fn pools_mirror_the_lab() {
    let text = examples::HOMELAB.replace(
        "        - cidr: 10.10.100.0/26\n",
        "        - cidr: 10.10.100.0/26\n      serviceSelector: { matchLabels: { exposure: public } }\n",
    );
    let pools = cilium::lb_pools(&lab(&text));
    let pool = serde_json::to_value(&pools[0]).unwrap();
    assert_eq!(pool["kind"], "CiliumLoadBalancerIPPool");
    assert_eq!(pool["spec"]["blocks"][0]["cidr"], "10.10.100.0/26");
    assert_eq!(
        pool["spec"]["serviceSelector"]["matchLabels"]["exposure"],
        "public"
    );
}

#[test]
fn the_install_job_runs_the_labs_cilium_version_on_control_planes() {
    let manifest = cilium::install_manifest(&lab(examples::HOMELAB));
    assert!(manifest.contains("image: quay.io/cilium/cilium-cli:v0.19.7"));
    assert!(manifest.contains("- v1.20.4"));
    assert!(manifest.contains("hostNetwork: true"));
    assert!(manifest.contains("node-role.kubernetes.io/control-plane: \"\""));
    assert!(manifest.contains("k8sServicePort: 7445"));
}

#[test]
fn a_router_off_the_subnet_gets_multihop_on_both_sides() {
    let text = examples::HOMELAB.replace(
        "  address: 10.10.0.1\n  asn: 64512",
        "  address: 10.20.0.1\n  asn: 64512",
    );
    let lab = lab(&text);
    let conf = router::frr_conf(&lab).unwrap();
    assert!(conf.contains(" neighbor KUBELAB ebgp-multihop 4\n"));
    let (_, peer, _) = cilium::bgp_objects(&lab).unwrap();
    assert_eq!(peer.spec.ebgp_multihop, Some(4));
    let (_, peer, _) = cilium::bgp_objects(&self::lab(examples::HOMELAB)).unwrap();
    assert_eq!(peer.spec.ebgp_multihop, None);
}

/// Both sides must agree on the timers, and the router must not extend graceful restart over a
/// hold-timer expiry (Cilium sets the notification bit): else a dead node keeps its routes for
/// the hold time plus the restart time.
#[test]
fn failover_is_fast_and_both_sides_agree_on_it() {
    let lab = lab(examples::HOMELAB);
    let conf = router::frr_conf(&lab).unwrap();
    let (_, peer, _) = cilium::bgp_objects(&lab).unwrap();
    let timers = peer.spec.timers.as_ref().unwrap();
    let (keepalive, hold) = (
        timers.keep_alive_time_seconds.unwrap(),
        timers.hold_time_seconds.unwrap(),
    );
    assert!(
        hold <= 10,
        "a dead node must go within seconds, hold is {hold}"
    );
    assert!(conf.contains(&format!(" neighbor KUBELAB timers {keepalive} {hold}\n")));
    let gr = peer.spec.graceful_restart.as_ref().unwrap();
    assert!(gr.enabled, "agent restarts keep their routes");
    assert!(conf.contains(" bgp graceful-restart\n"));
    assert!(conf.contains(" no bgp graceful-restart notification\n"));
    assert_eq!(router::failover_seconds(&lab), hold as u32 + 2);
    let readme = router::readme(&lab).unwrap();
    assert!(readme.contains(&format!("within {} seconds", hold + 2)));
    let secrets =
        kubelab_pki::SecretsBundle::from_yaml(include_str!("fixtures/placeholder-secrets.yaml"))
            .unwrap();
    let tree = kubelab_render::render(&lab, &secrets).unwrap();
    assert!(tree.files["README.md"]
        .contents
        .contains(&format!("within {} seconds", hold + 2)));

    // Without graceful restart there is nothing to tell apart.
    let off =
        self::lab(&examples::HOMELAB.replace("gracefulRestart: true", "gracefulRestart: false"));
    assert!(!router::frr_conf(&off).unwrap().contains("graceful-restart"));
}

/// A DHCP speaker has no address to name: the router accepts it through a dynamic-neighbor range
/// over the node subnet, in the same peer group, so it peers and counts for ECMP.
#[test]
fn dhcp_speakers_peer_through_a_listen_range() {
    let text = examples::HOMELAB.replace("    ip: 10.10.0.23\n", "    dhcp: true\n");
    let lab = lab(&text);
    let conf = router::frr_conf(&lab).unwrap();
    assert!(
        conf.contains(" bgp listen range 10.10.0.0/24 peer-group KUBELAB\n"),
        "{conf}"
    );
    assert!(conf.contains("  maximum-paths 3\n"));
    assert!(router::readme(&lab).unwrap().contains("worker-03 (DHCP"));
    // Static speakers only: no range, nothing but the named neighbors may peer.
    let conf = router::frr_conf(&self::lab(examples::HOMELAB)).unwrap();
    assert!(!conf.contains("listen range"));
}

/// TCP-MD5: the same password on both sides, and only in files that stay out of Git.
#[test]
fn a_session_password_is_rendered_on_both_sides_and_kept_private() {
    let mut with = lab(&examples::HOMELAB.replace(
        "  asn: 64513\n",
        "  asn: 64513\n  passwordEnv: KUBELAB_BGP_PASSWORD\n",
    ));
    with.bgp.as_mut().unwrap().password =
        Some(kubelab_spec::model::BgpPassword("s3cret-pw".into()));
    let conf = router::frr_conf(&with).unwrap();
    assert!(
        conf.contains(" neighbor KUBELAB password s3cret-pw\n"),
        "{conf}"
    );
    let (_, peer, _) = cilium::bgp_objects(&with).unwrap();
    assert_eq!(
        peer.spec.auth_secret_ref.as_deref(),
        Some(cilium::AUTH_SECRET)
    );
    let secret = cilium::auth_secret(&with).unwrap();
    assert_eq!(secret.metadata.namespace.as_deref(), Some("kube-system"));
    assert_eq!(secret.string_data.unwrap()["password"], "s3cret-pw");
    assert!(
        !format!("{with:?}").contains("s3cret-pw"),
        "Debug shows the password"
    );

    let secrets =
        kubelab_pki::SecretsBundle::from_yaml(include_str!("fixtures/placeholder-secrets.yaml"))
            .unwrap();
    let tree = kubelab_render::render(&with, &secrets).unwrap();
    for (path, file) in &tree.files {
        if file.contents.contains("s3cret-pw") {
            assert!(file.private, "{path} holds the password but is not private");
            assert!(tree.files[".gitignore"]
                .contents
                .contains(&format!("/{path}\n")));
        }
    }
    assert!(tree.files[kubelab_render::BGP_AUTH_SECRET_FILE].private);
    assert!(tree.files["router/README.md"]
        .contents
        .contains("## Session password"));

    // Without one: nothing about passwords, and frr.conf is an ordinary file.
    let without = lab(examples::HOMELAB);
    assert!(!router::frr_conf(&without).unwrap().contains("password"));
    assert!(cilium::auth_secret(&without).is_none());
    let tree = kubelab_render::render(&without, &secrets).unwrap();
    assert!(!tree.files["router/frr.conf"].private);
    assert!(!tree
        .files
        .contains_key(kubelab_render::BGP_AUTH_SECRET_FILE));
}
