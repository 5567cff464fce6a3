//! Schedules and durations, checked the way the components that receive them parse them, so a
//! value they would reject is reported at its line instead of by a failing CronJob or a
//! Prometheus that does not start:
//!
//! - `backup.etcd.schedule` (a Kubernetes CronJob) and `backup.velero.schedule` (a Velero
//!   Schedule): both parse with robfig/cron's standard parser: five fields or a `@` macro.
//! - `backup.velero.ttl`: a Go `time.Duration` (`720h0m0s`); Go has no day unit.
//! - `gitops.flux.interval`: a Go duration that must also match the Flux CRDs' pattern.
//! - `monitoring.retention`: a Prometheus duration (`15d`, `1w`, `2h30m`).
//!
//! The parsers are small and written here: the cron crates on offer follow other dialects
//! (seconds fields, `L`/`W`/`#`, 7 for Sunday) and would accept schedules Kubernetes refuses,
//! and no Rust crate parses exactly Go's or Prometheus's duration grammar.

use super::Context;
use crate::diagnostic::Diagnostic;

pub fn check(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let backup = &ctx.lab.backup;
    for (pointer, schedule, what) in [
        (
            "/backup/etcd/schedule",
            &backup.etcd.schedule,
            "the etcd backup schedule",
        ),
        (
            "/backup/velero/schedule",
            &backup.velero.schedule,
            "the Velero schedule",
        ),
    ] {
        if let Err(why) = parse_cron(schedule) {
            out.push(
                Diagnostic::error("invalid-schedule", format!("{what} `{schedule}` is not a cron schedule: {why}"))
                    .with_label_opt(ctx.at(pointer), why.clone())
                    .with_help("write five fields, minute hour day-of-month month day-of-week (such as `0 3 * * *` for 03:00 daily, `*/15 * * * MON-FRI`), or a macro: @hourly, @daily, @weekly, @monthly, @yearly, @every 6h"),
            );
        }
    }
    let ttl = &backup.velero.ttl;
    if let Err(why) = parse_go_duration(ttl) {
        out.push(
            Diagnostic::error(
                "invalid-duration",
                format!("the Velero backup ttl `{ttl}` is not a Go duration: {why}"),
            )
            .with_label_opt(ctx.at("/backup/velero/ttl"), why)
            .with_help(go_duration_fix(ttl)),
        );
    }
    if let Some(flux) = &ctx.lab.gitops.flux {
        let interval = &flux.interval;
        if let Err(why) = parse_flux_interval(interval) {
            out.push(
                Diagnostic::error(
                    "invalid-duration",
                    format!("the Flux interval `{interval}` is not a duration Flux accepts: {why}"),
                )
                .with_label_opt(ctx.at("/gitops/flux/interval"), why)
                .with_help(go_duration_fix(interval)),
            );
        }
    }
    let retention = &ctx.lab.monitoring.retention;
    if let Err(why) = parse_prometheus_duration(retention) {
        out.push(
            Diagnostic::error(
                "invalid-duration",
                format!("the Prometheus retention `{retention}` is not a Prometheus duration: {why}"),
            )
            .with_label_opt(ctx.at("/monitoring/retention"), why)
            .with_help("write whole numbers with units from largest to smallest, each at most once: y, w, d, h, m, s, ms (such as `15d`, `4w`, `1w3d`, `12h30m`)"),
        );
    }
}

/// A fix for a rejected Go duration: days and weeks converted to hours when that is the
/// mistake, otherwise the grammar.
fn go_duration_fix(text: &str) -> String {
    match hours_for_days(text) {
        Some(hours) => format!("Go durations stop at hours: write `{hours}h`"),
        None => "write a number and a unit (h, m, s, ms, us, ns), repeated as needed, such as `720h`, `1h30m` or `90s`".to_string(),
    }
}

/// `30d` → 720, `2w` → 336, `1w2d` → 216; `None` unless the text is days and weeks only.
fn hours_for_days(text: &str) -> Option<u64> {
    let mut hours = 0u64;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let n: u64 = rest[..digits].parse().ok()?;
        let per = match rest[digits..].chars().next()? {
            'd' => 24,
            'w' => 24 * 7,
            _ => return None,
        };
        hours = hours.checked_add(n.checked_mul(per)?)?;
        rest = &rest[digits + 1..];
    }
    Some(hours)
}

/// Go's `time.ParseDuration`: an optional sign, then one or more decimal numbers each with a
/// unit (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`); `0` alone needs no unit. Returns
/// nanoseconds.
pub fn parse_go_duration(text: &str) -> Result<f64, String> {
    let mut rest = text;
    let negative = rest.starts_with('-');
    rest = rest.strip_prefix(['-', '+']).unwrap_or(rest);
    if rest == "0" {
        return Ok(0.0);
    }
    if rest.is_empty() {
        return Err("it is empty".to_string());
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_end];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(format!("expected a number at `{rest}`"));
        }
        let value: f64 = number
            .parse()
            .map_err(|_| format!("`{number}` is not a number"))?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("`{number}` has no unit")),
            "d" | "w" | "y" => return Err(format!("Go durations have no `{unit}` unit")),
            other => return Err(format!("unknown unit `{other}`")),
        };
        total += value * scale;
        rest = &rest[unit_end..];
    }
    // Go refuses what does not fit an int64 of nanoseconds (about 292 years).
    if total > i64::MAX as f64 {
        return Err("it is longer than Go can hold (about 292 years)".to_string());
    }
    Ok(if negative { -total } else { total })
}

