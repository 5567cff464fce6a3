//! Kubernetes resource quantities as the scheduler counts them: CPU in millicores, everything
//! else in whole units, both rounded up (`MilliValue()` and `Value()` in apimachinery).
//!
//! Written here rather than taken from k8s-openapi, whose `Quantity` is only the string.

/// `value` in thousandths, rounded up; `None` for text that is not a quantity.
pub fn parse_milli(text: &str) -> Option<i64> {
    let (numerator, denominator) = parse(text)?;
    ceil_div(numerator.checked_mul(1000)?, denominator)
}

/// `value` in whole units, rounded up.
pub fn parse_units(text: &str) -> Option<i64> {
    let (numerator, denominator) = parse(text)?;
    ceil_div(numerator, denominator)
}

fn ceil_div(numerator: i128, denominator: i128) -> Option<i64> {
    let q = numerator.div_euclid(denominator);
    let r = numerator.rem_euclid(denominator);
    i64::try_from(if r == 0 { q } else { q + 1 }).ok()
}

/// The exact value as a fraction.
fn parse(text: &str) -> Option<(i128, i128)> {
    let text = text.trim();
    let (sign, rest) = match text.as_bytes().first()? {
        b'-' => (-1, &text[1..]),
        b'+' => (1, &text[1..]),
        _ => (1, text),
    };
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.len() > 18 || whole.len() > 24 {
        return None;
    }
    let digits: i128 = format!("{whole}{fraction}").parse().ok()?;
    let mut numerator = digits * sign;
    let mut denominator = 10i128.pow(fraction.len() as u32);
    let (multiplier, divisor): (i128, i128) = match suffix {
        "" => (1, 1),
        "n" => (1, 1_000_000_000),
        "u" => (1, 1_000_000),
        "m" => (1, 1_000),
        "k" => (1_000, 1),
        "M" => (1_000_000, 1),
        "G" => (1_000_000_000, 1),
        "T" => (1_000_000_000_000, 1),
        "P" => (1_000_000_000_000_000, 1),
        "E" => (1_000_000_000_000_000_000, 1),
        "Ki" => (1 << 10, 1),
        "Mi" => (1 << 20, 1),
        "Gi" => (1 << 30, 1),
        "Ti" => (1 << 40, 1),
        "Pi" => (1 << 50, 1),
        "Ei" => (1 << 60, 1),
        exponent => {
            let e: i32 = exponent.strip_prefix(['e', 'E'])?.parse().ok()?;
            if !(-18..=18).contains(&e) {
                return None;
            }
            if e >= 0 {
                (10i128.pow(e as u32), 1)
            } else {
                (1, 10i128.pow((-e) as u32))
            }
        }
    };
    numerator = numerator.checked_mul(multiplier)?;
    denominator = denominator.checked_mul(divisor)?;
    Some((numerator, denominator))
}

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
    fn rounds_up_like_apimachinery() {
        assert_eq!(parse_milli("100m"), Some(100));
        assert_eq!(parse_milli("0.5"), Some(500));
        assert_eq!(parse_milli("2"), Some(2000));
        assert_eq!(parse_milli("1.0001"), Some(1001), "MilliValue rounds up");
        assert_eq!(parse_units("1Gi"), Some(1 << 30));
        assert_eq!(parse_units("1.5Gi"), Some(3 << 29));
        assert_eq!(parse_units("128974848"), Some(128_974_848));
        assert_eq!(parse_units("129e6"), Some(129_000_000));
        assert_eq!(parse_units("123M"), Some(123_000_000));
        assert_eq!(parse_units("100m"), Some(1), "a tenth of a byte is a byte");
        assert_eq!(parse_units("12Zi"), None);
        assert_eq!(parse_units(""), None);
        assert_eq!(parse_units("Gi"), None);
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(format_bytes(8 << 30), "8Gi");
        assert_eq!(format_bytes(7708 << 20), "7.5Gi");
        assert_eq!(format_cpu(250), "250m");
        assert_eq!(format_cpu(4000), "4");
        assert_eq!(format_cpu(3950), "3.95");
    }
}
