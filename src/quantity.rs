//! Byte sizes in settings: a whole number of bytes or a Kubernetes quantity
//! string (`256Ki`, `1.5Mi`, `500k`, `1e6`), read exactly, without floats.

use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub const KIB: u64 = 1024;
    pub const MIB: u64 = 1024 * 1024;

    pub fn kib(n: u64) -> Self {
        Self(n * Self::KIB)
    }

    /// Parses a Kubernetes quantity (`<sign><number><suffix>`: `1.5Mi`, `1e6`,
    /// `512000000m`) that is a whole, non-negative number of bytes.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let too_large = || format!("`{text}` is too large");
        let parts = parts(text).map_err(|e| match e {
            Unreadable::NotANumber => {
                format!("`{text}` is not a byte size such as 262144, 256Ki or 1.5Mi")
            }
            Unreadable::UnknownUnit => format!(
                "`{text}` has an unknown unit (use Ki, Mi, Gi, Ti, Pi, Ei, k, M, G, T, P, E, m, u, n or an exponent such as 1e6)"
            ),
            Unreadable::TooLarge => too_large(),
        })?;
        if parts.mantissa == 0 {
            return Ok(Self(0));
        }
        if parts.negative {
            return Err(format!(
                "`{text}` is negative; a size is a whole number of bytes"
            ));
        }
        let scaled = parts
            .mantissa
            .checked_mul(1u128 << parts.exp2)
            .ok_or_else(too_large)?;
        let bytes = if parts.exp10 >= 0 {
            u32::try_from(parts.exp10)
                .ok()
                .and_then(|e| 10u128.checked_pow(e))
                .and_then(|p| scaled.checked_mul(p))
                .ok_or_else(too_large)?
        } else {
            let divisor = u32::try_from(parts.exp10.unsigned_abs())
                .ok()
                .and_then(|e| 10u128.checked_pow(e));
            match divisor {
                Some(d) if scaled % d == 0 => scaled / d,
                _ => return Err(format!("`{text}` is not a whole number of bytes")),
            }
        };
        u64::try_from(bytes).map(Self).map_err(|_| too_large())
    }
}

/// How a quantity is written, which Kubernetes keeps and prints it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Format {
    /// Plain or with a decimal suffix: `100m`, `2`, `1k`.
    DecimalSi,
    /// With a binary suffix: `1Gi`.
    BinarySi,
    /// With an exponent: `1e3`.
    DecimalExponent,
}

/// A quantity's exact value in billionths (finer parts rounded up, as
/// Kubernetes does) and its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount {
    pub nanos: i128,
    pub format: Format,
}

/// Quantities longer than this are not read (compared as written instead):
/// reading one costs its length, and real ones are a few characters.
const MAX_QUANTITY_LENGTH: usize = 64;

/// `None` when `text` is not a quantity, is too long, or is beyond `i128`.
pub fn amount(text: &str) -> Option<Amount> {
    if text.len() > MAX_QUANTITY_LENGTH {
        return None;
    }
    let parts = parts(text).ok()?;
    let format = if parts.exp2 > 0 {
        Format::BinarySi
    } else if parts.exponent_written {
        Format::DecimalExponent
    } else {
        Format::DecimalSi
    };
    if parts.mantissa == 0 {
        return Some(Amount { nanos: 0, format });
    }
    let scaled = i128::try_from(parts.mantissa)
        .ok()?
        .checked_mul(1i128 << parts.exp2)?;
    let exp10 = parts.exp10.checked_add(9)?;
    let power = 10i128.checked_pow(u32::try_from(exp10.unsigned_abs()).ok()?)?;
    let magnitude = if exp10 >= 0 {
        scaled.checked_mul(power)?
    } else {
        let whole = scaled / power;
        if scaled % power == 0 {
            whole
        } else {
            whole + 1
        }
    };
    let nanos = if parts.negative {
        -magnitude
    } else {
        magnitude
    };
    Some(Amount { nanos, format })
}

/// A quantity's value: `mantissa × 10^exp10 × 2^exp2`, negated if `negative`.
struct Parts {
    negative: bool,
    mantissa: u128,
    exp10: i64,
    exp2: u32,
    /// With an exponent (`1e3`), not a suffix.
    exponent_written: bool,
}

enum Unreadable {
    NotANumber,
    UnknownUnit,
    TooLarge,
}

fn parts(text: &str) -> Result<Parts, Unreadable> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let number_end = unsigned
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return Err(Unreadable::NotANumber);
    }
    let mut exponent_written = false;
    let (exp10, exp2): (i64, u32) = match suffix {
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
        _ => match suffix.strip_prefix(['e', 'E']).map(exponent) {
            Some(Some(exp10)) => {
                exponent_written = true;
                (exp10, 0)
            }
            Some(None) => return Err(Unreadable::NotANumber),
            None => return Err(Unreadable::UnknownUnit),
        },
    };
    // Leading zeros add nothing, trailing ones move into the exponent.
    let digits = [whole, fraction].concat();
    let digits = digits.trim_start_matches('0');
    let significant = digits.trim_end_matches('0');
    if significant.is_empty() {
        return Ok(Parts {
            negative,
            mantissa: 0,
            exp10: 0,
            exp2,
            exponent_written,
        });
    }
    let exp10 = i64::try_from(digits.len() - significant.len())
        .ok()
        .and_then(|zeros| exp10.checked_add(zeros))
        .and_then(|e| e.checked_sub(i64::try_from(fraction.len()).ok()?))
        .ok_or(Unreadable::TooLarge)?;
    let mantissa: u128 = significant.parse().map_err(|_| Unreadable::TooLarge)?;
    Ok(Parts {
        negative,
        mantissa,
        exp10,
        exp2,
        exponent_written,
    })
}

