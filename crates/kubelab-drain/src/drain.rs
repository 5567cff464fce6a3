//! The API side: cordon and uncordon as one merge patch each, and the drain loop: cordon, list
//! the node's pods, refuse or evict, retry what budgets block, wait until the evicted are gone.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{EvictParams, ListParams, Patch, PatchParams};
use kube::core::Status;
use kube::{Api, Client};
use serde_json::json;
use tokio::time::Instant;

use crate::error::{BlockedPod, RefusedPod};
use crate::{
    classify, DrainError, DrainEvent, DrainOptions, DrainReport, EvictedPod, PodClass, PodRef,
    SkippedPod,
};

/// The longest one API request may take. kube's client sets no read timeout, so without this
/// a stalled connection would hang a drain past its deadline; an eviction, list or patch
/// answers in milliseconds, and the apiserver itself gives up on a request after 60s.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The status cause the apiserver adds when a pod's namespace is being deleted (a Forbidden
/// eviction that resolves itself once the namespace controller deletes the pod).
const NAMESPACE_TERMINATING: &str = "NamespaceTerminating";

/// A blocked pod's reason when no answer to its eviction came before the deadline (most likely
/// a client retrying the refusal itself, so the budget's reason never reached the drain).
pub(crate) const UNANSWERED: &str = "no answer to the eviction before the deadline \
     (a client that retries refused evictions itself hides the budget's answer: build it with kubelab_drain::client)";

/// The client a drain wants: kube's default client retries 429 answers itself (kube 4.2's
/// `default_retry`: up to 15 more tries, backing off from 5 ms and doubling, minutes in all),
/// so one eviction refused by a budget would not return for minutes and its reason would be
/// lost (measured against 1.20: the call was still retrying when cut off). A drain retries refused evictions itself, every `poll` until its
/// deadline, and needs each refusal to come back at once. Everything else is `config` as is.
pub fn client(mut config: kube::Config) -> Result<Client, kube::Error> {
    config.default_retry = false;
    Client::try_from(config)
}

/// Marks the node unschedulable. Returns whether it changed (false: it already was).
pub async fn cordon(client: &Client, node: &str) -> Result<bool, DrainError> {
    set_unschedulable(client, node, true).await
}

/// Marks the node schedulable again. Returns whether it changed (false: it already was).
pub async fn uncordon(client: &Client, node: &str) -> Result<bool, DrainError> {
    set_unschedulable(client, node, false).await
}

/// Reads first so an unchanged node is reported as such (and not written: no resourceVersion
/// churn, no watch events for controllers). A merge patch touches only `spec.unschedulable`, so
/// it cannot undo a concurrent change to anything else on the node, and it needs no
/// resourceVersion: two racing cordons both end with the node cordoned.
async fn set_unschedulable(
    client: &Client,
    node: &str,
    unschedulable: bool,
) -> Result<bool, DrainError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let action = if unschedulable { "cordon" } else { "uncordon" };
    let found = request(node, action, nodes.get_opt(node))
        .await?
        .ok_or_else(|| DrainError::NodeNotFound(node.to_string()))?;
    let current = found
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false);
    if current == unschedulable {
        return Ok(false);
    }
    // Uncordoning removes the field (null in a merge patch), as kubectl leaves a node: the
    // field is omitted when false, so a never-cordoned and an uncordoned node look the same.
    let value = if unschedulable {
        json!(true)
    } else {
        json!(null)
    };
    let patch = Patch::Merge(json!({ "spec": { "unschedulable": value } }));
    match request(
        node,
        action,
        nodes.patch(node, &PatchParams::default(), &patch),
    )
    .await
    {
        Ok(_) => Ok(true),
        Err(DrainError::Kubernetes {
            source: kube::Error::Api(status),
            ..
        }) if status.is_not_found() => Err(DrainError::NodeNotFound(node.to_string())),
        Err(e) => Err(e),
    }
}

