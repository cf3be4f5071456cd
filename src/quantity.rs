//! Byte sizes in settings: a whole number of bytes or a Kubernetes quantity
//! string with a binary or decimal suffix (`256Ki`, `1Mi`, `500k`).

use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub const KIB: u64 = 1024;
    pub const MIB: u64 = 1024 * 1024;

    pub fn kib(n: u64) -> Self {
        Self(n * Self::KIB)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let digits_end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, suffix) = text.split_at(digits_end);
        let number: u64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a byte size such as 262144 or 256Ki"))?;
        let unit: u64 = match suffix {
            "" => 1,
            "k" => 1_000,
            "M" => 1_000_000,
            "G" => 1_000_000_000,
            "Ki" => Self::KIB,
            "Mi" => Self::MIB,
            "Gi" => 1024 * Self::MIB,
            _ => {
                return Err(format!(
                    "`{text}` has an unknown unit (use Ki, Mi, Gi, k, M or G)"
                ))
            }
        };
        number
            .checked_mul(unit)
            .map(Self)
            .ok_or_else(|| format!("`{text}` is too large"))
    }
}

impl std::fmt::Display for ByteSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bytes = self.0;
        if bytes >= Self::MIB && bytes.is_multiple_of(Self::KIB) {
            let (whole, tenth) = tenths(bytes, Self::MIB);
            write!(f, "{bytes} bytes ({whole}.{tenth} MiB)")
        } else if bytes >= Self::KIB {
            let (whole, tenth) = tenths(bytes, Self::KIB);
            write!(f, "{bytes} bytes ({whole}.{tenth} KiB)")
        } else {
            write!(f, "{bytes} bytes")
        }
    }
}

/// `bytes / unit` to one decimal, rounded as `{:.1}` rounds a float (ties to
/// even), without bringing float formatting into a module.
fn tenths(bytes: u64, unit: u64) -> (u128, u128) {
    let (scaled, unit) = (u128::from(bytes) * 10, u128::from(unit));
    let (mut tenths, rest) = (scaled / unit, scaled % unit);
    if rest * 2 > unit || (rest * 2 == unit && tenths % 2 == 1) {
        tenths += 1;
    }
    (tenths / 10, tenths % 10)
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ByteSizeVisitor;

        impl serde::de::Visitor<'_> for ByteSizeVisitor {
            type Value = ByteSize;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a non-negative whole number of bytes or a quantity such as 256Ki")
            }

            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(n))
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ByteSize, E> {
                ByteSize::parse(text).map_err(E::custom)
            }
        }

        deserializer.deserialize_any(ByteSizeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn tenths_round_as_float_formatting_does() {
        let sizes = (0..=3 * ByteSize::MIB).chain((0..=4096).map(|k| (1 << 40) + k * 51));
        for bytes in sizes {
            for unit in [ByteSize::KIB, ByteSize::MIB] {
                let (whole, tenth) = tenths(bytes, unit);
                assert_eq!(
                    format!("{whole}.{tenth}"),
                    format!("{:.1}", bytes as f64 / unit as f64),
                    "{bytes} / {unit}"
                );
            }
        }
    }

    #[rstest]
    #[case::bytes("1024", 1024)]
    #[case::kibibytes("256Ki", 262_144)]
    #[case::mebibytes("1Mi", 1_048_576)]
    #[case::kilobytes("500k", 500_000)]
    fn parses(#[case] text: &str, #[case] bytes: u64) {
        assert_eq!(ByteSize::parse(text), Ok(ByteSize(bytes)));
    }

    #[rstest]
    #[case::negative("-1")]
    #[case::unit("12Kb")]
    #[case::empty("")]
    #[case::overflow("99999999999999999999Gi")]
    fn refuses(#[case] text: &str) {
        assert!(ByteSize::parse(text).is_err());
    }

    #[rstest]
    #[case::number("4096", 4096)]
    #[case::string("\"4Ki\"", 4096)]
    fn deserialises(#[case] json: &str, #[case] bytes: u64) {
        assert_eq!(
            serde_json::from_str::<ByteSize>(json).ok(),
            Some(ByteSize(bytes))
        );
    }

    #[test]
    fn negative_numbers_are_refused() {
        assert!(serde_json::from_str::<ByteSize>("-5").is_err());
    }
}