/// A decimal exponent's signed digits (`6`, `-3`, `+2`); a huge one is
/// clamped, still far beyond any size.
fn exponent(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let clamped = if text.starts_with('-') {
        -(1 << 40)
    } else {
        1 << 40
    };
    Some(text.parse().unwrap_or(clamped))
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

            /// JSON `1e6` or `1048576.0`: whole values only.
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<ByteSize, E> {
                if n >= 0.0 && n.fract() == 0.0 && n < 9_007_199_254_740_992.0 {
                    Ok(ByteSize(n as u64))
                } else {
                    // Not `{n}`: float formatting would add ~20 KiB to a module.
                    Err(E::custom(
                        "a number with a fraction, negative or this large is not a whole number of bytes",
                    ))
                }
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
    #[case::half_mebibyte("0.5Mi", 524_288)]
    #[case::decimal_mebibytes("1.5Mi", 1_572_864)]
    #[case::leading_point(".5Ki", 512)]
    #[case::trailing_point("2.Ki", 2048)]
    #[case::exponent("1e6", 1_000_000)]
    #[case::capital_exponent("1E3", 1000)]
    #[case::signed_exponent("1.5e+3", 1500)]
    #[case::negative_exponent("2000e-3", 2)]
    #[case::milli("512000000m", 512_000)]
    #[case::tebibyte("1Ti", 1 << 40)]
    #[case::pebibyte("1Pi", 1 << 50)]
    #[case::exbibyte("1Ei", 1 << 60)]
    #[case::terabyte("2T", 2_000_000_000_000)]
    #[case::petabyte("1P", 1_000_000_000_000_000)]
    #[case::exabyte("1E", 1_000_000_000_000_000_000)]
    #[case::plus_sign("+4Ki", 4096)]
    #[case::negative_zero("-0", 0)]
    #[case::zero_huge_exponent("0e99999999999999999999", 0)]
    #[case::many_zeros(
        "0000000000000000000000000000000000000000001.000000000000000000000000000000000000000Ki",
        1024
    )]
    fn parses(#[case] text: &str, #[case] bytes: u64) {
        assert_eq!(ByteSize::parse(text), Ok(ByteSize(bytes)));
    }

    #[rstest]
    #[case::negative("-1", "negative")]
    #[case::unit("12Kb", "unknown unit")]
    #[case::empty("", "not a byte size")]
    #[case::overflow("99999999999999999999Gi", "too large")]
    #[case::sixteen_exbibytes("16Ei", "too large")]
    #[case::huge_exponent("1e99999999999999999999", "too large")]
    #[case::fraction_of_a_byte("0.5", "not a whole number of bytes")]
    #[case::milli_fraction("1m", "not a whole number of bytes")]
    #[case::tiny_exponent("1e-99999999999999999999", "not a whole number of bytes")]
    #[case::negative_quantity("-1Ki", "negative")]
    #[case::lone_point(".Ki", "not a byte size")]
    #[case::two_points("1.2.3", "not a byte size")]
    #[case::exponent_without_digits("1e", "not a byte size")]
    #[case::fractional_exponent("1e1.5", "not a byte size")]
    #[case::lowercase_binary("1ki", "unknown unit")]
    fn refuses(#[case] text: &str, #[case] reason: &str) {
        let error = ByteSize::parse(text).unwrap_err();
        assert!(error.contains(reason) && error.contains(text), "{error}");
    }

    #[rstest]
    #[case::whole("2", Some((2_000_000_000, Format::DecimalSi)))]
    #[case::milli("100m", Some((100_000_000, Format::DecimalSi)))]
    #[case::fraction("0.1", Some((100_000_000, Format::DecimalSi)))]
    #[case::nano("1n", Some((1, Format::DecimalSi)))]
    #[case::micro("1.5u", Some((1_500, Format::DecimalSi)))]
    #[case::kilo("1k", Some((1_000_000_000_000, Format::DecimalSi)))]
    #[case::binary("1Gi", Some((1_073_741_824_000_000_000, Format::BinarySi)))]
    #[case::exponent("1e3", Some((1_000_000_000_000, Format::DecimalExponent)))]
    #[case::negative("-1m", Some((-1_000_000, Format::DecimalSi)))]
    #[case::zero_huge_exponent("0e999999", Some((0, Format::DecimalExponent)))]
    #[case::finer_than_nano_rounded_up("0.1n", Some((1, Format::DecimalSi)))]
    #[case::beyond_i128("1e40", None)]
    #[case::too_long(&["1", &"0".repeat(64)].concat(), None)]
    #[case::not_a_quantity("lots", None)]
    #[case::unknown_unit("1Kb", None)]
    #[case::exa("1E", Some((1_000_000_000_000_000_000_000_000_000, Format::DecimalSi)))]
    fn amounts_are_exact(#[case] text: &str, #[case] expected: Option<(i128, Format)>) {
        assert_eq!(amount(text).map(|a| (a.nanos, a.format)), expected);
    }

    #[rstest]
    #[case::number("4096", 4096)]
    #[case::string("\"4Ki\"", 4096)]
    #[case::float_exponent("1e6", 1_000_000)]
    #[case::whole_float("1024.0", 1024)]
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

    #[rstest]
    #[case::fraction("0.5")]
    #[case::negative("-1.0")]
    #[case::huge("1e300")]
    fn non_whole_numbers_are_refused(#[case] json: &str) {
        assert!(serde_json::from_str::<ByteSize>(json).is_err());
    }
}