/// Cordons the node, then evicts its pods as [`classify`] sorts them and waits until they are
/// gone. Pods at a risk the options do not allow make the whole drain refuse before anything
/// is evicted (as kubectl does), with every such pod named. The node stays cordoned whatever
/// happens: the caller decides whether to uncordon after a failed drain.
pub async fn drain(
    client: &Client,
    node: &str,
    options: &DrainOptions,
    progress: &mut dyn FnMut(DrainEvent),
) -> Result<DrainReport, DrainError> {
    let deadline = Instant::now() + options.timeout;
    let cordoned = cordon(client, node).await?;
    progress(DrainEvent::Cordoned {
        node: node.to_string(),
        changed: cordoned,
    });

    let all: Api<Pod> = Api::all(client.clone());
    let on_node = ListParams::default().fields(&format!("spec.nodeName={node}"));
    let listed = request(node, "listing the node's pods", all.list(&on_node)).await?;

    let mut skipped = Vec::new();
    let mut to_evict = Vec::new();
    let mut refused = Vec::new();
    for pod in listed.items {
        let pod_ref = PodRef::of(&pod);
        match classify(&pod) {
            PodClass::Skip(reason) => skipped.push(SkippedPod {
                pod: pod_ref,
                reason,
            }),
            PodClass::Evict { finished, risks } => {
                let denied: Vec<_> = risks
                    .iter()
                    .copied()
                    .filter(|r| !r.allowed_by(options))
                    .collect();
                if denied.is_empty() {
                    to_evict.push((
                        pod,
                        EvictedPod {
                            pod: pod_ref,
                            finished,
                            risks,
                        },
                    ));
                } else {
                    refused.push(RefusedPod {
                        pod: pod_ref,
                        risks: denied,
                    });
                }
            }
        }
    }
    if !refused.is_empty() {
        return Err(DrainError::Refused {
            node: node.to_string(),
            pods: refused,
        });
    }
    for pod in &skipped {
        progress(DrainEvent::Skipped {
            pod: pod.pod.clone(),
            reason: pod.reason,
        });
    }

    let evicted = evict_all(client, node, options, deadline, to_evict, progress).await?;
    wait_until_gone(client, node, options, deadline, &evicted, progress).await?;

    progress(DrainEvent::Done {
        node: node.to_string(),
        evicted: evicted.len(),
        skipped: skipped.len(),
    });
    Ok(DrainReport {
        node: node.to_string(),
        cordoned,
        evicted: evicted.into_iter().map(|(report, _)| report).collect(),
        skipped,
    })
}

/// What one eviction request came to.
enum Outcome {
    /// Accepted: the pod is being deleted (or already was gone); wait for it if `wait`.
    Evicted { wait: bool },
    /// Refused for now (a budget, or the namespace is being deleted): ask again later.
    Retry(String),
    /// Cut off at the deadline without an answer.
    Unanswered,
}

/// Requests each eviction; the ones budgets refuse are asked again every `poll` until the
/// deadline, as kubectl retries a 429. Returns the evicted pods with the UID to wait on (None:
/// the pod was already gone).
async fn evict_all(
    client: &Client,
    node: &str,
    options: &DrainOptions,
    deadline: Instant,
    pods: Vec<(Pod, EvictedPod)>,
    progress: &mut dyn FnMut(DrainEvent),
) -> Result<Vec<(EvictedPod, Option<String>)>, DrainError> {
    let mut evicted = Vec::new();
    let mut pending = pods;
    // The last reason said per pod, so a long wait on a budget is not a wall of repeats.
    let mut reasons: BTreeMap<PodRef, String> = BTreeMap::new();
    let mut first_round = true;
    loop {
        let mut still = Vec::new();
        for (pod, report) in pending {
            // A retrying client can hold one call until the deadline: the pods after it are
            // not asked again once it has passed.
            if Instant::now() >= deadline {
                reasons
                    .entry(report.pod.clone())
                    .or_insert_with(|| UNANSWERED.to_string());
                still.push((pod, report));
                continue;
            }
            if first_round {
                progress(DrainEvent::Evicting {
                    pod: report.pod.clone(),
                });
            }
            match evict_once(client, node, deadline, &pod, &report.pod).await? {
                Outcome::Evicted { wait } => {
                    reasons.remove(&report.pod);
                    let uid = if wait { pod.metadata.uid.clone() } else { None };
                    if !wait {
                        progress(DrainEvent::Gone {
                            pod: report.pod.clone(),
                        });
                    }
                    evicted.push((report, uid));
                }
                Outcome::Retry(reason) => {
                    if reasons.get(&report.pod) != Some(&reason) {
                        progress(DrainEvent::Blocked {
                            pod: report.pod.clone(),
                            reason: reason.clone(),
                        });
                        reasons.insert(report.pod.clone(), reason);
                    }
                    still.push((pod, report));
                }
                Outcome::Unanswered => {
                    // The last reason the apiserver gave, if any, says more than the silence.
                    reasons
                        .entry(report.pod.clone())
                        .or_insert_with(|| UNANSWERED.to_string());
                    still.push((pod, report));
                }
            }
        }
        first_round = false;
        if still.is_empty() {
            return Ok(evicted);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(DrainError::Blocked {
                node: node.to_string(),
                waited: options.timeout,
                pods: still
                    .into_iter()
                    .map(|(_, report)| BlockedPod {
                        reason: reasons.remove(&report.pod).unwrap_or_default(),
                        pod: report.pod,
                    })
                    .collect(),
            });
        }
        tokio::time::sleep_until(deadline.min(now + options.poll)).await;
        pending = still;
    }
}

