//! `kubelab backup list`'s NAS part against a stand-in API server answering with recorded
//! objects: the Kubernetes 1.20 harness has no kubelets (so no pod logs) and serves CronJobs
//! only as batch/v1beta1, so the CronJob, its Jobs, the Job's pod and the store container's
//! log are served from here — shaped as an API server sends them, and read through the same
//! k8s-openapi types the code uses, which refuse a wrong shape.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use kubelab_backup::{nas_snapshots, NasError};
use serde_json::json;

fn job(name: &str, created: &str, succeeded: bool) -> serde_json::Value {
    json!({ "metadata": { "name": name, "namespace": "kubelab-backup", "creationTimestamp": created,
            "ownerReferences": [{ "apiVersion": "batch/v1", "kind": "CronJob", "name": "etcd-snapshot", "uid": "c1", "controller": true }] },
        "spec": { "template": { "spec": { "containers": [] } } },
        "status": if succeeded { json!({ "succeeded": 1 }) } else { json!({ "failed": 3 }) } })
}

/// Path (with query) → (status, body), as the API server answered.
fn recorded(with_cronjob: bool) -> Vec<(String, u16, String)> {
    let cron = json!({ "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": { "name": "etcd-snapshot", "namespace": "kubelab-backup" },
        "spec": { "schedule": "0 */6 * * *", "jobTemplate": { "spec": { "template": { "spec": { "containers": [] } } } } },
        "status": { "lastScheduleTime": "2026-12-02T06:00:00Z", "lastSuccessfulTime": "2026-12-02T00:00:41Z" } });
    let jobs = json!({ "apiVersion": "batch/v1", "kind": "JobList", "metadata": {}, "items": [
        job("etcd-snapshot-29411520", "2026-12-01T18:00:00Z", true),
        job("etcd-snapshot-29411880", "2026-12-02T00:00:00Z", true),
        job("etcd-snapshot-29412240", "2026-12-02T06:00:00Z", false),
        // Someone else's Job in the namespace is not the CronJob's.
        { "metadata": { "name": "manual", "namespace": "kubelab-backup", "creationTimestamp": "2026-12-02T07:00:00Z" },
          "spec": { "template": { "spec": { "containers": [] } } }, "status": { "succeeded": 1 } } ] });
    let pods = json!({ "apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [
        { "metadata": { "name": "etcd-snapshot-29411880-x7k2p", "namespace": "kubelab-backup",
                        "labels": { "job-name": "etcd-snapshot-29411880" } },
          "spec": { "containers": [] }, "status": { "phase": "Succeeded" } } ] });
    let log = "total 100608\n\
        -rw-r--r--    1 65534    65534     51507232 Dec  1 18:00 etcd-20261201T180003Z.snapshot\n\
        -rw-r--r--    1 65534    65534     51511328 Dec  2 00:00 etcd-20261202T000038Z.snapshot\n";
    let ns = "/namespaces/kubelab-backup";
    let mut answers = vec![
        (format!("/apis/batch/v1{ns}/jobs?"), 200, jobs.to_string()),
        (
            format!("/api/v1{ns}/pods?&labelSelector=job-name%3Detcd-snapshot-29411880"),
            200,
            pods.to_string(),
        ),
        (
            format!("/api/v1{ns}/pods/etcd-snapshot-29411880-x7k2p/log?&container=store"),
            200,
            log.to_string(),
        ),
    ];
    if with_cronjob {
        answers.push((
            format!("/apis/batch/v1{ns}/cronjobs/etcd-snapshot"),
            200,
            cron.to_string(),
        ));
    }
    answers
}

async fn serve(answers: Vec<(String, u16, String)>) -> kube::Client {
    let answers = Arc::new(answers);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move |request: Request<Body>| {
        let answers = answers.clone();
        async move {
            let asked = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            let (status, body) = answers
                .iter()
                .find(|(path, _, _)| *path == asked)
                .map(|(_, status, body)| (*status, body.clone()))
                .unwrap_or((
                    404,
                    json!({ "kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "reason": "NotFound", "code": 404, "message": format!("{asked} not found") })
                    .to_string(),
                ));
            Response::builder()
                .status(StatusCode::from_u16(status).unwrap())
                .body(Body::from(body))
                .unwrap()
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    kube::Client::try_from(kube::Config::new(
        format!("http://{address}").parse().unwrap(),
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nas_snapshots_are_what_the_last_successful_job_listed() {
    let client = serve(recorded(true)).await;
    let nas = nas_snapshots(&client).await.unwrap();
    assert_eq!(nas.schedule, "0 */6 * * *");
    assert_eq!(nas.listed_by.as_deref(), Some("etcd-snapshot-29411880"));
    assert_eq!(
        nas.files,
        vec![
            ("etcd-20261202T000038Z.snapshot".to_string(), 51_511_328),
            ("etcd-20261201T180003Z.snapshot".to_string(), 51_507_232),
        ]
    );
    // The run after the last success failed, and is said.
    assert_eq!(nas.failed_jobs, vec!["etcd-snapshot-29412240".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_cronjob_the_fix_is_named() {
    let client = serve(recorded(false)).await;
    let error = nas_snapshots(&client).await.unwrap_err();
    assert!(matches!(error, NasError::NotDeployed), "{error}");
    assert!(
        error.to_string().contains("enable backup.etcd in lab.yaml"),
        "{error}"
    );
}
