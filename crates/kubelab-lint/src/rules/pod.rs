//! Pod hardening, judged on each container's *effective* security context: the pod-level
//! value applies unless the container sets its own (Kubernetes' own precedence), so a pod-level
//! `runAsNonRoot: true` covers every container and a container-level `runAsUser: 0` breaks it.

use kubelab_manifests::Document;
use serde_json::Value;

use super::{info, Finding};

/// Where a workload kind keeps its pod spec.
pub fn pod_spec(doc: &Document) -> Option<&Value> {
    let pointer = match doc.kind() {
        "Pod" => "/spec",
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => "/spec/template/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        _ => return None,
    };
    doc.value.pointer(pointer)
}

/// Long-running workloads need probes; Jobs finish and do not.
fn long_running(kind: &str) -> bool {
    matches!(
        kind,
        "Pod" | "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "ReplicationController"
    )
}

/// The security context a container runs with.
struct Effective<'a> {
    pod: Option<&'a Value>,
    container: Option<&'a Value>,
}

impl<'a> Effective<'a> {
    /// Container value first, then the pod's (for the fields the pod level has).
    fn get(&self, field: &str) -> Option<&'a Value> {
        self.container
            .and_then(|c| c.get(field))
            .or_else(|| self.pod.and_then(|p| p.get(field)))
    }

    fn container_only(&self, field: &str) -> Option<&'a Value> {
        self.container.and_then(|c| c.get(field))
    }
}

