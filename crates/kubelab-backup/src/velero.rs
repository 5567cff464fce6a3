//! Velero backups on demand and their proof: `kubelab backup --velero` creates a Velero
//! `Backup` shaped like the lab's daily `Schedule` (same namespaces, TTL, storage location and
//! file-system backup choice) and waits until Velero finishes it; `kubelab drill` checks that
//! the newest Velero backup completed and covers the namespaces lab.yaml asks for;
//! `kubelab restore --velero` restores namespaces from one.
//!
//! kubelab does not back anything up itself: Velero does, and kubelab reads what Velero wrote
//! in the Backup's status (phase, progress, errors, failure reason).

use std::time::{Duration, Instant};

use kube::api::{Api, ListParams, PostParams};
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use kube::Client;
use serde_json::{json, Value};

/// Where kubelab's render installs Velero (its Helm chart's default namespace).
pub const VELERO_NAMESPACE: &str = "velero";

/// What the backup covers, from lab.yaml's `backup.velero`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VeleroRequest {
    /// The Backup's name.
    pub name: String,
    /// Namespaces to include; empty means all.
    pub namespaces: Vec<String>,
    /// How long Velero keeps it (a Go duration, as the schedule's).
    pub ttl: String,
    pub file_system_backup: bool,
}

/// What Velero writes in the status of every Backup and Restore.
struct Common {
    phase: String,
    errors: i64,
    warnings: i64,
    /// Velero's reason for a failure, or its validation errors.
    failure: Option<String>,
}

impl Common {
    fn read(data: &Value) -> Self {
        let validation: Vec<String> = data
            .pointer("/status/validationErrors")
            .and_then(Value::as_array)
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        Common {
            phase: text(data, "/status/phase").unwrap_or_else(|| "New".to_string()),
            errors: number(data, "/status/errors").unwrap_or(0),
            warnings: number(data, "/status/warnings").unwrap_or(0),
            failure: text(data, "/status/failureReason")
                .filter(|reason| !reason.is_empty())
                .or_else(|| (!validation.is_empty()).then(|| validation.join("; "))),
        }
    }
}

fn text(data: &Value, pointer: &str) -> Option<String> {
    data.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn number(data: &Value, pointer: &str) -> Option<i64> {
    data.pointer(pointer).and_then(Value::as_i64)
}

/// A Velero object kubelab creates and waits for.
trait VeleroObject: Sized {
    /// `backup` or `restore`, for messages.
    const WHAT: &'static str;
    fn read(object: &DynamicObject) -> Self;
    fn phase(&self) -> &str;
    fn failure(&self) -> Option<String>;
    /// Velero is done with it, one way or the other.
    fn finished(&self) -> bool;
}

/// Creates `object` and polls it until Velero finishes it: `Completed` is success, any other
/// final phase an error with Velero's reason. `progress` hears each new phase.
async fn create_and_wait<S: VeleroObject>(
    api: &Api<DynamicObject>,
    object: &DynamicObject,
    timeout: Duration,
    poll: Duration,
    progress: &mut dyn FnMut(&S),
) -> Result<S, VeleroError> {
    let name = object.metadata.name.clone().unwrap_or_default();
    api.create(&PostParams::default(), object)
        .await
        .map_err(kube_error("creating the Velero object"))?;
    let deadline = Instant::now() + timeout;
    let mut last_phase = String::new();
    loop {
        let current = api
            .get(&name)
            .await
            .map_err(kube_error("reading the Velero object"))?;
        let status = S::read(&current);
        if status.phase() != last_phase {
            last_phase = status.phase().to_string();
            progress(&status);
        }
        if status.finished() {
            return if status.phase() == "Completed" {
                Ok(status)
            } else {
                Err(VeleroError::Failed {
                    what: S::WHAT,
                    name,
                    phase: status.phase().to_string(),
                    failure: status.failure(),
                })
            };
        }
        if Instant::now() >= deadline {
            return Err(VeleroError::Timeout {
                what: S::WHAT,
                name,
                phase: status.phase().to_string(),
                after: timeout,
            });
        }
        tokio::time::sleep(poll).await;
    }
}

/// A Velero Backup as its status tells it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VeleroBackupStatus {
    pub name: String,
    /// `New`, `InProgress`, `Completed`, `PartiallyFailed`, `Failed`, `FailedValidation`, …
    pub phase: String,
    /// The namespaces it was asked to include (empty: all).
    pub included_namespaces: Vec<String>,
    pub started: Option<String>,
    pub completed: Option<String>,
    pub items_backed_up: Option<i64>,
    pub errors: i64,
    pub warnings: i64,
    /// Velero's reason for a failure, or its validation errors.
    pub failure: Option<String>,
}

