//! Resource quantities as read from a manifest, in the units the scheduler counts: CPU in
//! millicores, everything else in whole units, both rounded up away from zero (`MilliValue()`
//! and `Value()` in apimachinery).
//!
//! The parser is [`kubelab_spec::quantity::parse`], the one lab.yaml uses too (the lab model sits
//! below this crate and needs quantities itself). What is added here is the decoding step:
//! apimachinery trims surrounding whitespace when it decodes a quantity from JSON or YAML,
//! so a manifest's `memory: " 1Gi"` is 1Gi, while the same text in lab.yaml is a mistake.

pub use kubelab_spec::quantity::{Amount, QuantityError};

/// A quantity from a manifest, trimmed as the API server's decoder trims it.
pub fn from_manifest(text: &str) -> Result<Amount, QuantityError> {
    kubelab_spec::quantity::parse(text.trim())
}

/// Thousandths, rounded up; `None` for text that is not a quantity or a value past `i64`.
pub fn milli_value(text: &str) -> Option<i64> {
    from_manifest(text).ok()?.milli_value()
}

/// Whole units, rounded up; `None` for text that is not a quantity or a value past `i64`.
pub fn value(text: &str) -> Option<i64> {
    from_manifest(text).ok()?.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_up_like_apimachinery() {
        assert_eq!(milli_value("100m"), Some(100));
        assert_eq!(milli_value("0.5"), Some(500));
        assert_eq!(milli_value("2"), Some(2000));
        assert_eq!(milli_value("1.0001"), Some(1001), "MilliValue rounds up");
        assert_eq!(value("1Gi"), Some(1 << 30));
        assert_eq!(value("1.5Gi"), Some(3 << 29));
        assert_eq!(value("128974848"), Some(128_974_848));
        assert_eq!(value("129e6"), Some(129_000_000));
        assert_eq!(value("123M"), Some(123_000_000));
        assert_eq!(value("100m"), Some(1), "a tenth of a byte is a byte");
        assert_eq!(value("12Zi"), None);
        assert_eq!(value(""), None);
        assert_eq!(value("Gi"), None);
    }

    #[test]
    fn manifests_are_trimmed_as_the_decoder_trims_them() {
        assert_eq!(value(" 1Gi\n"), Some(1 << 30));
        assert_eq!(milli_value("\t250m "), Some(250));
        assert_eq!(value("1 Gi"), None, "inner whitespace is still an error");
    }

    // The planner's old parser rounded towards +∞ and refused exponents past ±18; the
    // API server rounds away from zero and takes any exponent.
    #[test]
    fn where_the_planners_parser_differed() {
        assert_eq!(value("-100m"), Some(-1));
        assert_eq!(value("1e-20"), Some(1));
        assert_eq!(milli_value("0.00000000000000000001e21"), Some(10_000));
        assert_eq!(value("1e19"), None, "past i64: no value, as before");
    }
}