pub fn check(doc: &Document, out: &mut Vec<Finding>) {
    let Some(spec) = pod_spec(doc) else { return };
    let mut finding = |rule: &'static str, container: Option<&str>, message: String| {
        let severity = info(rule).map(|r| r.severity).expect("registered rule");
        out.push(Finding {
            rule,
            severity,
            file: doc.file.clone(),
            line: doc.line,
            object: doc.reference(),
            namespace: Some(doc.namespace().to_string()),
            container: container.map(str::to_string),
            message,
        });
    };
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec.get(field).and_then(Value::as_bool) == Some(true) {
            finding("KL108", None, format!("the pod sets `{field}: true`"));
        }
    }
    for volume in spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(path) = volume.pointer("/hostPath/path").and_then(Value::as_str) {
            let name = volume.get("name").and_then(Value::as_str).unwrap_or("?");
            finding(
                "KL109",
                None,
                format!("volume `{name}` mounts the node's `{path}`"),
            );
        }
    }
    let pod_context = spec.get("securityContext");
    let groups = [
        ("containers", true),
        ("initContainers", false),
        ("ephemeralContainers", false),
    ];
    for (group, main) in groups {
        for container in spec
            .get(group)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = container.get("name").and_then(Value::as_str).unwrap_or("?");
            let c = Some(name);
            let ctx = Effective {
                pod: pod_context,
                container: container.get("securityContext"),
            };
            let run_as_user = ctx.get("runAsUser").and_then(Value::as_i64);
            let non_root = ctx.get("runAsNonRoot").and_then(Value::as_bool) == Some(true);
            if !non_root && run_as_user.is_none_or(|u| u == 0) {
                finding(
                    "KL101",
                    c,
                    "neither `runAsNonRoot: true` nor a non-zero `runAsUser` applies".into(),
                );
            }
            if run_as_user == Some(0) {
                finding("KL102", c, "`runAsUser: 0` is root".into());
            }
            if ctx.get("runAsGroup").and_then(Value::as_i64) == Some(0) {
                finding("KL102", c, "`runAsGroup: 0` is the root group".into());
            }
            let caps = ctx.container_only("capabilities");
            let drops_all = caps
                .and_then(|c| c.get("drop"))
                .and_then(Value::as_array)
                .is_some_and(|d| {
                    d.iter()
                        .any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("ALL")))
                });
            if !drops_all {
                finding(
                    "KL103",
                    c,
                    "capabilities are not dropped (`drop: [ALL]`)".into(),
                );
            }
            for add in caps
                .and_then(|c| c.get("add"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let cap = add.as_str().unwrap_or("?");
                if !cap
                    .trim_start_matches("CAP_")
                    .eq_ignore_ascii_case("NET_BIND_SERVICE")
                {
                    finding("KL103", c, format!("adds capability `{cap}`"));
                }
            }
            if ctx
                .container_only("readOnlyRootFilesystem")
                .and_then(Value::as_bool)
                != Some(true)
            {
                finding("KL104", c, "the root filesystem is writable".into());
            }
            if ctx
                .container_only("allowPrivilegeEscalation")
                .and_then(Value::as_bool)
                != Some(false)
            {
                finding(
                    "KL105",
                    c,
                    "`allowPrivilegeEscalation: false` is not set".into(),
                );
            }
            let seccomp = ctx
                .get("seccompProfile")
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str);
            if !matches!(seccomp, Some("RuntimeDefault" | "Localhost")) {
                let what = seccomp.map_or("no seccomp profile".to_string(), |t| {
                    format!("seccomp profile `{t}`")
                });
                finding("KL106", c, format!("{what} applies"));
            }
            if ctx.container_only("privileged").and_then(Value::as_bool) == Some(true) {
                finding("KL107", c, "`privileged: true`".into());
            }
            for port in container
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(host_port) = port
                    .get("hostPort")
                    .and_then(Value::as_i64)
                    .filter(|p| *p > 0)
                {
                    finding("KL110", c, format!("binds host port {host_port}"));
                }
            }
            if main || group == "initContainers" {
                let resources = container.get("resources");
                let has = |p: &str| resources.and_then(|r| r.pointer(p)).is_some();
                let mut missing = Vec::new();
                for (pointer, label) in [
                    ("/requests/cpu", "requests.cpu"),
                    ("/requests/memory", "requests.memory"),
                    ("/limits/memory", "limits.memory"),
                ] {
                    if !has(pointer) {
                        missing.push(label);
                    }
                }
                if !missing.is_empty() {
                    finding("KL111", c, format!("missing {}", missing.join(", ")));
                }
            }
            if let Some(image) = container.get("image").and_then(Value::as_str) {
                if let Some(problem) = image_problem(image) {
                    finding("KL112", c, format!("image `{image}` {problem}"));
                }
            }
            if main && long_running(doc.kind()) {
                let missing: Vec<&str> = ["readinessProbe", "livenessProbe"]
                    .into_iter()
                    .filter(|p| container.get(*p).is_none())
                    .collect();
                if !missing.is_empty() {
                    finding("KL113", c, format!("no {}", missing.join(" or ")));
                }
            }
        }
    }
}

