//! Kubernetes resource quantities (`16Gi`, `500m`, `1e3`): kubelab's one parser, for lab.yaml
//! and (through `kubelab_manifests::quantity`) for the manifests the linter and planner read.
//!
//! Parsed by hand because only the value is needed (no arithmetic types or round-tripping) and
//! the grammar is small and fixed by k8s.io/apimachinery's `resource.Quantity`:
//! `<sign?><digits>[.<digits>]<suffix>` where the suffix is a binary SI unit (Ki…Ei), a decimal
//! SI unit (n, u, m, "", k, M, G, T, P, E) or a decimal exponent (`e3`, `E-2`). Values are kept
//! exact (decimal digits, not floats) because the scheduler counts in rounded-up millicores and
//! bytes, and a float cannot say which way `1.0001` rounds.

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// A quantity as written in lab.yaml, kept verbatim so renderers emit exactly what the user
/// wrote; [`Quantity::value`] gives its numeric value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Quantity(pub String);

impl Quantity {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The numeric value (bytes for memory and storage, cores for CPU), or `None` when the text
    /// is not a valid quantity.
    pub fn value(&self) -> Option<f64> {
        parse_quantity(&self.0)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Kubernetes accepts a bare number too (int-or-string), meaning the base unit.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Int(i64),
            Float(f64),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Text(s) => Quantity(s),
            Raw::Int(i) => Quantity(i.to_string()),
            Raw::Float(f) => Quantity(f.to_string()),
        })
    }
}

impl JsonSchema for Quantity {
    fn schema_name() -> Cow<'static, str> {
        "Quantity".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["string", "number"],
            "description": "A Kubernetes quantity such as 16Gi, 500Mi, 100G or 1.5.",
        })
    }
}

/// Why a text is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("a quantity cannot be empty")]
    Empty,
    #[error("`{0}` has no number before its suffix")]
    NoNumber(String),
    #[error("`{text}` has an unknown suffix `{suffix}` (binary Ki…Ei, decimal n, u, m, k, M, G, T, P, E, or an exponent such as e3)")]
    Suffix { text: String, suffix: String },
}

/// A quantity's exact value, as apimachinery's `ParseQuantity` holds it: `digits × 10^exponent`
/// with the sign apart, rounded up (away from zero) to nano units, binary amounts capped at
/// 2^63−1. Decimal digits rather than a float so that `1.0001` CPUs is 1001 millicores, not
/// 1000.0999…, and a rounding direction can be honoured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount {
    negative: bool,
    /// Most significant first, no leading or trailing zeros; empty for zero.
    digits: Vec<u8>,
    exponent: i64,
}

/// apimachinery rounds every quantity up to this many decimal places (nano units).
const FINEST_EXPONENT: i64 = -9;

/// Parses a quantity the way the API server does (`<sign?><number><suffix>`, the grammar on
/// apimachinery's `Quantity`), with two deliberate differences: text without a digit (`Gi`,
/// `.`, `+`, `e3`) is rejected where apimachinery's scanner reads it as zero, and exponents
/// outside `i32` are rejected where apimachinery silently wraps them. Both are typos, never
/// intended quantities. Whitespace is not trimmed: manifests trim before parsing (see
/// `kubelab_manifests::quantity`), lab.yaml does not.
pub fn parse(text: &str) -> Result<Amount, QuantityError> {
    if text.is_empty() {
        return Err(QuantityError::Empty);
    }
    let (negative, rest) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let whole_end = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (whole, rest) = rest.split_at(whole_end);
    let (fraction, suffix) = match rest.strip_prefix('.') {
        Some(after) => after.split_at(after.bytes().take_while(u8::is_ascii_digit).count()),
        None => ("", rest),
    };
    if whole.is_empty() && fraction.is_empty() {
        return Err(QuantityError::NoNumber(text.to_string()));
    }
    let (decimal_exponent, binary_exponent) =
        suffix_exponents(suffix).ok_or_else(|| QuantityError::Suffix {
            text: text.to_string(),
            suffix: suffix.to_string(),
        })?;
    let mut digits: Vec<u8> = whole
        .bytes()
        .chain(fraction.bytes())
        .map(|b| b - b'0')
        .skip_while(|&d| d == 0)
        .collect();
    let mut exponent = decimal_exponent - fraction.len() as i64;
    if binary_exponent > 0 {
        multiply(&mut digits, 1u64 << binary_exponent);
    }
    normalize(&mut digits, &mut exponent);
    if exponent < FINEST_EXPONENT {
        // Rounded up to the smallest representable step, as "you asked for some, you get some".
        let dropped = (FINEST_EXPONENT - exponent) as usize;
        digits.truncate(digits.len().saturating_sub(dropped));
        increment(&mut digits);
        exponent = FINEST_EXPONENT;
        normalize(&mut digits, &mut exponent);
    }
    let mut amount = Amount {
        negative: negative && !digits.is_empty(),
        digits,
        exponent,
    };
    if binary_exponent > 0 && amount.exceeds_i64() {
        amount.digits = i64::MAX.to_string().bytes().map(|b| b - b'0').collect();
        amount.exponent = 0;
    }
    Ok(amount)
}