/// Flux's CRDs validate intervals with `^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$` before Go parses them:
/// no sign, no `ns`/`us`, no bare `0`, and a fraction needs digits on both sides.
fn parse_flux_interval(text: &str) -> Result<f64, String> {
    let nanos = parse_go_duration(text)?;
    let mut rest = text;
    while !rest.is_empty() {
        let int_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if int_end == 0 {
            return Err(format!(
                "Flux expects a whole or decimal number at `{rest}`"
            ));
        }
        rest = &rest[int_end..];
        if let Some(fraction) = rest.strip_prefix('.') {
            let end = fraction
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(fraction.len());
            if end == 0 {
                return Err("Flux expects digits after the decimal point".to_string());
            }
            rest = &fraction[end..];
        }
        let unit = ["ms", "s", "m", "h"]
            .into_iter()
            .find(|u| rest.starts_with(u))
            .ok_or_else(|| "Flux accepts only the units h, m, s and ms".to_string())?;
        rest = &rest[unit.len()..];
    }
    Ok(nanos)
}

/// Prometheus's `model.ParseDuration`: `0`, or whole numbers with units in the order
/// y, w, d, h, m, s, ms, each at most once. Returns milliseconds.
pub fn parse_prometheus_duration(text: &str) -> Result<u64, String> {
    if text == "0" {
        return Ok(0);
    }
    if text.is_empty() {
        return Err("it is empty".to_string());
    }
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let mut rest = text;
    let mut next_unit = 0;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("expected a whole number at `{rest}`"));
        }
        let value: u64 = rest[..digits]
            .parse()
            .map_err(|_| "the number is too large".to_string())?;
        rest = &rest[digits..];
        // `ms` before `m`, so that `5ms` is not read as minutes followed by `s`.
        let found = UNITS
            .iter()
            .enumerate()
            .filter(|(_, (u, _))| rest.starts_with(u))
            .max_by_key(|(_, (u, _))| u.len());
        let Some((position, (unit, scale))) = found else {
            return Err(if rest.is_empty() {
                format!("`{}` has no unit", &text[text.len() - digits..])
            } else {
                format!("unknown unit at `{rest}`")
            });
        };
        if position < next_unit {
            return Err(format!(
                "`{unit}` comes after a smaller unit or twice; write units from largest to smallest"
            ));
        }
        next_unit = position + 1;
        total = value
            .checked_mul(*scale)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| "the duration is too long".to_string())?;
        rest = &rest[unit.len()..];
    }
    Ok(total)
}

/// One cron field's bounds and names, as robfig/cron defines them.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
    },
    Field {
        name: "day of week",
        min: 0,
        max: 6,
        names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    },
];

/// robfig/cron v3's `ParseStandard`, which Kubernetes CronJobs and Velero Schedules use: five
/// space-separated fields (minute 0–59, hour 0–23, day of month 1–31, month 1–12 or JAN–DEC,
/// day of week 0–6 or SUN–SAT), each a comma list of `*`, `?`, `N`, `N-M`, optionally with
/// `/step`; or a macro (`@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`,
/// `@hourly`, `@every <Go duration>`). Kubernetes also refuses a `TZ=`/`CRON_TZ=` prefix.
pub fn parse_cron(spec: &str) -> Result<(), String> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err("it is empty".to_string());
    }
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        return Err("Kubernetes refuses a time zone in the schedule".to_string());
    }
    if let Some(macro_name) = spec.strip_prefix('@') {
        if let Some(every) = macro_name.strip_prefix("every ") {
            return parse_go_duration(every.trim())
                .map(|_| ())
                .map_err(|why| format!("`@every` needs a Go duration: {why}"));
        }
        return match macro_name {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => {
                Ok(())
            }
            _ => Err(format!("`@{macro_name}` is not a cron macro")),
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected 5 fields, found {}", fields.len()));
    }
    for (text, field) in fields.iter().zip(&FIELDS) {
        for part in text.split(',') {
            parse_range(part, field).map_err(|why| format!("{} field: {why}", field.name))?;
        }
    }
    Ok(())
}

fn parse_range(part: &str, field: &Field) -> Result<(), String> {
    let (range, step) = match part.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (part, None),
    };
    if let Some(step) = step {
        if step.contains('/') {
            return Err(format!("`{part}` has more than one `/`"));
        }
        match step.parse::<u32>() {
            Ok(0) => return Err(format!("the step in `{part}` must be positive")),
            Ok(_) if step.chars().all(|c| c.is_ascii_digit()) => {}
            _ => return Err(format!("`{step}` is not a step")),
        }
    }
    if range == "*" || range == "?" {
        return Ok(());
    }
    let (start, end) = match range.split_once('-') {
        Some((a, b)) => (value(a, field)?, Some(value(b, field)?)),
        None => (value(range, field)?, None),
    };
    if let Some(end) = end {
        if start > end {
            return Err(format!("`{range}` starts after it ends"));
        }
    }
    Ok(())
}