/// Why an image reference is not pinned, if it is not.
fn image_problem(image: &str) -> Option<&'static str> {
    if image.contains("@sha256:") {
        return None;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => Some("has no tag (means `latest`)"),
        Some((_, "latest")) => Some("uses `latest`"),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn findings(value: Value) -> Vec<(&'static str, Option<String>)> {
        let doc = Document {
            file: "t.yaml".into(),
            line: 1,
            value,
        };
        let mut out = Vec::new();
        check(&doc, &mut out);
        out.into_iter().map(|f| (f.rule, f.container)).collect()
    }

    fn hardened_container(name: &str) -> Value {
        json!({
            "name": name, "image": "ghcr.io/example/app:1.2.3",
            "securityContext": {
                "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                "capabilities": { "drop": ["ALL"] },
            },
            "resources": { "requests": { "cpu": "10m", "memory": "16Mi" }, "limits": { "memory": "64Mi" } },
            "readinessProbe": {}, "livenessProbe": {},
        })
    }

    fn deployment(pod_context: Value, containers: Vec<Value>) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "web", "namespace": "prod" },
            "spec": { "template": { "spec": { "securityContext": pod_context, "containers": containers } } },
        })
    }

    fn restricted_pod() -> Value {
        json!({ "runAsNonRoot": true, "runAsUser": 10001, "runAsGroup": 10001, "seccompProfile": { "type": "RuntimeDefault" } })
    }

    #[test]
    fn a_hardened_workload_is_clean() {
        assert_eq!(
            findings(deployment(
                restricted_pod(),
                vec![hardened_container("app")]
            )),
            []
        );
    }

    #[test]
    fn pod_level_settings_are_inherited_by_every_container() {
        let f = findings(deployment(
            restricted_pod(),
            vec![hardened_container("a"), hardened_container("b")],
        ));
        assert!(f.is_empty(), "{f:?}");
        // Without the pod-level context both containers fail the inherited checks.
        let f = findings(deployment(
            json!({}),
            vec![hardened_container("a"), hardened_container("b")],
        ));
        for rule in ["KL101", "KL106"] {
            assert_eq!(
                f.iter().filter(|(r, _)| *r == rule).count(),
                2,
                "{rule}: {f:?}"
            );
        }
    }

    #[test]
    fn container_values_override_the_pod() {
        let mut root = hardened_container("root");
        root["securityContext"]["runAsUser"] = json!(0);
        root["securityContext"]["runAsNonRoot"] = json!(false);
        let mut unconfined = hardened_container("unconfined");
        unconfined["securityContext"]["seccompProfile"] = json!({ "type": "Unconfined" });
        let f = findings(deployment(
            restricted_pod(),
            vec![root, unconfined, hardened_container("ok")],
        ));
        assert!(f.contains(&("KL101", Some("root".into()))));
        assert!(f.contains(&("KL102", Some("root".into()))));
        assert!(f.contains(&("KL106", Some("unconfined".into()))));
        assert!(!f.iter().any(|(_, c)| c.as_deref() == Some("ok")), "{f:?}");
    }

    #[test]
    fn host_access_capabilities_and_privilege_are_flagged() {
        let mut c = hardened_container("c");
        c["securityContext"]["privileged"] = json!(true);
        c["securityContext"]["capabilities"]["add"] = json!(["NET_BIND_SERVICE", "SYS_ADMIN"]);
        c["ports"] = json!([{ "containerPort": 80, "hostPort": 8080 }]);
        let mut v = deployment(restricted_pod(), vec![c]);
        v["spec"]["template"]["spec"]["hostNetwork"] = json!(true);
        v["spec"]["template"]["spec"]["volumes"] =
            json!([{ "name": "root", "hostPath": { "path": "/" } }]);
        let rules: Vec<&str> = findings(v).into_iter().map(|(r, _)| r).collect();
        for rule in ["KL103", "KL107", "KL108", "KL109", "KL110"] {
            assert!(rules.contains(&rule), "{rule}: {rules:?}");
        }
        assert_eq!(
            rules.iter().filter(|r| **r == "KL103").count(),
            1,
            "NET_BIND_SERVICE is allowed"
        );
    }

    #[test]
    fn images_resources_and_probes() {
        let mut c = hardened_container("c");
        c["image"] = json!("nginx");
        c["resources"] = json!({ "requests": { "cpu": "10m" } });
        c.as_object_mut().unwrap().remove("livenessProbe");
        let rules: Vec<&str> = findings(deployment(restricted_pod(), vec![c]))
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        assert_eq!(rules, ["KL111", "KL112", "KL113"]);
        assert_eq!(
            image_problem("registry:5000/app"),
            Some("has no tag (means `latest`)")
        );
        assert_eq!(image_problem("app:latest"), Some("uses `latest`"));
        assert_eq!(image_problem("app@sha256:abc"), None);
    }

    #[test]
    fn jobs_need_no_probes() {
        let mut job = deployment(restricted_pod(), vec![hardened_container("c")]);
        job["kind"] = json!("Job");
        job["spec"]["template"]["spec"]["containers"][0]
            .as_object_mut()
            .unwrap()
            .remove("readinessProbe");
        assert_eq!(findings(job), []);
    }
}