/// (power of ten, power of two) a suffix stands for.
fn suffix_exponents(suffix: &str) -> Option<(i64, u32)> {
    Some(match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        other => {
            let exponent = other.strip_prefix(['e', 'E'])?;
            let unsigned = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (i64::from(exponent.parse::<i32>().ok()?), 0)
        }
    })
}

/// `digits *= factor`, in place.
fn multiply(digits: &mut Vec<u8>, factor: u64) {
    let mut carry: u128 = 0;
    for d in digits.iter_mut().rev() {
        let product = u128::from(*d) * u128::from(factor) + carry;
        *d = (product % 10) as u8;
        carry = product / 10;
    }
    while carry > 0 {
        digits.insert(0, (carry % 10) as u8);
        carry /= 10;
    }
}

/// `digits += 1`, in place.
fn increment(digits: &mut Vec<u8>) {
    for d in digits.iter_mut().rev() {
        if *d == 9 {
            *d = 0;
        } else {
            *d += 1;
            return;
        }
    }
    digits.insert(0, 1);
}

/// Moves trailing zeros into the exponent, so "no digits after a cut" means "nothing cut".
fn normalize(digits: &mut Vec<u8>, exponent: &mut i64) {
    while digits.last() == Some(&0) {
        digits.pop();
        *exponent += 1;
    }
    if digits.is_empty() {
        *exponent = 0;
    }
}

impl Amount {
    /// The value in whole units, rounded up away from zero (apimachinery's `Value()`); `None`
    /// when that does not fit an `i64` (apimachinery's result is undefined there).
    pub fn value(&self) -> Option<i64> {
        self.scaled(0)
    }

    /// The value in thousandths, rounded up away from zero (apimachinery's `MilliValue()`).
    pub fn milli_value(&self) -> Option<i64> {
        self.scaled(3)
    }

    /// The nearest `f64`, for sizes people read and budgets that are estimates anyway.
    pub fn as_f64(&self) -> f64 {
        if self.digits.is_empty() {
            return 0.0;
        }
        let digits: String = self.digits.iter().map(|d| char::from(b'0' + d)).collect();
        let sign = if self.negative { "-" } else { "" };
        // Rust's float parser rounds a decimal string correctly, however long.
        format!("{sign}{digits}e{}", self.exponent)
            .parse()
            .unwrap_or(f64::NAN)
    }

    /// `value × 10^shift`, rounded up away from zero.
    fn scaled(&self, shift: i64) -> Option<i64> {
        let exponent = self.exponent + shift;
        let (kept, cut) = if exponent >= 0 {
            (self.digits.len(), false)
        } else {
            let drop = usize::try_from(-exponent).unwrap_or(usize::MAX);
            let kept = self.digits.len().saturating_sub(drop);
            (kept, kept < self.digits.len())
        };
        let zeros = usize::try_from(exponent.max(0)).ok()?;
        if kept + zeros > 19 {
            return None;
        }
        let mut magnitude: u128 = 0;
        for &d in &self.digits[..kept] {
            magnitude = magnitude * 10 + u128::from(d);
        }
        magnitude = magnitude.checked_mul(10u128.checked_pow(u32::try_from(zeros).ok()?)?)?;
        // Normalized digits end in a non-zero digit, so anything cut is a fraction to round.
        magnitude += u128::from(cut);
        let magnitude = i64::try_from(magnitude).ok()?;
        Some(if self.negative { -magnitude } else { magnitude })
    }

    /// Rounding up cannot cross an integer, so "does not fit rounded up" is "exceeds".
    fn exceeds_i64(&self) -> bool {
        self.scaled(0).is_none()
    }
}

/// Parses a quantity to its value; `None` for anything [`parse`] rejects.
pub fn parse_quantity(text: &str) -> Option<f64> {
    parse(text).ok().map(|amount| amount.as_f64())
}

