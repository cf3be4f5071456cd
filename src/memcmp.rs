//! `memcmp` eight bytes at a time, for the policy modules.
//!
//! Every string comparison (serde matching field names, label keys, resource
//! names) ends in `memcmp`. wasi-libc's compares one byte per iteration; a
//! module defines this one instead (the linker then takes no `memcmp` from
//! libc).

/// Compares `a` and `b` over the shorter length as `memcmp` does: negative,
/// zero or positive as the first differing byte (unsigned) is smaller,
/// absent, or larger.
pub fn compare(a: &[u8], b: &[u8]) -> i32 {
    let mut words_a = a.chunks_exact(8);
    let mut words_b = b.chunks_exact(8);
    for (x, y) in (&mut words_a).zip(&mut words_b) {
        // Big-endian, so that the first differing byte decides the order.
        let x = u64::from_be_bytes(<[u8; 8]>::try_from(x).unwrap_or_default());
        let y = u64::from_be_bytes(<[u8; 8]>::try_from(y).unwrap_or_default());
        if x != y {
            return if x < y { -1 } else { 1 };
        }
    }
    for (x, y) in words_a.remainder().iter().zip(words_b.remainder()) {
        if x != y {
            return i32::from(*x) - i32::from(*y);
        }
    }
    0
}

/// The C function, replacing wasi-libc's.
///
/// # Safety
/// `a` and `b` must be valid for reads of `n` bytes, as for C's `memcmp`.
#[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
#[no_mangle]
#[inline(never)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    if n == 0 {
        return 0;
    }
    // SAFETY: the caller guarantees `n` readable bytes at each pointer.
    unsafe {
        compare(
            std::slice::from_raw_parts(a, n),
            std::slice::from_raw_parts(b, n),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn sign(ordering: std::cmp::Ordering) -> i32 {
        ordering as i32
    }

    #[rstest]
    #[case::empty(b"", b"")]
    #[case::equal_short(b"name", b"name")]
    #[case::equal_words(b"apiVersion.kubernetes", b"apiVersion.kubernetes")]
    #[case::differs_in_first_word(b"metadata", b"metadatb")]
    #[case::differs_in_remainder(b"namespaceSelector", b"namespaceSelectoR")]
    #[case::high_bytes(
        b"\xff\x00\x00\x00\x00\x00\x00\x00",
        b"\x00\xff\x00\x00\x00\x00\x00\x00"
    )]
    fn compares_as_slices_order(#[case] a: &[u8], #[case] b: &[u8]) {
        assert_eq!(compare(a, b).signum(), sign(a.cmp(b)));
        assert_eq!(compare(b, a).signum(), sign(b.cmp(a)));
    }

    #[test]
    fn every_differing_byte_at_every_offset_orders_as_slices_do() {
        let base: Vec<u8> = (0u8..24).map(|i| i.wrapping_mul(37)).collect();
        for len in 0..=base.len() {
            let a = &base[..len];
            assert_eq!(compare(a, a), 0);
            for at in 0..len {
                for value in [0u8, 1, 0x7f, 0x80, 0xfe, 0xff] {
                    let mut b = a.to_vec();
                    b[at] = value;
                    assert_eq!(compare(a, &b).signum(), sign(a.cmp(&b[..])), "{len} {at}");
                    assert_eq!(compare(&b, a).signum(), sign(b[..].cmp(a)), "{len} {at}");
                }
            }
        }
    }
}
