//! The etcd snapshots the in-cluster CronJob keeps on the NAS, as `kubelab backup list`
//! shows them: the CronJob's schedule and last runs, and the files its last successful Job
//! listed. The store container ends with `ls -l` of the NAS folder, so the newest successful
//! Job's log is an account of what is there, read without mounting the NAS here.

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams};
use kube::Client;
use kubelab_talos::{BACKUP_NAMESPACE, ETCD_SNAPSHOT_CRONJOB, ETCD_SNAPSHOT_STORE_CONTAINER};

/// What the cluster says about the snapshots on the NAS.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NasSnapshots {
    pub schedule: String,
    pub last_schedule: Option<String>,
    pub last_success: Option<String>,
    /// The Job whose log listed the files (`None`: no successful Job is left to ask).
    pub listed_by: Option<String>,
    /// `(file name, size in bytes)`, newest first.
    pub files: Vec<(String, u64)>,
    /// Jobs that failed and were not followed by a success, newest first.
    pub failed_jobs: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NasError {
    #[error("the cluster has no {BACKUP_NAMESPACE}/{ETCD_SNAPSHOT_CRONJOB} CronJob: enable backup.etcd in lab.yaml and apply the rendered cluster/backup/ manifests")]
    NotDeployed,
    #[error("{what}")]
    Kubernetes {
        what: &'static str,
        #[source]
        source: kube::Error,
    },
}

fn failed(what: &'static str) -> impl FnOnce(kube::Error) -> NasError {
    move |source| match &source {
        kube::Error::Api(status) if status.code == 404 && what == "reading the CronJob" => {
            NasError::NotDeployed
        }
        _ => NasError::Kubernetes { what, source },
    }
}

/// Reads the CronJob, its Jobs and the newest successful Job's log.
pub async fn nas_snapshots(client: &Client) -> Result<NasSnapshots, NasError> {
    let cron = Api::<CronJob>::namespaced(client.clone(), BACKUP_NAMESPACE)
        .get(ETCD_SNAPSHOT_CRONJOB)
        .await
        .map_err(failed("reading the CronJob"))?;
    let status = cron.status.clone().unwrap_or_default();
    let mut jobs: Vec<Job> = Api::<Job>::namespaced(client.clone(), BACKUP_NAMESPACE)
        .list(&ListParams::default())
        .await
        .map_err(failed("listing the backup Jobs"))?
        .items
        .into_iter()
        .filter(|job| {
            job.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|owner| owner.kind == "CronJob" && owner.name == ETCD_SNAPSHOT_CRONJOB)
        })
        .collect();
    // Newest first.
    jobs.sort_by(|a, b| {
        b.metadata
            .creation_timestamp
            .cmp(&a.metadata.creation_timestamp)
    });
    let succeeded = |job: &Job| job.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0) > 0;
    let failed_jobs = jobs
        .iter()
        .take_while(|job| !succeeded(job))
        .filter(|job| job.status.as_ref().and_then(|s| s.failed).unwrap_or(0) > 0)
        .filter_map(|job| job.metadata.name.clone())
        .collect();
    let mut listing = NasSnapshots {
        schedule: cron.spec.schedule.clone(),
        last_schedule: status.last_schedule_time.map(|t| t.0.to_string()),
        last_success: status.last_successful_time.map(|t| t.0.to_string()),
        listed_by: None,
        files: Vec::new(),
        failed_jobs,
    };
    let Some(job) = jobs.iter().find(|job| succeeded(job)) else {
        return Ok(listing);
    };
    let job_name = job.metadata.name.clone().unwrap_or_default();
    let pods = Api::<Pod>::namespaced(client.clone(), BACKUP_NAMESPACE);
    // The Job controller labels its pods `job-name` (and, from 1.27, also
    // `batch.kubernetes.io/job-name`); the older one is set on every version.
    let listed = pods
        .list(&ListParams::default().labels(&format!("job-name={job_name}")))
        .await
        .map_err(failed("listing the backup Job's pods"))?;
    let Some(pod) = listed
        .items
        .iter()
        .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded"))
    else {
        return Ok(listing);
    };
    let log = pods
        .logs(
            pod.metadata.name.as_deref().unwrap_or_default(),
            &LogParams {
                container: Some(ETCD_SNAPSHOT_STORE_CONTAINER.to_string()),
                ..LogParams::default()
            },
        )
        .await
        .map_err(failed("reading the backup Job's log"))?;
    listing.listed_by = Some(job_name);
    listing.files = snapshot_files(&log);
    Ok(listing)
}

/// The snapshot files in an `ls -l` listing (busybox's: mode, links, owner, group, size,
/// month, day, time or year, name), newest first (their names carry a UTC time).
pub fn snapshot_files(listing: &str) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = listing
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let name = *fields.last()?;
            if !(name.starts_with("etcd-") && name.ends_with(".snapshot")) || fields.len() < 9 {
                return None;
            }
            Some((name.to_string(), fields[4].parse().ok()?))
        })
        .collect();
    files.sort_by(|a, b| b.0.cmp(&a.0));
    files
}

#[cfg(test)]
mod tests {
    use super::snapshot_files;

    #[test]
    fn the_store_containers_listing_is_read_newest_first() {
        let log = "total 98304\n\
            -rw-r--r--    1 65534    65534     51507232 Dec  1 03:00 etcd-20261201T030002Z.snapshot\n\
            -rw-r--r--    1 65534    65534     51511328 Dec  2 03:00 etcd-20261202T030001Z.snapshot\n\
            -rw-r--r--    1 65534    65534         1024 Dec  2 03:00 etcd-20261202T030001Z.snapshot.partial\n\
            drwxr-xr-x    2 65534    65534         4096 Nov 20  2026 lost+found\n";
        assert_eq!(
            snapshot_files(log),
            vec![
                ("etcd-20261202T030001Z.snapshot".to_string(), 51_511_328),
                ("etcd-20261201T030002Z.snapshot".to_string(), 51_507_232),
            ]
        );
    }
}
