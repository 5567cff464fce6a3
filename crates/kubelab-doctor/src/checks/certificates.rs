//! Certificates within 30 days of expiry: an expired kubeconfig or talosconfig client
//! certificate locks the user out of the cluster; an expired CA stops the cluster itself.

use super::*;
use crate::finding::{Fix, Severity};

const DAY: i64 = 24 * 3600;
const WARN_DAYS: i64 = 30;

pub(super) fn check(intent: &Intent, out: &mut Vec<Finding>) {
    for cert in &intent.certificates {
        let left = cert.not_after_unix - intent.now_unix;
        if left >= WARN_DAYS * DAY {
            continue;
        }
        let (severity, problem) = if left <= 0 {
            (
                Severity::Error,
                format!("the {} expired {} day(s) ago", cert.what, (-left) / DAY),
            )
        } else {
            (
                if left < 7 * DAY {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                format!("the {} expires in {} day(s)", cert.what, left / DAY),
            )
        };
        let fixes = if cert.authority {
            vec![Fix::command(
                "kubelab secrets rotate all && kubelab render",
                "a new CA means rebuilding the cluster: running nodes trust the old one (back up first)",
            )]
        } else {
            vec![Fix::command(
                "kubelab secrets rotate clients && kubelab render",
                "mints new admin client certificates for talosconfig and kubeconfig",
            )]
        };
        out.push(Finding {
            rule: "certificate-expiring",
            severity,
            subject: cert.what.clone(),
            problem,
            evidence: vec![format!(
                "notAfter {} (today is {})",
                date(cert.not_after_unix),
                date(intent.now_unix)
            )],
            root_cause: None,
            fixes,
        });
    }
}

/// A Unix time as a UTC date, `2026-12-02` (days to civil date, Howard Hinnant's algorithm).
fn date(unix: i64) -> String {
    let z = unix.div_euclid(DAY) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(super::date(0), "1970-01-01");
        assert_eq!(super::date(1_800_000_000), "2027-01-15");
        assert_eq!(super::date(951_782_400), "2000-02-29");
    }
}
