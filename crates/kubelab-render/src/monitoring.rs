//! Monitoring: kube-prometheus-stack tuned for Talos (control-plane components scraped at the
//! control-plane addresses, no kube-proxy), metrics-server, and alerts for the seed's health
//! checks, each with a summary and a runbook hint.

use kubelab_spec::versions::pins::{
    KUBE_PROMETHEUS_STACK_CHART as KUBE_PROMETHEUS_STACK, METRICS_SERVER_CHART as METRICS_SERVER,
};
use kubelab_spec::Lab;
use serde::Serialize;
use serde_json::{json, Value};

use crate::flux::{HelmRelease, HelmRepository};
use crate::k8s::privileged_namespace;
use crate::{yaml, Tree};

pub const NAMESPACE: &str = "monitoring";

pub fn render(lab: &Lab, tree: &mut Tree) {
    if !lab.monitoring.enabled {
        return;
    }
    let prometheus = HelmRepository::new(
        "prometheus-community",
        NAMESPACE,
        "https://prometheus-community.github.io/helm-charts",
    );
    let stack = HelmRelease::new(
        "kube-prometheus-stack",
        NAMESPACE,
        "prometheus-community",
        "kube-prometheus-stack",
        KUBE_PROMETHEUS_STACK,
        stack_values(lab),
    );
    let mut docs = vec![
        // node-exporter needs host namespaces and host paths.
        yaml::document(&privileged_namespace(NAMESPACE)),
        yaml::document(&prometheus),
        yaml::document(&stack),
    ];
    if lab.monitoring.metrics_server {
        let repo = HelmRepository::new(
            "metrics-server",
            "kube-system",
            "https://kubernetes-sigs.github.io/metrics-server/",
        );
        // Talos kubelets serve self-signed certificates unless serving-certificate rotation
        // and an approver are set up; until then metrics-server cannot verify them.
        let release = HelmRelease::new(
            "metrics-server",
            "kube-system",
            "metrics-server",
            "metrics-server",
            METRICS_SERVER,
            json!({ "args": ["--kubelet-insecure-tls"] }),
        );
        docs.push(yaml::document(&repo));
        docs.push(yaml::document(&release));
    }
    tree.add("cluster/monitoring/releases.yaml", yaml::documents(&docs));
    tree.add(
        "cluster/monitoring-rules/alerts.yaml",
        yaml::document(&alerts(lab)),
    );
}

