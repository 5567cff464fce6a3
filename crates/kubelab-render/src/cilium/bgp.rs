//! The BGP control plane (`cilium.io/v2`): the speakers (selected by a node label kubelab sets
//! through Talos) peer with the router and advertise LoadBalancer IPs, optionally pod CIDRs.

use std::collections::BTreeMap;

use k8s_crds_cilium::ciliumbgpadvertisements::{
    CiliumBgpAdvertisement, CiliumBgpAdvertisementAdvertisements,
    CiliumBgpAdvertisementAdvertisementsAdvertisementType as AdvertType,
    CiliumBgpAdvertisementAdvertisementsSelector,
    CiliumBgpAdvertisementAdvertisementsSelectorMatchExpressions,
    CiliumBgpAdvertisementAdvertisementsSelectorMatchExpressionsOperator,
    CiliumBgpAdvertisementAdvertisementsService, CiliumBgpAdvertisementSpec,
};
use k8s_crds_cilium::ciliumbgpclusterconfigs::{
    CiliumBgpClusterConfig, CiliumBgpClusterConfigBgpInstances,
    CiliumBgpClusterConfigBgpInstancesPeers, CiliumBgpClusterConfigBgpInstancesPeersPeerConfigRef,
    CiliumBgpClusterConfigNodeSelector, CiliumBgpClusterConfigSpec,
};
use k8s_crds_cilium::ciliumbgppeerconfigs::{
    CiliumBgpPeerConfig, CiliumBgpPeerConfigFamilies, CiliumBgpPeerConfigFamiliesAdvertisements,
    CiliumBgpPeerConfigFamiliesAfi, CiliumBgpPeerConfigFamiliesSafi,
    CiliumBgpPeerConfigGracefulRestart, CiliumBgpPeerConfigSpec, CiliumBgpPeerConfigTimers,
};
use kubelab_spec::Lab;

use crate::k8s::managed_labels;
use crate::talos::BGP_SPEAKER_LABEL;

const NAME: &str = "kubelab";
/// The label that ties the peer config's families to the advertisement.
const ADVERTISE_LABEL: (&str, &str) = ("kubelab.dev/advertise", "bgp");

/// How long the router keeps a restarting agent's routes: longer than an agent takes to start
/// (Cilium's documentation asks for that), and Cilium's default.
pub const GRACEFUL_RESTART_SECONDS: i32 = 120;

/// Seconds between a speaker's attempts to reach the router.
pub const CONNECT_RETRY_SECONDS: i32 = 5;

/// The Secret holding the BGP password, in kube-system (Cilium's default BGP secrets namespace).
pub const AUTH_SECRET: &str = "kubelab-bgp-auth";

/// The Secret with the TCP-MD5 password under the key Cilium reads (`password`), when the lab
/// authenticates its BGP sessions.
pub fn auth_secret(lab: &Lab) -> Option<k8s_openapi::api::core::v1::Secret> {
    let password = lab.bgp.as_ref().filter(|b| b.enabled)?.password.as_ref()?;
    let mut labels = managed_labels();
    labels.insert("app.kubernetes.io/part-of".into(), "kubelab".into());
    Some(k8s_openapi::api::core::v1::Secret {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(AUTH_SECRET.into()),
            namespace: Some("kube-system".into()),
            labels: Some(labels),
            ..Default::default()
        },
        string_data: Some(BTreeMap::from([(
            "password".to_string(),
            password.0.clone(),
        )])),
        type_: Some("Opaque".into()),
        ..Default::default()
    })
}

/// TTL for eBGP sessions with a router that is not on the node subnet.
pub const MULTIHOP_TTL: i32 = 4;

