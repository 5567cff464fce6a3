//! Kubernetes resource quantities (`16Gi`, `500m`, `1e3`).
//!
//! Parsed by hand because only the value is needed (no arithmetic types or round-tripping) and
//! the grammar is small and fixed by k8s.io/apimachinery's `resource.Quantity`:
//! `<sign?><digits>[.<digits>]<suffix>` where the suffix is a binary SI unit (Ki…Ei), a decimal
//! SI unit (n, u, m, "", k, M, G, T, P, E) or a decimal exponent (`e3`, `E-2`).

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

const BINARY_SUFFIXES: [(&str, f64); 6] = [
    ("Ki", 1024.0),
    ("Mi", 1_048_576.0),
    ("Gi", 1_073_741_824.0),
    ("Ti", 1_099_511_627_776.0),
    ("Pi", 1_125_899_906_842_624.0),
    ("Ei", 1_152_921_504_606_846_976.0),
];

const DECIMAL_SUFFIXES: [(&str, f64); 9] = [
    ("n", 1e-9),
    ("u", 1e-6),
    ("m", 1e-3),
    ("k", 1e3),
    ("M", 1e6),
    ("G", 1e9),
    ("T", 1e12),
    ("P", 1e15),
    ("E", 1e18),
];

/// Parses a quantity to its value; `None` for anything the Kubernetes API would reject.
pub fn parse_quantity(text: &str) -> Option<f64> {
    let number_end = text
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && matches!(c, '+' | '-'))))
        .map_or(text.len(), |(i, _)| i);
    let (number, suffix) = text.split_at(number_end);
    let digits = number.trim_start_matches(['+', '-']);
    let valid_number = !digits.is_empty()
        && digits != "."
        && digits.matches('.').count() <= 1
        && digits.chars().any(|c| c.is_ascii_digit());
    if !valid_number {
        return None;
    }
    let base: f64 = number.parse().ok()?;
    let multiplier = if suffix.is_empty() {
        1.0
    } else if let Some(&(_, m)) = BINARY_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
        m
    } else if let Some(&(_, m)) = DECIMAL_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
        m
    } else {
        let exponent = suffix.strip_prefix(['e', 'E'])?;
        let exp_digits = exponent.trim_start_matches(['+', '-']);
        if exp_digits.is_empty() || !exp_digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        10f64.powi(exponent.parse::<i32>().ok()?)
    };
    Some(base * multiplier)
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
    fn formats_bytes_in_binary_units() {
        assert_eq!(format_bytes(7.0 * 1_073_741_824.0), "7.0 GiB");
        assert_eq!(format_bytes(512.0), "512 B");
    }
}