fn stack_values(lab: &Lab) -> Value {
    let control_planes: Vec<String> = lab
        .control_planes()
        .filter_map(|(_, n)| n.ip.map(|i| i.to_string()))
        .collect();
    // Talos runs these as static pods bound to 0.0.0.0 (kubelab's machine configs set that);
    // the chart finds them through explicit endpoints.
    let https_component = |port: u16| {
        json!({
            "endpoints": control_planes,
            "service": { "port": port, "targetPort": port },
            "serviceMonitor": { "https": true, "insecureSkipVerify": true },
        })
    };
    let etcd_metrics_port = kubelab_spec::versions::ETCD_METRICS_PORT;
    let mut values = json!({
        "kubeProxy": { "enabled": false },
        "defaultRules": { "rules": { "kubeProxy": false } },
        "kubeControllerManager": https_component(10257),
        "kubeScheduler": https_component(10259),
        "kubeEtcd": {
            "endpoints": control_planes,
            // kubelab's own plain-HTTP metrics listener on every Talos minor (see
            // `versions::ETCD_METRICS_PORT`: 1.14 moves only the default one, to mTLS on 2383).
            "service": { "port": etcd_metrics_port, "targetPort": etcd_metrics_port },
            "serviceMonitor": { "scheme": "http" },
        },
        "prometheus": {
            "prometheusSpec": {
                "retention": lab.monitoring.retention,
                // Pick up ServiceMonitors and rules from every release (Cilium's, kubelab's).
                "serviceMonitorSelectorNilUsesHelmValues": false,
                "podMonitorSelectorNilUsesHelmValues": false,
                "ruleSelectorNilUsesHelmValues": false,
            }
        },
    });
    // Only a class the cluster has: a claim on a missing one stays Pending, and Prometheus
    // with it. With none, the chart's default (an emptyDir) keeps Prometheus running.
    if let Some(class) = lab.prometheus_storage_class() {
        values["prometheus"]["prometheusSpec"]["storageSpec"] = json!({
            "volumeClaimTemplate": {
                "spec": {
                    "storageClassName": class,
                    "accessModes": ["ReadWriteOnce"],
                    "resources": { "requests": { "storage": lab.monitoring.storage.as_str() } },
                }
            }
        });
    }
    values
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PrometheusRule {
    api_version: &'static str,
    kind: &'static str,
    metadata: crate::flux::Metadata,
    spec: RuleSpec,
}

#[derive(Serialize)]
struct RuleSpec {
    groups: Vec<RuleGroup>,
}

#[derive(Serialize)]
struct RuleGroup {
    name: String,
    rules: Vec<Alert>,
}

#[derive(Serialize)]
struct Alert {
    alert: String,
    expr: String,
    #[serde(rename = "for")]
    duration: String,
    labels: std::collections::BTreeMap<String, String>,
    annotations: std::collections::BTreeMap<String, String>,
}

fn alert(
    name: &str,
    expr: &str,
    duration: &str,
    severity: &str,
    summary: &str,
    runbook: &str,
) -> Alert {
    Alert {
        alert: name.into(),
        expr: expr.into(),
        duration: duration.into(),
        labels: [("severity".to_string(), severity.to_string())].into(),
        annotations: [
            ("summary".to_string(), summary.to_string()),
            ("runbook".to_string(), runbook.to_string()),
        ]
        .into(),
    }
}

/// The seed's health checks as alerts. Metric names are kube-state-metrics', node-exporter's,
/// etcd's, the API server's and Cilium's own.
fn alerts(lab: &Lab) -> PrometheusRule {
    let memory = f64::from(lab.monitoring.memory_alert_percent) / 100.0;
    let restarts = lab.monitoring.restart_alert_per_hour;
    let cluster = vec![
        alert("LabNodeNotReady", r#"kube_node_status_condition{condition="Ready",status="true"} == 0"#, "5m", "critical",
            "Node {{ $labels.node }} is not Ready.",
            "kubectl describe node {{ $labels.node }}; talosctl -n <node-ip> health; check power and network first."),
        alert("LabControlPlaneComponentDown", r#"up{job=~"apiserver|kube-controller-manager|kube-scheduler"} == 0"#, "5m", "critical",
            "{{ $labels.job }} on {{ $labels.instance }} is not answering.",
            "talosctl -n <control-plane-ip> service; talosctl -n <ip> logs kubelet; static pods live under talosctl get staticpods."),
        alert("LabEtcdMemberDown", r#"up{job="kube-etcd"} == 0"#, "3m", "critical",
            "etcd member {{ $labels.instance }} is down; the cluster has less fault tolerance.",
            "talosctl -n <ip> etcd members; talosctl -n <ip> service etcd; a lost member is replaced with talosctl etcd remove-member and a reset."),
        alert("LabEtcdNoLeader", "etcd_server_has_leader == 0", "1m", "critical",
            "etcd member {{ $labels.instance }} has no leader.",
            "Quorum is lost when most members are down: bring control planes back, or restore the latest snapshot (see the backup README)."),
        alert("LabCiliumAgentNotReady", r#"kube_daemonset_status_number_unavailable{daemonset="cilium"} > 0"#, "5m", "critical",
            "{{ $value }} Cilium agents are not ready: pods on those nodes have no networking.",
            "kubectl -n kube-system get pods -l k8s-app=cilium -o wide; cilium status --wait."),
        alert("LabBgpSessionDown", "cilium_bgp_control_plane_session_state == 0", "2m", "warning",
            "BGP session from {{ $labels.instance }} to {{ $labels.neighbor }} is down: that node no longer advertises LoadBalancer IPs.",
            "cilium bgp peers; on the router: vtysh -c 'show bgp summary'; check TCP 179 is allowed from the node."),
        alert("LabLoadBalancerWithoutAddress",
            r#"(kube_service_spec_type{type="LoadBalancer"} unless on (namespace, service) kube_service_status_load_balancer_ingress) > 0"#,
            "10m", "warning",
            "Service {{ $labels.namespace }}/{{ $labels.service }} has no LoadBalancer address: a pool is exhausted or none matches it.",
            "kubectl get ciliumloadbalancerippools; kubectl describe svc shows the io.cilium/lb-ipam-request-satisfied condition."),
        alert("LabCertificateExpiringSoon",
            r#"histogram_quantile(0.01, sum by (job, le) (rate(apiserver_client_certificate_expiration_seconds_bucket{job="apiserver"}[5m]))) < 604800"#,
            "0m", "warning",
            "A client certificate used against the API server expires within 7 days.",
            "kubelab secrets rotate clients && kubelab render for the admin kubeconfig; Talos renews its own component certificates."),
    ];
    let workloads = vec![
        alert("LabPodRestartingOften", &format!("increase(kube_pod_container_status_restarts_total[1h]) > {restarts}"), "0m", "warning",
            "{{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) restarted more than the threshold in an hour.",
            "kubectl logs --previous; kubectl describe pod for OOMKilled or failing probes."),
        alert("LabContainerMemoryHigh",
            &format!(r#"sum by (namespace, pod, container) (container_memory_working_set_bytes{{container!=""}}) / sum by (namespace, pod, container) (kube_pod_container_resource_limits{{resource="memory"}}) > {memory}"#),
            "15m", "warning",
            "{{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) uses most of its memory limit.",
            "kubectl top pods --sort-by=memory -A; raise the limit or find the leak before the OOM killer does."),
        alert("LabNodeMemoryHigh", &format!("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes > {memory}"), "15m", "warning",
            "Node {{ $labels.instance }} uses most of its memory.",
            "kubectl top nodes; kubelab plan shows what fits; move or shrink workloads."),
        alert("LabFilesystemNearlyFull",
            r#"node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"} < 0.10"#,
            "15m", "warning",
            "{{ $labels.mountpoint }} on {{ $labels.instance }} has less than 10% free.",
            "local-path volumes live under /var/mnt/local-path-provisioner; delete unused PVCs or images (talosctl -n <ip> image list)."),
    ];
    PrometheusRule {
        api_version: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: crate::flux::Metadata {
            name: "kubelab-health".into(),
            namespace: NAMESPACE.into(),
        },
        spec: RuleSpec {
            groups: vec![
                RuleGroup {
                    name: "kubelab.cluster".into(),
                    rules: cluster,
                },
                RuleGroup {
                    name: "kubelab.workloads".into(),
                    rules: workloads,
                },
            ],
        },
    }
}
