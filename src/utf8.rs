//! UTF-8 checking of requests and lookup answers, 64 bytes a step where they
//! are ASCII (all of them but a few strings). core's check reads four-byte
//! words on wasm32: on a large request it cost 60% as much as serde_json's
//! reading of it.

/// `std::str::from_utf8`: the same answer, and the same error.
pub fn from_utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    let ascii = ascii_prefix(bytes);
    match bytes.get(ascii..).map(std::str::from_utf8) {
        // SAFETY: `bytes[..ascii]` is ASCII, so it ends on a character
        // boundary, and `bytes[ascii..]` is valid UTF-8: so is the whole.
        Some(Ok(_)) => Ok(unsafe { std::str::from_utf8_unchecked(bytes) }),
        _ => std::str::from_utf8(bytes),
    }
}

const BLOCK: usize = 64;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Length of the longest prefix of whole blocks that is all ASCII.
fn ascii_prefix(bytes: &[u8]) -> usize {
    let mut length = 0;
    for block in bytes.chunks_exact(BLOCK) {
        // Spelled out, so that every opt-level reads a block in eight loads.
        let any = word(block, 0)
            | word(block, 8)
            | word(block, 16)
            | word(block, 24)
            | word(block, 32)
            | word(block, 40)
            | word(block, 48)
            | word(block, 56);
        if any & HIGH_BITS != 0 {
            break;
        }
        length += BLOCK;
    }
    length
}

/// The eight bytes of `block` at `at`; all high bits set past its end.
#[inline(always)]
fn word(block: &[u8], at: usize) -> u64 {
    block
        .get(at..at + 8)
        .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        .map_or(HIGH_BITS, u64::from_ne_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn same_as_core(bytes: &[u8]) {
        assert_eq!(from_utf8(bytes), std::str::from_utf8(bytes), "{bytes:?}");
    }

    #[rstest]
    #[case::empty(b"".to_vec())]
    #[case::short_ascii(b"{\"a\":1}".to_vec())]
    #[case::one_block(vec![b'x'; BLOCK])]
    #[case::blocks_and_a_tail(vec![b'x'; 100])]
    #[case::multibyte("{\"name\":\"d\u{e9}j\u{e0}-vu \u{1f600}\"}".repeat(5).into_bytes())]
    #[case::invalid_first_byte(b"\xff{}".to_vec())]
    #[case::cut_at_the_end([vec![b'x'; 40], vec![0xe2, 0x82]].concat())]
    fn agrees_with_core(#[case] bytes: Vec<u8>) {
        same_as_core(&bytes);
    }

    /// Every placement of a valid, an invalid and a cut multibyte character
    /// around the block boundaries of ASCII text.
    #[rstest]
    #[case::two_bytes(&[0xc3, 0xa9])]
    #[case::four_bytes(&[0xf0, 0x9f, 0x98, 0x80])]
    #[case::lone_continuation(&[0x80])]
    #[case::cut_three_bytes(&[0xe2, 0x82])]
    #[case::overlong(&[0xc0, 0xaf])]
    #[case::surrogate(&[0xed, 0xa0, 0x80])]
    #[case::invalid_byte(&[0xff])]
    fn agrees_with_core_at_every_offset(#[case] inserted: &[u8]) {
        for length in [31, 63, 64, 65, 127, 128, 129, 200] {
            for at in 0..=length {
                let mut bytes = vec![b'a'; length];
                bytes.splice(at..at, inserted.iter().copied());
                same_as_core(&bytes);
            }
        }
    }
}
