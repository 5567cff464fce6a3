//! The router's side of BGP: an FRR configuration any FRR router loads (pfSense's and
//! OPNsense's FRR packages included), and a README saying where each part goes.

mod frr;
mod guide;

pub use frr::{authenticated, failover_seconds, first_pool_address, frr_conf, range_to_cidrs};
pub use guide::readme;

/// Names shared by the config and the guide.
pub const PEER_GROUP: &str = "KUBELAB";
pub const PREFIX_LIST: &str = "KUBELAB-LB-IN";
pub const ROUTE_MAP_OUT: &str = "KUBELAB-OUT";
