//! Client configs: talosconfig for talosctl and an admin kubeconfig, both carrying key
//! material (written 0600, never committed).

use serde::Serialize;
use std::collections::BTreeMap;

use kubelab_pki::SecretsBundle;
use kubelab_spec::Lab;

use crate::yaml;
use crate::RenderError;

#[derive(Serialize)]
struct TalosConfig {
    context: String,
    contexts: BTreeMap<String, TalosContext>,
}

#[derive(Serialize)]
struct TalosContext {
    endpoints: Vec<String>,
    ca: String,
    crt: String,
    key: String,
}

/// talosctl's config: the control-plane addresses as endpoints (never the VIP: it lives only
/// while etcd and the API are healthy, and talosctl is what repairs them).
pub fn talosconfig(lab: &Lab, secrets: &SecretsBundle) -> Result<String, RenderError> {
    let admin = secrets.clients.talos_admin.as_ref().ok_or_else(|| {
        kubelab_pki::PkiError::Damaged("no talos admin certificate in the bundle".into())
    })?;
    let endpoints = lab
        .control_planes()
        .filter_map(|(_, n)| n.ip.map(|ip| ip.to_string()))
        .collect();
    let config = TalosConfig {
        context: lab.metadata.name.clone(),
        contexts: BTreeMap::from([(
            lab.metadata.name.clone(),
            TalosContext {
                endpoints,
                ca: secrets.certs.os.crt.clone(),
                crt: admin.crt.clone(),
                key: admin.key.clone(),
            },
        )]),
    };
    Ok(yaml::document(&config))
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct KubeConfig {
    api_version: &'static str,
    kind: &'static str,
    clusters: Vec<Named<KubeCluster>>,
    users: Vec<Named<KubeUser>>,
    contexts: Vec<Named<KubeContext>>,
    current_context: String,
}

#[derive(Serialize)]
struct Named<T> {
    name: String,
    #[serde(flatten)]
    value: T,
}

#[derive(Serialize)]
struct KubeCluster {
    cluster: ClusterEntry,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct ClusterEntry {
    server: String,
    certificate_authority_data: String,
}

#[derive(Serialize)]
struct KubeUser {
    user: UserEntry,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct UserEntry {
    client_certificate_data: String,
    client_key_data: String,
}

#[derive(Serialize)]
struct KubeContext {
    context: ContextEntry,
}

#[derive(Serialize)]
struct ContextEntry {
    cluster: String,
    namespace: String,
    user: String,
}

/// The admin kubeconfig, pointing at the cluster endpoint (the VIP when there is one).
pub fn kubeconfig(
    lab: &Lab,
    secrets: &SecretsBundle,
    endpoint: &str,
) -> Result<String, RenderError> {
    let admin = secrets.clients.kube_admin.as_ref().ok_or_else(|| {
        kubelab_pki::PkiError::Damaged("no kubernetes admin certificate in the bundle".into())
    })?;
    let cluster = lab.metadata.name.clone();
    let user = format!("admin@{cluster}");
    let config = KubeConfig {
        api_version: "v1",
        kind: "Config",
        clusters: vec![Named {
            name: cluster.clone(),
            value: KubeCluster {
                cluster: ClusterEntry {
                    server: endpoint.to_string(),
                    certificate_authority_data: secrets.certs.k8s.crt.clone(),
                },
            },
        }],
        users: vec![Named {
            name: user.clone(),
            value: KubeUser {
                user: UserEntry {
                    client_certificate_data: admin.crt.clone(),
                    client_key_data: admin.key.clone(),
                },
            },
        }],
        contexts: vec![Named {
            name: user.clone(),
            value: KubeContext {
                context: ContextEntry {
                    cluster,
                    namespace: "default".into(),
                    user: user.clone(),
                },
            },
        }],
        current_context: user,
    };
    Ok(yaml::document(&config))
}