impl VeleroBackupStatus {
    fn from_object(object: &DynamicObject) -> Self {
        let data = &object.data;
        let common = Common::read(data);
        VeleroBackupStatus {
            name: object.metadata.name.clone().unwrap_or_default(),
            phase: common.phase,
            included_namespaces: data
                .pointer("/spec/includedNamespaces")
                .and_then(Value::as_array)
                .map(|n| {
                    n.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            started: text(data, "/status/startTimestamp"),
            completed: text(data, "/status/completionTimestamp"),
            items_backed_up: number(data, "/status/progress/itemsBackedUp"),
            errors: common.errors,
            warnings: common.warnings,
            failure: common.failure,
        }
    }

    /// Velero is done with it, one way or the other.
    pub fn finished(&self) -> bool {
        // The phases of the Backup CRD's status enum (schemas/crds/velero/v1) that Velero
        // still moves on from; `Deleting` is final for this purpose (the backup is going).
        !matches!(
            self.phase.as_str(),
            "New"
                | "Queued"
                | "ReadyToStart"
                | "InProgress"
                | "WaitingForPluginOperations"
                | "WaitingForPluginOperationsPartiallyFailed"
                | "Finalizing"
                | "FinalizingPartiallyFailed"
        )
    }

    /// Namespaces lab.yaml asks for that this backup does not cover (none when it includes
    /// all, `*`, or each of them).
    pub fn missing_namespaces(&self, wanted: &[String]) -> Vec<String> {
        if self.included_namespaces.is_empty() || self.included_namespaces.iter().any(|n| n == "*")
        {
            return Vec::new();
        }
        wanted
            .iter()
            .filter(|n| !self.included_namespaces.contains(n))
            .cloned()
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VeleroError {
    #[error("the cluster has no Velero (the velero.io Backup resource is not served): enable backup.velero in lab.yaml and deploy the rendered backup/ manifests")]
    NotInstalled,
    #[error("{what}")]
    Kubernetes {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("Velero {what} {name} ended {phase}{}", failure.as_deref().map(|f| format!(": {f}")).unwrap_or_default())]
    Failed {
        /// `backup` or `restore`.
        what: &'static str,
        name: String,
        phase: String,
        failure: Option<String>,
    },
    #[error("Velero {what} {name} is still {phase} after {}s (is the velero Deployment running? `kubectl -n velero logs deploy/velero`)", after.as_secs())]
    Timeout {
        what: &'static str,
        name: String,
        phase: String,
        after: Duration,
    },
}

/// A Velero Restore as its status tells it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VeleroRestoreStatus {
    pub name: String,
    pub backup: String,
    /// `New`, `InProgress`, `Completed`, `PartiallyFailed`, `Failed`, `FailedValidation`, …
    pub phase: String,
    pub items_restored: Option<i64>,
    pub errors: i64,
    pub warnings: i64,
    pub failure: Option<String>,
}

impl VeleroRestoreStatus {
    fn from_object(object: &DynamicObject) -> Self {
        let data = &object.data;
        let common = Common::read(data);
        VeleroRestoreStatus {
            name: object.metadata.name.clone().unwrap_or_default(),
            backup: text(data, "/spec/backupName").unwrap_or_default(),
            phase: common.phase,
            items_restored: number(data, "/status/progress/itemsRestored"),
            errors: common.errors,
            warnings: common.warnings,
            failure: common.failure,
        }
    }

    /// Velero is done with it (the phases of the Restore CRD's status enum it moves on from
    /// are the unfinished ones).
    pub fn finished(&self) -> bool {
        !matches!(
            self.phase.as_str(),
            "New"
                | "InProgress"
                | "WaitingForPluginOperations"
                | "WaitingForPluginOperationsPartiallyFailed"
                | "Finalizing"
                | "FinalizingPartiallyFailed"
        )
    }
}

/// Restores `namespaces` (empty: everything in the backup) from the Velero backup `backup`
/// and waits until Velero finishes. Velero leaves objects that already exist alone (its
/// default `existingResourcePolicy`), so a restore fills in what is missing.
pub async fn velero_restore(
    client: &Client,
    name: &str,
    backup: &str,
    namespaces: &[String],
    timeout: Duration,
    poll: Duration,
    progress: &mut dyn FnMut(&VeleroRestoreStatus),
) -> Result<VeleroRestoreStatus, VeleroError> {
    let api = restores(client);
    // The backup must exist and have completed: restoring from a failed one restores a part.
    let backup_status = backups(client)
        .get(backup)
        .await
        .map_err(kube_error("reading the Velero Backup to restore from"))?;
    let backup_status = VeleroBackupStatus::from_object(&backup_status);
    if backup_status.phase != "Completed" {
        return Err(VeleroError::Failed {
            what: "backup",
            name: backup.to_string(),
            phase: backup_status.phase,
            failure: Some("only a completed backup is restored".to_string()),
        });
    }
    let mut spec = json!({ "backupName": backup });
    if !namespaces.is_empty() {
        spec["includedNamespaces"] = json!(namespaces);
    }
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "velero.io/v1",
        "kind": "Restore",
        "metadata": { "name": name, "namespace": VELERO_NAMESPACE,
                      "labels": { "app.kubernetes.io/created-by": "kubelab" } },
        "spec": spec,
    }))
    .map_err(|e| VeleroError::Failed {
        what: "restore",
        name: name.to_string(),
        phase: "unbuildable".to_string(),
        failure: Some(e.to_string()),
    })?;
    create_and_wait(&api, &object, timeout, poll, progress).await
}

