//! `kubelab backup --velero` and the drill's Velero check against a real API server (the k8s
//! harness, Kubernetes 1.20, which `.ci/run` starts) with Velero's real Backup CRD from
//! `schemas/`. There is no Velero server: a stand-in in the test moves each new Backup through
//! the phases Velero writes (InProgress, then Completed — or Failed with a reason for a backup
//! of the namespace `broken`), as the issue allows where the harness cannot run the real thing.

use std::time::Duration;

use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use kube::Client;
use kubelab_backup::{
    latest_velero_backup, velero_backup, velero_restore, VeleroError, VeleroRequest,
};
use serde_json::json;

async fn client() -> Client {
    kubelab_live_client(&kubelab_harness::kubeconfig()).await
}

async fn kubelab_live_client(kubeconfig: &[u8]) -> Client {
    let text = String::from_utf8_lossy(kubeconfig);
    let parsed = kube::config::Kubeconfig::from_yaml(&text).unwrap();
    let config = kube::Config::from_custom_kubeconfig(parsed, &Default::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

fn backups(client: &Client) -> Api<DynamicObject> {
    velero(client, "Backup")
}

fn velero(client: &Client, kind: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("velero.io", "v1", kind));
    Api::namespaced_with(client.clone(), "velero", &resource)
}

/// What the velero server does with a new Backup or Restore, reduced to its status.
async fn velero_server(client: Client) {
    let api = backups(&client);
    loop {
        if let Ok(listed) = api.list(&ListParams::default()).await {
            for backup in listed.items {
                let name = backup.metadata.name.clone().unwrap_or_default();
                let phase = backup
                    .data
                    .pointer("/status/phase")
                    .and_then(|p| p.as_str())
                    .map(str::to_string);
                let broken = backup
                    .data
                    .pointer("/spec/includedNamespaces")
                    .and_then(|n| n.as_array())
                    .is_some_and(|n| n.iter().any(|n| n == "broken"));
                let status = match phase.as_deref() {
                    None => {
                        json!({ "phase": "InProgress", "startTimestamp": "2026-12-02T03:00:00Z" })
                    }
                    Some("InProgress") if broken => json!({ "phase": "Failed",
                        "failureReason": "error checking if backup storage location is available: bucket not found" }),
                    Some("InProgress") => {
                        json!({ "phase": "Completed", "completionTimestamp": "2026-12-02T03:00:09Z",
                        "progress": { "itemsBackedUp": 42, "totalItems": 42 }, "warnings": 1 })
                    }
                    _ => continue,
                };
                let _ = api
                    .patch(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({ "status": status })),
                    )
                    .await;
            }
        }
        // And with a new Restore: in progress, then done.
        let restores = velero(&client, "Restore");
        if let Ok(listed) = restores.list(&ListParams::default()).await {
            for restore in listed.items {
                let name = restore.metadata.name.clone().unwrap_or_default();
                let status = match restore
                    .data
                    .pointer("/status/phase")
                    .and_then(|p| p.as_str())
                {
                    None => json!({ "phase": "InProgress" }),
                    Some("InProgress") => json!({ "phase": "Completed",
                        "progress": { "itemsRestored": 17, "totalItems": 17 } }),
                    _ => continue,
                };
                let _ = restores
                    .patch(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({ "status": status })),
                    )
                    .await;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the k8s harness (../shared/tools/k8s-harness): run by .ci/run"]
async fn a_velero_backup_is_created_waited_for_and_checked() {
    let client = client().await;
    kubelab_harness::install_crds(
        &client,
        "velero/v1",
        &["velero.io_backups.yaml", "velero.io_restores.yaml"],
    )
    .await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let _ = namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({ "metadata": { "name": "velero" } })).unwrap(),
        )
        .await;
    for old in backups(&client)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
    {
        let _ = backups(&client)
            .delete(&old.metadata.name.unwrap(), &DeleteParams::default())
            .await;
    }
    assert_eq!(latest_velero_backup(&client).await.unwrap(), None);
    let server = tokio::spawn(velero_server(client.clone()));

    let request = VeleroRequest {
        name: "kubelab-20261202t030000z".to_string(),
        namespaces: vec!["apps".to_string(), "media".to_string()],
        ttl: "720h".to_string(),
        file_system_backup: true,
    };
    let mut phases = Vec::new();
    let mut progress = |s: &kubelab_backup::VeleroBackupStatus| phases.push(s.phase.clone());
    let done = velero_backup(
        &client,
        &request,
        Duration::from_secs(20),
        Duration::from_millis(100),
        &mut progress,
    )
    .await
    .expect("the stand-in completes it");
    assert_eq!(
        phases.last().map(String::as_str),
        Some("Completed"),
        "{phases:?}"
    );
    assert_eq!((done.items_backed_up, done.warnings), (Some(42), 1));
    // The object is what Velero's schedule would have made: the lab's namespaces and TTL.
    let stored = backups(&client).get(&request.name).await.unwrap();
    assert_eq!(
        stored.data["spec"]["includedNamespaces"],
        json!(["apps", "media"])
    );
    assert_eq!(stored.data["spec"]["ttl"], json!("720h"));
    assert_eq!(stored.data["spec"]["defaultVolumesToFsBackup"], json!(true));

    let latest = latest_velero_backup(&client)
        .await
        .unwrap()
        .expect("one backup");
    assert_eq!(latest.name, request.name);
    assert!(latest.missing_namespaces(&["apps".to_string()]).is_empty());
    assert_eq!(
        latest.missing_namespaces(&["home".to_string()]),
        vec!["home".to_string()]
    );

    // Namespaces come back from the completed backup.
    let restored = velero_restore(
        &client,
        "kubelab-restore-media",
        &request.name,
        &["media".to_string()],
        Duration::from_secs(20),
        Duration::from_millis(100),
        &mut |_| {},
    )
    .await
    .expect("the stand-in completes the restore");
    assert_eq!(
        (restored.phase.as_str(), restored.items_restored),
        ("Completed", Some(17))
    );
    let stored = velero(&client, "Restore")
        .get("kubelab-restore-media")
        .await
        .unwrap();
    assert_eq!(
        stored.data["spec"],
        json!({ "backupName": request.name, "includedNamespaces": ["media"] })
    );

    // A backup Velero fails names Velero's reason; it is then the newest, and not proven.
    tokio::time::sleep(Duration::from_millis(1100)).await; // creation times have 1 s resolution
    let broken = VeleroRequest {
        name: "kubelab-broken".to_string(),
        namespaces: vec!["broken".to_string()],
        ..request.clone()
    };
    let error = velero_backup(
        &client,
        &broken,
        Duration::from_secs(20),
        Duration::from_millis(100),
        &mut |_| {},
    )
    .await
    .expect_err("the stand-in fails it");
    assert!(matches!(error, VeleroError::Failed { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        "Velero backup kubelab-broken ended Failed: error checking if backup storage location is available: bucket not found"
    );
    let latest = latest_velero_backup(&client)
        .await
        .unwrap()
        .expect("two backups");
    assert_eq!(
        (latest.name.as_str(), latest.phase.as_str()),
        ("kubelab-broken", "Failed")
    );

    // Without a server, the wait ends at its deadline naming the phase.
    server.abort();
    let stuck = VeleroRequest {
        name: "kubelab-stuck".to_string(),
        ..request.clone()
    };
    let error = velero_backup(
        &client,
        &stuck,
        Duration::from_millis(500),
        Duration::from_millis(100),
        &mut |_| {},
    )
    .await
    .expect_err("nobody moves it");
    assert!(
        error
            .to_string()
            .starts_with("Velero backup kubelab-stuck is still New after 0s"),
        "{error}"
    );
    for name in [&request.name, &broken.name, &stuck.name] {
        let _ = backups(&client)
            .delete(name, &DeleteParams::default())
            .await;
    }
}