fn value(text: &str, field: &Field) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = field.names.iter().position(|n| *n == lower) {
        return Ok(field.min + i as u32);
    }
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("`{text}` is not a number"));
    }
    let n: u32 = text.parse().map_err(|_| format!("`{text}` is too large"))?;
    if n < field.min || n > field.max {
        return Err(format!("{n} is outside {}–{}", field.min, field.max));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn cron_accepts_what_kubernetes_accepts() {
        for ok in [
            "0 */6 * * *",
            "0 3 * * *",
            "*/15 9-17 * * MON-FRI",
            "0 0 1,15 * *",
            "5 4 * jan,Jul sun",
            "0 0 ? * 0",
            "30 2 1-31/2 1-12 0-6",
            "0 5/10 * * *",
            "@hourly",
            "@daily",
            "@midnight",
            "@weekly",
            "@monthly",
            "@yearly",
            "@annually",
            "@every 1h30m",
            "  0 3 * * *  ",
        ] {
            assert_eq!(parse_cron(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn cron_refuses_what_kubernetes_refuses() {
        for bad in [
            "",
            "0 3 * *",
            "0 0 3 * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 7",
            "* * * * FOO",
            "*/0 * * * *",
            "5-1 * * * *",
            "a * * * *",
            "0 3 L * *",
            "@fortnightly",
            "@every 1d",
            "TZ=UTC 0 3 * * *",
            "1/2/3 * * * *",
        ] {
            assert!(parse_cron(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn go_durations_follow_time_parse_duration() {
        assert_eq!(parse_go_duration("720h"), Ok(720.0 * 3600e9));
        assert_eq!(parse_go_duration("720h0m0s"), Ok(720.0 * 3600e9));
        assert_eq!(parse_go_duration("1.5h"), Ok(1.5 * 3600e9));
        assert_eq!(parse_go_duration(".5s"), Ok(0.5e9));
        assert_eq!(parse_go_duration("0"), Ok(0.0));
        assert_eq!(parse_go_duration("1µs"), Ok(1e3));
        assert_eq!(parse_go_duration("-1m"), Ok(-60e9));
        for bad in ["", "30d", "1w", "10", "h", "1.2.3h", "1hh", ".h", "5 m"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flux_intervals_follow_the_crd_pattern() {
        for ok in ["10m", "1h30m", "1.5h", "500ms"] {
            assert!(parse_flux_interval(ok).is_ok(), "{ok}");
        }
        for bad in ["0", "-1m", "1us", ".5m", "5.m", "1d"] {
            assert!(parse_flux_interval(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prometheus_durations_follow_model_parse_duration() {
        assert_eq!(parse_prometheus_duration("15d"), Ok(15 * 86_400_000));
        assert_eq!(parse_prometheus_duration("1w3d"), Ok(10 * 86_400_000));
        assert_eq!(parse_prometheus_duration("1y"), Ok(365 * 86_400_000));
        assert_eq!(parse_prometheus_duration("2h30m"), Ok(150 * 60_000));
        assert_eq!(parse_prometheus_duration("5m10s500ms"), Ok(310_500));
        assert_eq!(parse_prometheus_duration("0"), Ok(0));
        for bad in ["", "15", "1.5d", "3h1d", "1d1d", "10x", "d", "15 d", "-1d"] {
            assert!(parse_prometheus_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn days_convert_to_hours_for_go() {
        assert_eq!(hours_for_days("30d"), Some(720));
        assert_eq!(hours_for_days("1w2d"), Some(216));
        assert_eq!(hours_for_days("30h"), None);
        assert!(go_duration_fix("30d").contains("`720h`"));
    }

    #[test]
    fn the_lab_reports_each_bad_value_at_its_line() {
        let lab = homelab_with(|t| {
            t.replace("schedule: \"0 */6 * * *\"", "schedule: \"0 */6 * *\"")
                .replace("ttl: 720h", "ttl: 30d")
                .replace("retention: 15d", "retention: 15days")
        });
        let d = diagnostics(&lab);
        let found: Vec<_> = d
            .iter()
            .filter(|d| matches!(d.code, "invalid-schedule" | "invalid-duration"))
            .collect();
        assert_eq!(found.len(), 3, "{d:#?}");
        let ttl = found.iter().find(|d| d.message.contains("ttl")).unwrap();
        assert!(ttl.help.as_deref().unwrap().contains("`720h`"));
        assert!(found.iter().all(|d| !d.labels.is_empty()));
        assert!(!codes(&homelab_with(|t| t))
            .iter()
            .any(|c| matches!(*c, "invalid-schedule" | "invalid-duration")));
    }
}