/// One eviction request through kube's `evict`, which posts an Eviction body with only
/// `metadata.name` (no apiVersion or kind): the apiserver decodes a body without a type into the
/// Eviction version its endpoint serves, so the same request works on 1.20 (policy/v1beta1
/// only) and on today's servers (policy/v1), with no discovery round trip (tested against 1.20
/// by the harness test). No delete options are sent (kube 4.2 would send them under
/// `delete_options`, a key the apiserver does not know): the pod's own grace period applies,
/// as with kubectl's default `--grace-period=-1`.
///
/// The call is cut off at the deadline (or [`REQUEST_TIMEOUT`]): a client that retries 429s
/// itself would otherwise hold it for minutes. Cut off at the deadline, the pod counts as still
/// blocked; the server may have accepted a late retry, which a rerun of the drain then sees.
async fn evict_once(
    client: &Client,
    node: &str,
    deadline: Instant,
    pod: &Pod,
    pod_ref: &PodRef,
) -> Result<Outcome, DrainError> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &pod_ref.namespace);
    let limit = deadline
        .saturating_duration_since(Instant::now())
        .min(REQUEST_TIMEOUT);
    let answer = match tokio::time::timeout(
        limit,
        api.evict(&pod_ref.name, &EvictParams::default()),
    )
    .await
    {
        Ok(answer) => answer,
        Err(_) if limit < REQUEST_TIMEOUT => return Ok(Outcome::Unanswered),
        Err(_) => {
            return Err(DrainError::Unresponsive {
                node: node.to_string(),
                action: "evicting a pod",
                waited: REQUEST_TIMEOUT,
            })
        }
    };
    match answer {
        // The eviction handler answers some refusals (a pod under two budgets) with a failure
        // Status rather than an error; the apiserver turns that into an HTTP error today, but
        // a failure Status that reached us as a success is no eviction either.
        Ok(status) if status.is_failure() => Err(DrainError::Evict {
            pod: pod_ref.clone(),
            source: kube::Error::Api(Box::new(status)),
        }),
        Ok(_) => Ok(Outcome::Evicted { wait: true }),
        Err(kube::Error::Api(status)) => {
            if status.is_not_found() {
                return Ok(Outcome::Evicted { wait: false });
            }
            if status.code == 429 {
                return Ok(Outcome::Retry(budget_reason(&status)));
            }
            if status.is_forbidden() && has_cause(&status, NAMESPACE_TERMINATING) {
                // A pod already being deleted only needs waiting for; otherwise the namespace
                // controller will delete it shortly and the next try sees it terminating.
                if pod.metadata.deletion_timestamp.is_some() {
                    return Ok(Outcome::Evicted { wait: true });
                }
                return Ok(Outcome::Retry(status.message.clone()));
            }
            Err(DrainError::Evict {
                pod: pod_ref.clone(),
                source: kube::Error::Api(status),
            })
        }
        Err(source) => Err(DrainError::Evict {
            pod: pod_ref.clone(),
            source,
        }),
    }
}

/// The apiserver's 429 says only "Cannot evict pod as it would violate the pod's disruption
/// budget."; the budget's name and its counts are in the status causes, so those are the
/// reason shown (the message when there are none).
pub(crate) fn budget_reason(status: &Status) -> String {
    let causes: Vec<&str> = status
        .details
        .iter()
        .flat_map(|d| &d.causes)
        .map(|c| c.message.as_str())
        .filter(|m| !m.is_empty())
        .collect();
    if causes.is_empty() {
        status.message.clone()
    } else {
        causes.join("; ")
    }
}