/// Formats bytes the way an operator reads them (`6.8 GiB`).
pub fn format_bytes(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} {}", units[unit])
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binary_decimal_and_exponent_forms() {
        assert_eq!(parse_quantity("16Gi"), Some(16.0 * 1_073_741_824.0));
        assert_eq!(parse_quantity("200M"), Some(200e6));
        assert_eq!(parse_quantity("500m"), Some(0.5));
        assert_eq!(parse_quantity("1.5"), Some(1.5));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("2E-2"), Some(0.02));
        assert_eq!(parse_quantity(".5Gi"), Some(0.5 * 1_073_741_824.0));
        assert_eq!(parse_quantity("-1"), Some(-1.0));
    }

    #[test]
    fn rejects_what_kubernetes_rejects() {
        for bad in [
            "", "Gi", "16GB", "16 Gi", "1.2.3", "16gi", "e3", "1e", "1e+", "+", ".",
        ] {
            assert_eq!(parse_quantity(bad), None, "{bad:?} must be rejected");
        }
    }

    #[test]
    fn value_and_milli_value_round_up_away_from_zero() {
        let units = |t: &str| parse(t).ok().and_then(|a| a.value());
        let milli = |t: &str| parse(t).ok().and_then(|a| a.milli_value());
        assert_eq!(milli("1.0001"), Some(1001), "MilliValue rounds up");
        assert_eq!(units("100m"), Some(1), "a tenth of a byte is a byte");
        assert_eq!(units("-100m"), Some(-1), "away from zero, not towards +∞");
        assert_eq!(milli("-0.0001"), Some(-1));
        assert_eq!(units("1.5Gi"), Some(3 << 29));
        assert_eq!(units("0"), Some(0));
        assert_eq!(units("-0"), Some(0));
        assert_eq!(units("9223372036854775807"), Some(i64::MAX));
        assert_eq!(units("9223372036854775808"), None, "beyond i64: no value");
        assert_eq!(milli("9223372036854775807"), None);
    }

    // Cases where the two parsers kubelab had (an f64 one for lab.yaml, an exact one in the
    // planner) disagreed; the answers are apimachinery's.
    #[test]
    fn exponents_beyond_eighteen_are_quantities() {
        assert_eq!(parse("1e19").ok().map(|a| a.as_f64()), Some(1e19));
        assert_eq!(
            parse("0.001e21").ok().and_then(|a| a.value()),
            Some(10i64.pow(18))
        );
        assert_eq!(parse("1e-19").ok().and_then(|a| a.milli_value()), Some(1));
        assert_eq!(
            parse("1e2147483648"),
            Err(QuantityError::Suffix {
                text: "1e2147483648".into(),
                suffix: "e2147483648".into()
            })
        );
    }

    #[test]
    fn long_numbers_keep_their_precision() {
        // More than 18 fraction digits or 24 whole digits: still a quantity.
        let long_fraction = "0.1000000000000000000001";
        assert_eq!(
            parse(long_fraction).ok().and_then(|a| a.milli_value()),
            Some(101)
        );
        let whole = "1000000000000000000000000000";
        assert_eq!(parse(whole).ok().map(|a| a.as_f64()), Some(1e27));
        // The float parser lost the last step; the exact one rounds it up.
        assert_eq!(
            parse("1.000000000000000001").ok().and_then(|a| a.value()),
            Some(2)
        );
    }

    #[test]
    fn below_a_nano_rounds_up_to_one_nano() {
        assert_eq!(parse_quantity("0.1n"), Some(1e-9));
        assert_eq!(parse_quantity("-0.1n"), Some(-1e-9));
    }

    #[test]
    fn binary_amounts_are_capped_at_the_largest_int64() {
        assert_eq!(parse("9Ei").ok().and_then(|a| a.value()), Some(i64::MAX));
        assert_eq!(parse("-9Ei").ok().and_then(|a| a.value()), Some(-i64::MAX));
        // Decimal ones are not (apimachinery caps only BinarySI).
        assert_eq!(parse("10E").ok().and_then(|a| a.value()), None);
    }

    #[test]
    fn whitespace_is_not_part_of_a_quantity() {
        for text in [" 1Gi", "1Gi ", "\t1"] {
            assert!(parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn formats_bytes_in_binary_units() {
        assert_eq!(format_bytes(7.0 * 1_073_741_824.0), "7.0 GiB");
        assert_eq!(format_bytes(512.0), "512 B");
    }
}
