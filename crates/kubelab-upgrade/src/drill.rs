//! `upgrade --plan`'s drain drill: `kubelab plan`'s failure drill run on the live cluster's
//! nodes, pods and disruption budgets, one node at a time in upgrade order — which pods would
//! stay Pending and which budgets would stop the drain, before any node is touched.

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams};
use kube::Client;
use kubelab_manifests::Document;
use kubelab_plan::model::NodeRole;
use kubelab_plan::{drill, workloads, Cluster};

use crate::lab::UpgradeLab;

#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error("listing {what}")]
    List {
        what: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("the live objects do not read as `kubelab plan` reads them")]
    Plan(#[source] kubelab_plan::workloads::LoadError),
}

/// One drill per lab node the cluster knows, control planes first, in upgrade order.
pub async fn drain_drills(
    client: &Client,
    lab: &UpgradeLab,
) -> Result<Vec<drill::Drill>, DrillError> {
    let documents = live_documents(client).await?;
    let mut cluster = Cluster {
        kubernetes_minor: lab.target_kubernetes.minor,
        ..Cluster::default()
    };
    // Nodes first, so the running pods find them.
    let (nodes, rest): (Vec<Document>, Vec<Document>) =
        documents.into_iter().partition(|d| d.kind() == "Node");
    let mut errors = workloads::load(&mut cluster, &nodes);
    errors.extend(workloads::load(&mut cluster, &rest));
    if let Some(error) = errors.into_iter().next() {
        return Err(DrillError::Plan(error));
    }
    cluster.etcd_members = (0..cluster.nodes.len())
        .filter(|&i| cluster.nodes[i].role == NodeRole::ControlPlane)
        .collect();
    let options = kubelab_plan::Options::default();
    let outcome = kubelab_plan::schedule(&cluster, options.clone());
    Ok(lab
        .live
        .control_planes()
        .chain(lab.live.workers())
        .filter_map(|node| cluster.node_index(&node.name))
        .map(|index| drill::run(&cluster, &outcome, &[index], &options))
        .collect())
}

/// The nodes, the pods bound to them (not finished) and the budgets, as documents.
async fn live_documents(client: &Client) -> Result<Vec<Document>, DrillError> {
    let list = |what: &'static str| move |source| DrillError::List { what, source };
    let all = ListParams::default();
    let nodes = Api::<Node>::all(client.clone())
        .list(&all)
        .await
        .map_err(list("nodes"))?;
    let running = ListParams::default().fields("status.phase!=Succeeded,status.phase!=Failed");
    let pods = Api::<Pod>::all(client.clone())
        .list(&running)
        .await
        .map_err(list("pods"))?;
    let budgets = Api::<PodDisruptionBudget>::all(client.clone())
        .list(&all)
        .await
        .map_err(list("pod disruption budgets"))?;
    let document = |value: serde_json::Value| Document {
        file: "(live cluster)".to_string(),
        line: 0,
        value,
    };
    let mut documents = Vec::new();
    documents.extend(
        nodes
            .items
            .iter()
            .filter_map(|n| serde_json::to_value(n).ok())
            .map(document),
    );
    documents.extend(
        pods.items
            .iter()
            .filter(|p| p.spec.as_ref().is_some_and(|s| s.node_name.is_some()))
            .filter_map(|p| serde_json::to_value(p).ok())
            .map(document),
    );
    documents.extend(
        budgets
            .items
            .iter()
            .filter_map(|b| serde_json::to_value(b).ok())
            .map(document),
    );
    Ok(documents)
}
