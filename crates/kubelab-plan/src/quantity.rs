//! Quantities for people: bytes and millicores as the plan's tables and messages show them.
//! Reading quantities from manifests is `kubelab_manifests::quantity`.

/// Bytes for people: `7.5Gi`, `512Mi`.
pub fn format_bytes(bytes: i64) -> String {
    const UNITS: [(&str, i64); 4] = [
        ("Ti", 1 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ];
    for (unit, size) in UNITS {
        if bytes.abs() >= size {
            let value = bytes as f64 / size as f64;
            return if (value - value.round()).abs() < 0.05 {
                format!("{}{unit}", value.round())
            } else {
                format!("{value:.1}{unit}")
            };
        }
    }
    bytes.to_string()
}

/// Millicores for people: `3.5` cores or `250m`.
pub fn format_cpu(milli: i64) -> String {
    if milli % 1000 == 0 {
        (milli / 1000).to_string()
    } else if milli.abs() >= 1000 {
        format!("{:.2}", milli as f64 / 1000.0)
            .trim_end_matches('0')
            .to_string()
    } else {
        format!("{milli}m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_for_people() {
        assert_eq!(format_bytes(8 << 30), "8Gi");
        assert_eq!(format_bytes(7708 << 20), "7.5Gi");
        assert_eq!(format_cpu(250), "250m");
        assert_eq!(format_cpu(4000), "4");
        assert_eq!(format_cpu(3950), "3.95");
    }
}