impl VeleroObject for VeleroBackupStatus {
    const WHAT: &'static str = "backup";
    fn read(object: &DynamicObject) -> Self {
        Self::from_object(object)
    }
    fn phase(&self) -> &str {
        &self.phase
    }
    fn failure(&self) -> Option<String> {
        self.failure.clone()
    }
    fn finished(&self) -> bool {
        VeleroBackupStatus::finished(self)
    }
}

impl VeleroObject for VeleroRestoreStatus {
    const WHAT: &'static str = "restore";
    fn read(object: &DynamicObject) -> Self {
        Self::from_object(object)
    }
    fn phase(&self) -> &str {
        &self.phase
    }
    fn failure(&self) -> Option<String> {
        self.failure.clone()
    }
    fn finished(&self) -> bool {
        VeleroRestoreStatus::finished(self)
    }
}

fn restores(client: &Client) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("velero.io", "v1", "Restore"));
    Api::namespaced_with(client.clone(), VELERO_NAMESPACE, &resource)
}

fn backups(client: &Client) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("velero.io", "v1", "Backup"));
    Api::namespaced_with(client.clone(), VELERO_NAMESPACE, &resource)
}

fn kube_error(what: &str) -> impl FnOnce(kube::Error) -> VeleroError + '_ {
    move |source| match &source {
        kube::Error::Api(status) if status.code == 404 => VeleroError::NotInstalled,
        _ => VeleroError::Kubernetes {
            what: what.to_string(),
            source,
        },
    }
}

/// Creates the Backup and waits until Velero finishes it. `progress` hears each new phase.
pub async fn velero_backup(
    client: &Client,
    request: &VeleroRequest,
    timeout: Duration,
    poll: Duration,
    progress: &mut dyn FnMut(&VeleroBackupStatus),
) -> Result<VeleroBackupStatus, VeleroError> {
    let api = backups(client);
    let mut spec = json!({
        "ttl": request.ttl,
        "storageLocation": "default",
        "defaultVolumesToFsBackup": request.file_system_backup,
    });
    if !request.namespaces.is_empty() {
        spec["includedNamespaces"] = json!(request.namespaces);
    }
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": { "name": request.name, "namespace": VELERO_NAMESPACE,
                      "labels": { "app.kubernetes.io/created-by": "kubelab" } },
        "spec": spec,
    }))
    .map_err(|e| VeleroError::Failed {
        what: "backup",
        name: request.name.clone(),
        phase: "unbuildable".to_string(),
        failure: Some(e.to_string()),
    })?;
    create_and_wait(&api, &object, timeout, poll, progress).await
}

/// The newest Velero Backup (by creation time), if any.
pub async fn latest_velero_backup(
    client: &Client,
) -> Result<Option<VeleroBackupStatus>, VeleroError> {
    let listed = backups(client)
        .list(&ListParams::default())
        .await
        .map_err(kube_error("listing Velero Backups"))?;
    Ok(listed
        .items
        .iter()
        .max_by(|a, b| {
            let created = |o: &DynamicObject| o.metadata.creation_timestamp.clone().map(|t| t.0);
            created(a)
                .cmp(&created(b))
                .then_with(|| a.metadata.name.cmp(&b.metadata.name))
        })
        .map(VeleroBackupStatus::from_object))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(value: Value) -> VeleroBackupStatus {
        VeleroBackupStatus::from_object(&serde_json::from_value(value).unwrap())
    }

    #[test]
    fn the_status_is_read_as_velero_writes_it() {
        let s = status(json!({
            "apiVersion": "velero.io/v1", "kind": "Backup", "metadata": { "name": "b1" },
            "spec": { "includedNamespaces": ["apps", "media"] },
            "status": { "phase": "PartiallyFailed", "errors": 2, "warnings": 1,
                        "progress": { "itemsBackedUp": 140, "totalItems": 150 },
                        "failureReason": "" }
        }));
        assert_eq!(s.phase, "PartiallyFailed");
        assert!(s.finished());
        assert_eq!((s.errors, s.warnings, s.items_backed_up), (2, 1, Some(140)));
        assert_eq!(
            s.missing_namespaces(&["apps".into(), "home".into()]),
            vec!["home".to_string()]
        );
        let all = status(
            json!({ "apiVersion": "velero.io/v1", "kind": "Backup", "metadata": { "name": "b2" },
                                 "spec": {}, "status": { "phase": "InProgress" } }),
        );
        assert!(!all.finished());
        assert!(all.missing_namespaces(&["apps".into()]).is_empty());
        let invalid = status(
            json!({ "apiVersion": "velero.io/v1", "kind": "Backup", "metadata": { "name": "b3" },
            "spec": {}, "status": { "phase": "FailedValidation",
            "validationErrors": ["an existing backup storage location wasn't specified"] } }),
        );
        assert_eq!(
            invalid.failure.as_deref(),
            Some("an existing backup storage location wasn't specified")
        );
    }
}