/// The BGP objects, or none when BGP is off or has no router.
pub fn bgp_objects(
    lab: &Lab,
) -> Option<(
    CiliumBgpClusterConfig,
    CiliumBgpPeerConfig,
    CiliumBgpAdvertisement,
)> {
    let bgp = lab.bgp.as_ref().filter(|b| b.enabled)?;
    let router = lab.router.as_ref()?;
    let mut cluster = CiliumBgpClusterConfig::new(
        NAME,
        CiliumBgpClusterConfigSpec {
            node_selector: Some(CiliumBgpClusterConfigNodeSelector {
                match_labels: Some(BTreeMap::from([(
                    BGP_SPEAKER_LABEL.to_string(),
                    "true".to_string(),
                )])),
                ..CiliumBgpClusterConfigNodeSelector::default()
            }),
            bgp_instances: vec![CiliumBgpClusterConfigBgpInstances {
                name: NAME.into(),
                local_asn: Some(i64::from(bgp.asn)),
                peers: Some(vec![CiliumBgpClusterConfigBgpInstancesPeers {
                    name: router.name.clone(),
                    peer_asn: Some(i64::from(router.asn)),
                    peer_address: Some(router.address.to_string()),
                    peer_config_ref: Some(CiliumBgpClusterConfigBgpInstancesPeersPeerConfigRef {
                        name: NAME.into(),
                    }),
                    ..CiliumBgpClusterConfigBgpInstancesPeers::default()
                }]),
                ..CiliumBgpClusterConfigBgpInstances::default()
            }],
        },
    );
    cluster.metadata.labels = Some(managed_labels());

    let hold = bgp.hold_time_seconds as i32;
    let mut peer = CiliumBgpPeerConfig::new(
        NAME,
        CiliumBgpPeerConfigSpec {
            timers: Some(CiliumBgpPeerConfigTimers {
                hold_time_seconds: Some(hold),
                keep_alive_time_seconds: Some((hold / 3).max(1)),
                // Cilium's speakers only dial out; after a router restart or a link outage they
                // should be back in seconds, not after the 120 s default.
                connect_retry_time_seconds: Some(CONNECT_RETRY_SECONDS),
            }),
            graceful_restart: Some(CiliumBgpPeerConfigGracefulRestart {
                enabled: bgp.graceful_restart,
                restart_time_seconds: bgp.graceful_restart.then_some(GRACEFUL_RESTART_SECONDS),
            }),
            // The Secret (in Cilium's BGP secrets namespace, kube-system by default) with the
            // TCP-MD5 password; rendered beside, as a private file.
            auth_secret_ref: bgp.password.as_ref().map(|_| AUTH_SECRET.to_string()),
            // A router off the node subnet is more than one hop away: eBGP then needs multihop.
            ebgp_multihop: lab.bgp_needs_multihop().then_some(MULTIHOP_TTL),
            families: Some(vec![CiliumBgpPeerConfigFamilies {
                afi: CiliumBgpPeerConfigFamiliesAfi::Ipv4,
                safi: CiliumBgpPeerConfigFamiliesSafi::Unicast,
                advertisements: Some(CiliumBgpPeerConfigFamiliesAdvertisements {
                    match_labels: Some(BTreeMap::from([(
                        ADVERTISE_LABEL.0.to_string(),
                        ADVERTISE_LABEL.1.to_string(),
                    )])),
                    ..CiliumBgpPeerConfigFamiliesAdvertisements::default()
                }),
            }]),
            ..CiliumBgpPeerConfigSpec::default()
        },
    );
    peer.metadata.labels = Some(managed_labels());

    // A Service advertisement needs a selector; this one matches every Service (no Service
    // carries the key with that value).
    let every_service = CiliumBgpAdvertisementAdvertisementsSelector {
        match_expressions: Some(vec![
            CiliumBgpAdvertisementAdvertisementsSelectorMatchExpressions {
                key: "kubelab.dev/no-bgp".into(),
                operator:
                    CiliumBgpAdvertisementAdvertisementsSelectorMatchExpressionsOperator::NotIn,
                values: Some(vec!["true".into()]),
            },
        ]),
        ..CiliumBgpAdvertisementAdvertisementsSelector::default()
    };
    let mut advertisements = vec![CiliumBgpAdvertisementAdvertisements {
        advertisement_type: AdvertType::Service,
        service: Some(CiliumBgpAdvertisementAdvertisementsService {
            addresses: vec!["LoadBalancerIP".into()],
            ..CiliumBgpAdvertisementAdvertisementsService::default()
        }),
        selector: Some(every_service),
        attributes: None,
        interface: None,
    }];
    if bgp.advertise_pod_cidr {
        advertisements.push(CiliumBgpAdvertisementAdvertisements {
            advertisement_type: AdvertType::PodCidr,
            attributes: None,
            interface: None,
            selector: None,
            service: None,
        });
    }
    let mut advert =
        CiliumBgpAdvertisement::new(NAME, CiliumBgpAdvertisementSpec { advertisements });
    let mut labels = managed_labels();
    labels.insert(ADVERTISE_LABEL.0.to_string(), ADVERTISE_LABEL.1.to_string());
    advert.metadata.labels = Some(labels);
    Some((cluster, peer, advert))
}