fn has_cause(status: &Status, reason: &str) -> bool {
    status
        .details
        .iter()
        .flat_map(|d| &d.causes)
        .any(|c| c.reason == reason)
}

/// Waits until no pod with an evicted pod's UID is on the node any more. A pod of the same name
/// with another UID is a replacement (a StatefulSet's), so the evicted one is gone; a pod
/// cannot move between nodes, so one list of the node per round sees all of them.
async fn wait_until_gone(
    client: &Client,
    node: &str,
    options: &DrainOptions,
    deadline: Instant,
    evicted: &[(EvictedPod, Option<String>)],
    progress: &mut dyn FnMut(DrainEvent),
) -> Result<(), DrainError> {
    let mut waiting: Vec<(&PodRef, &str)> = evicted
        .iter()
        .filter_map(|(report, uid)| uid.as_deref().map(|uid| (&report.pod, uid)))
        .collect();
    for (pod, _) in &waiting {
        progress(DrainEvent::WaitingFor {
            pod: (*pod).clone(),
        });
    }
    let all: Api<Pod> = Api::all(client.clone());
    let on_node = ListParams::default().fields(&format!("spec.nodeName={node}"));
    while !waiting.is_empty() {
        let listed = match request(node, "listing the node's pods", all.list(&on_node)).await {
            Ok(listed) => Some(listed.items),
            // A control plane restarting under the drain: look again next round.
            Err(DrainError::Kubernetes { source, .. }) if passing(&source) => None,
            Err(e) => return Err(e),
        };
        if let Some(present) = listed {
            waiting.retain(|(pod, uid)| {
                let there = present
                    .iter()
                    .any(|p| p.metadata.uid.as_deref() == Some(*uid));
                if !there {
                    progress(DrainEvent::Gone {
                        pod: (*pod).clone(),
                    });
                }
                there
            });
            if waiting.is_empty() {
                break;
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(DrainError::StillTerminating {
                node: node.to_string(),
                waited: options.timeout,
                pods: waiting.iter().map(|(pod, _)| (*pod).clone()).collect(),
            });
        }
        tokio::time::sleep_until(deadline.min(now + options.poll)).await;
    }
    Ok(())
}

/// Errors that pass on their own: the server is restarting or briefly away.
fn passing(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => status.code >= 500 || status.code == 429,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// One API request, bounded by [`REQUEST_TIMEOUT`].
async fn request<T>(
    node: &str,
    action: &'static str,
    call: impl Future<Output = Result<T, kube::Error>>,
) -> Result<T, DrainError> {
    match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) => Err(DrainError::Kubernetes {
            node: node.to_string(),
            action,
            source,
        }),
        Err(_) => Err(DrainError::Unresponsive {
            node: node.to_string(),
            action,
            waited: REQUEST_TIMEOUT,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(value: serde_json::Value) -> Status {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn budget_reason_prefers_the_causes_that_name_the_budget() {
        // The body Kubernetes 1.20's eviction handler returns when the budget allows nothing.
        let refused = status(json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": "Cannot evict pod as it would violate the pod's disruption budget.",
            "reason": "TooManyRequests", "code": 429,
            "details": { "causes": [{ "reason": "DisruptionBudget",
                "message": "The disruption budget web needs 2 healthy pods and has 2 currently" }] }
        }));
        assert_eq!(
            budget_reason(&refused),
            "The disruption budget web needs 2 healthy pods and has 2 currently"
        );
        assert!(has_cause(&refused, "DisruptionBudget"));
        assert!(!has_cause(&refused, NAMESPACE_TERMINATING));
    }

    #[test]
    fn budget_reason_falls_back_to_the_message() {
        let bare = status(json!({ "status": "Failure", "code": 429,
            "message": "Cannot evict pod as it would violate the pod's disruption budget." }));
        assert_eq!(
            budget_reason(&bare),
            "Cannot evict pod as it would violate the pod's disruption budget."
        );
    }

    #[test]
    fn only_server_side_and_transport_errors_pass() {
        let api = |code: u16| kube::Error::Api(status(json!({ "code": code })).boxed());
        assert!(passing(&api(503)));
        assert!(passing(&api(429)));
        assert!(!passing(&api(403)));
        assert!(!passing(&api(404)));
    }
}
