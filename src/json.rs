//! The JSON reader every request, lookup answer and settings document is
//! decoded with: a serde `Deserializer` in place of serde_json's.
//!
//! It reads every document serde_json reads, to the same values (numbers
//! to the same bits), and refuses what serde_json refuses in serde_json's
//! words and positions (`... at line 1 column 20`), which
//! [`crate::json_path`] turns into the offending field's path. On purpose it
//! differs in two ways: a struct is read from an object only, never from an
//! array of its fields, so no module carries serde's positional decoders,
//! and an enum from a string only, so another value is refused as
//! `invalid type: ..., expected enum ...` where serde_json says
//! `expected value`.
//!
//! Its shape is set by size as much as speed (BENCHMARKS-HISTORY.md,
//! sessions 51 and 52): a key without escapes after a bare comma, and its
//! colon, are read inline in every decoder; each struct and sequence is
//! decoded by a function of its own (`deserialize_map`, `deserialize_seq`),
//! not inlined into every place that holds one; a scalar is read by the
//! reader of its type, anything else refused by one shared function; and
//! skipping, one function, inlines its string scan.

use serde::de::{self, DeserializeSeed, Expected, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::forward_to_deserialize_any;

pub type Error = serde_json::Error;
type Result<T> = std::result::Result<T, Error>;

/// serde_json's nesting limit: 127 arrays or objects deep.
const DEPTH: u32 = 127;
/// The name under which serde_json's `RawValue` asks for its text.
const RAW_VALUE: &str = "$serde_json::private::RawValue";

/// Decodes `seed` from `json`, which holds one value and nothing after it but
/// whitespace.
pub fn from_str_seed<'a, S: DeserializeSeed<'a>>(json: &'a str, seed: S) -> Result<S::Value> {
    let mut reader = Reader {
        text: json,
        pos: 0,
        depth: 0,
    };
    let value = seed
        .deserialize(&mut reader)
        .map_err(|e| reader.locate(e))?;
    match reader.peek() {
        None => Ok(value),
        Some(_) => Err(reader.fail("trailing characters")),
    }
}

/// Decodes a `T` from `json`.
pub fn from_str<'a, T: de::Deserialize<'a>>(json: &'a str) -> Result<T> {
    from_str_seed(json, std::marker::PhantomData::<T>)
}

/// `message` at `offset` of `text`, as serde_json words a position (a
/// 1-based line, a 0-based byte column); serde_json's `Error::custom` reads
/// the position back from this form.
#[cold]
#[inline(never)]
fn error_at(text: &str, offset: usize, message: &dyn std::fmt::Display) -> Error {
    let before = text.as_bytes().get(..offset).unwrap_or_default();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |newline| newline + 1);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let column = offset - line_start;
    de::Error::custom(format_args!("{message} at line {line} column {column}"))
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
    depth: u32,
}

/// A string as read: borrowed unless it held escapes.
enum Str<'a> {
    Borrowed(&'a str),
    Owned(String),
}

impl<'a> Str<'a> {
    fn visit<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value>
    where
        'a: 'de,
    {
        match self {
            Str::Borrowed(text) => visitor.visit_borrowed_str(text),
            Str::Owned(text) => visitor.visit_string(text),
        }
    }
}

/// The first byte from `at` that ends a string's plain run (a quote, a
/// backslash or a control character), eight bytes at a time; `bytes.len()`
/// if none.
#[inline(always)]
fn plain_run_end(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = u64::MAX / 255;
    while let Some(word) = bytes
        .get(at..at + 8)
        .and_then(|chunk| <[u8; 8]>::try_from(chunk).ok())
    {
        let w = u64::from_le_bytes(word);
        let quote = w ^ (ONES * u64::from(b'"'));
        let backslash = w ^ (ONES * u64::from(b'\\'));
        let stop = (w.wrapping_sub(ONES * 0x20) & !w)
            | (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash);
        let stop = stop & (ONES << 7);
        if stop != 0 {
            return at + (stop.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while let Some(&b) = bytes.get(at) {
        if b < 0x20 || b == b'"' || b == b'\\' {
            break;
        }
        at += 1;
    }
    at
}

/// [`plain_run_end`] for a key, as a call: inlined into every decoder it
/// made system-networkpolicy 5.5 KB larger for 0.3% off object-count.
#[inline(never)]
fn key_end(bytes: &[u8], at: usize) -> usize {
    plain_run_end(bytes, at)
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// What an integer's digits are, if they fit: serde_json's kinds of number.
enum Number {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
}

impl<'a> Reader<'a> {
    /// The next byte after whitespace, not consumed.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        let bytes = self.text.as_bytes();
        let mut at = self.pos;
        while let Some(&b) = bytes.get(at) {
            if !is_space(b) {
                self.pos = at;
                return Some(b);
            }
            at += 1;
        }
        self.pos = at;
        None
    }

    /// A syntax error at the byte at `pos` (column counted to include it).
    #[cold]
    #[inline(never)]
    fn fail(&self, message: &str) -> Error {
        let offset = (self.pos + 1).min(self.text.len());
        error_at(self.text, offset, &message)
    }

    /// An error at `pos` (column counted to the byte before it).
    #[cold]
    #[inline(never)]
    fn fail_here(&self, message: &str) -> Error {
        error_at(self.text, self.pos.min(self.text.len()), &message)
    }

    /// `message` at `pos`, or `eof` when the text ended.
    #[cold]
    fn fail_or_eof_here(&self, message: &str, eof: &str) -> Error {
        self.fail_here(if self.pos < self.text.len() {
            message
        } else {
            eof
        })
    }

    /// `message`, or `eof` when the text ended.
    #[cold]
    fn fail_or_eof(&self, message: &str, eof: &str) -> Error {
        self.fail(if self.pos < self.text.len() {
            message
        } else {
            eof
        })
    }

    /// `error` with the position reading stopped at, unless it has one.
    #[cold]
    fn locate(&self, error: Error) -> Error {
        if error.line() == 0 {
            error_at(self.text, self.pos.min(self.text.len()), &error)
        } else {
            error
        }
    }

    /// A container's visitor's own `error`, placed as serde_json places it:
    /// after the container's closing bracket if that was read or comes next
    /// (a missing field), else where reading stopped.
    #[cold]
    fn refused(&mut self, error: Error, close: u8, closed: bool) -> Error {
        if error.line() == 0 && !closed && self.peek() == Some(close) {
            self.pos += 1;
        }
        self.locate(error)
    }

    /// Consumes the closing bracket of a container whose visitor stopped
    /// before it (a tuple), as serde_json does.
    #[cold]
    fn close(&mut self, close: u8, eof: &str) -> Result<()> {
        match self.peek() {
            Some(b) if b == close => {
                self.pos += 1;
                Ok(())
            }
            Some(b',') if close == b']' => {
                self.pos += 1;
                match self.peek() {
                    Some(b']') => Err(self.fail("trailing comma")),
                    _ => Err(self.fail("trailing characters")),
                }
            }
            Some(b',') => Err(self.fail("trailing comma")),
            Some(_) => Err(self.fail("trailing characters")),
            None => Err(self.fail(eof)),
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > DEPTH {
            return Err(self.fail("recursion limit exceeded"));
        }
        self.pos += 1;
        Ok(())
    }

    /// A string's text; `pos` is just after its opening quote.
    #[inline]
    fn string(&mut self) -> Result<Str<'a>> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let at = plain_run_end(bytes, start);
        match (bytes.get(at), self.text.get(start..at)) {
            (Some(b'"'), Some(text)) => {
                self.pos = at + 1;
                Ok(Str::Borrowed(text))
            }
            _ => {
                self.pos = start;
                self.escaped().map(Str::Owned)
            }
        }
    }

    /// The rest of a string that holds escapes, or a fault; `pos` is just
    /// after its opening quote.
    #[cold]
    fn escaped(&mut self) -> Result<String> {
        let bytes = self.text.as_bytes();
        let mut out = String::new();
        loop {
            let plain = self.pos;
            self.pos = plain_run_end(bytes, plain);
            out.push_str(self.text.get(plain..self.pos).unwrap_or_default());
            match bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.escape()? {
                        Some(c) => c,
                        None => self.unicode()?,
                    };
                    out.push(c);
                }
                _ => return Err(self.string_fault(false)),
            }
        }
    }

    /// The end of the text or a control character in a string; serde_json
    /// places the latter after it in a string it decodes, before it in one
    /// it skips.
    #[cold]
    fn string_fault(&mut self, skipped: bool) -> Error {
        if self.pos < self.text.len() && !skipped {
            self.pos += 1;
        }
        self.fail_or_eof_here(
            "control character (\\u0000-\\u001F) found while parsing a string",
            "EOF while parsing a string",
        )
    }

    /// The character of a one-letter escape (`pos` at the letter), or `None`
    /// for `\u`, whose hex digits follow; `pos` moves past the letter.
    fn escape(&mut self) -> Result<Option<char>> {
        let c = match self.text.as_bytes().get(self.pos) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                return Ok(None);
            }
            _ => return Err(self.fail_or_eof("invalid escape", "EOF while parsing a string")),
        };
        self.pos += 1;
        Ok(Some(c))
    }

    /// A `\u` escape's character (`pos` after the `\u`), with its low surrogate.
    fn unicode(&mut self) -> Result<char> {
        let high = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&high) {
            if self.text.as_bytes().get(self.pos..self.pos + 2) != Some(b"\\u") {
                return Err(
                    self.fail_or_eof("unexpected end of hex escape", "EOF while parsing a string")
                );
            }
            self.pos += 2;
            let low = self.hex4()?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(self.fail_here("lone leading surrogate in hex escape"));
            }
            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        } else {
            high
        };
        char::from_u32(code).ok_or_else(|| self.fail_here("lone leading surrogate in hex escape"))
    }

    fn hex4(&mut self) -> Result<u32> {
        let Some(digits) = self.text.get(self.pos..self.pos + 4) else {
            self.pos = self.text.len();
            return Err(self.fail_here("EOF while parsing a string"));
        };
        self.pos += 4;
        match digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            true => u32::from_str_radix(digits, 16).map_err(|_| self.fail_here("invalid escape")),
            false => Err(self.fail_here("invalid escape")),
        }
    }

    /// Consumes `word`, a whole literal, which starts at `pos`.
    fn literal(&mut self, word: &[u8]) -> Result<()> {
        for &expected in word {
            match self.text.as_bytes().get(self.pos) {
                Some(&b) if b == expected => self.pos += 1,
                _ => return Err(self.fail_or_eof("expected ident", "EOF while parsing a value")),
            }
        }
        Ok(())
    }

    /// Consumes `[0-9]*`; whether there was one at least.
    fn digits(&mut self) -> bool {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        while matches!(bytes.get(self.pos), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// A number cut short: at the end of the text, serde_json says so where
    /// it decodes the number but not where it skips it.
    #[cold]
    fn number_fault(&self, skipped: bool) -> Error {
        let eof = if skipped {
            "invalid number"
        } else {
            "EOF while parsing a value"
        };
        self.fail_or_eof("invalid number", eof)
    }

    /// Consumes a number (`pos` at its first byte); whether it is an integer.
    fn number_text(&mut self, skipped: bool) -> Result<bool> {
        let bytes = self.text.as_bytes();
        if bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match bytes.get(self.pos) {
            Some(b'0') => {
                self.pos += 1;
                if matches!(bytes.get(self.pos), Some(b'0'..=b'9')) {
                    return Err(self.fail("invalid number"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.number_fault(skipped)),
        }
        let mut integer = true;
        if bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            integer = false;
            if !self.digits() {
                return Err(self.number_fault(skipped));
            }
        }
        if matches!(bytes.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            integer = false;
            if matches!(bytes.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !self.digits() {
                return Err(self.number_fault(skipped));
            }
        }
        Ok(integer)
    }

    /// A number as serde_json reads it.
    fn number(&mut self) -> Result<Number> {
        let start = self.pos;
        self.number_text(false)?;
        let text = self.text.get(start..self.pos).unwrap_or_default();
        number_value(text).map_err(|end| {
            self.pos = start + end;
            self.fail_here("number out of range")
        })
    }

    fn visit_number<'de, V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        match self.number()? {
            Number::Unsigned(value) => visitor.visit_u64(value),
            Number::Signed(value) => visitor.visit_i64(value),
            Number::Float(value) => visitor.visit_f64(value),
        }
    }

    /// The error for a value that is not what `expected` takes, as serde_json
    /// words it: after a scalar, which is read, or at the start of an array
    /// or object.
    #[cold]
    fn invalid_type(&mut self, expected: &dyn Expected) -> Error {
        let unexpected = match self.peek() {
            Some(b'[') => Unexpected::Seq,
            Some(b'{') => Unexpected::Map,
            _ => {
                return match de::Deserializer::deserialize_any(&mut *self, Refuse(expected)) {
                    Ok(error) | Err(error) => self.locate(error),
                }
            }
        };
        self.locate(de::Error::invalid_type(unexpected, expected))
    }

    /// Skips one value, checking it as serde_json does, at any depth (as
    /// serde_json skips, without its nesting limit).
    fn skip(&mut self) -> Result<()> {
        let mut open = Open::default();
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    self.skip_string()?;
                }
                Some(b'{') => {
                    self.pos += 1;
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                    } else {
                        open.push(true);
                        self.skip_key()?;
                        continue;
                    }
                }
                Some(b'[') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b']') => self.pos += 1,
                        Some(_) => {
                            open.push(false);
                            continue;
                        }
                        None => return Err(self.fail("EOF while parsing a list")),
                    }
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => {
                    self.number_text(true)?;
                }
                _ => return Err(self.expected_value()),
            }
            // A value ended: close what it ended, up to the next value.
            loop {
                let Some(object) = open.top() else {
                    return Ok(());
                };
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if object {
                            self.skip_key()?;
                        }
                        break;
                    }
                    Some(b'}') if object => open.pop(),
                    Some(b']') if !object => open.pop(),
                    _ if object => {
                        return Err(
                            self.fail_or_eof("expected `,` or `}`", "EOF while parsing an object")
                        )
                    }
                    _ => {
                        return Err(
                            self.fail_or_eof("expected `,` or `]`", "EOF while parsing a list")
                        )
                    }
                }
                self.pos += 1;
            }
        }
    }

    /// Skips an object's key and its colon.
    #[inline(always)]
    fn skip_key(&mut self) -> Result<()> {
        if self.peek() != Some(b'"') {
            return Err(self.key_fault(true));
        }
        self.pos += 1;
        self.skip_string()?;
        if self.peek() != Some(b':') {
            return Err(self.fail_or_eof("expected `:`", "EOF while parsing an object"));
        }
        self.pos += 1;
        Ok(())
    }

    /// Where an object's key or its end should come (`pos`), anything
    /// else: a key must come first, a comma or the end after an entry.
    #[cold]
    fn key_fault(&self, first: bool) -> Error {
        match first {
            true => self.fail_or_eof("key must be a string", "EOF while parsing an object"),
            false => self.fail_or_eof("expected `,` or `}`", "EOF while parsing an object"),
        }
    }

    /// Where a key should follow a comma (`pos`), anything else.
    #[cold]
    fn after_comma_fault(&self) -> Error {
        match self.text.as_bytes().get(self.pos) {
            Some(b'}') => self.fail("trailing comma"),
            Some(_) => self.fail("key must be a string"),
            None => self.fail("EOF while parsing a value"),
        }
    }

    #[cold]
    fn expected_value(&self) -> Error {
        self.fail_or_eof("expected value", "EOF while parsing a value")
    }

    /// Skips a string's rest (`pos` just after its opening quote); any
    /// `\u` escape will do, as in serde_json, which checks surrogates only
    /// in strings it decodes.
    #[inline(always)]
    fn skip_string(&mut self) -> Result<()> {
        let bytes = self.text.as_bytes();
        let end = plain_run_end(bytes, self.pos);
        if bytes.get(end) == Some(&b'"') {
            self.pos = end + 1;
            return Ok(());
        }
        self.pos = end;
        self.skip_escaped_string()
    }

    /// [`Self::skip_string`] from an escape or a fault on.
    #[cold]
    fn skip_escaped_string(&mut self) -> Result<()> {
        let bytes = self.text.as_bytes();
        loop {
            self.pos = plain_run_end(bytes, self.pos);
            match bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    if self.escape()?.is_none() {
                        self.hex4()?;
                    }
                }
                _ => return Err(self.string_fault(true)),
            }
        }
    }

    /// The text of the next value, as serde_json's `RawValue` holds it.
    fn raw(&mut self) -> Result<&'a str> {
        self.peek();
        let start = self.pos;
        self.skip()?;
        Ok(self.text.get(start..self.pos).unwrap_or_default())
    }
}

/// Whether `value * 10 + digit` is past `u64`.
fn overflows(value: u64, digit: u64) -> bool {
    value >= u64::MAX / 10 && (value > u64::MAX / 10 || digit > u64::MAX % 10)
}

/// The value of a number's checked text as serde_json reads it (without its
/// `float_roundtrip` feature, as the crate builds it): an unsigned or
/// negative integer when it fits, else a float from the first 19 or so
/// significant digits scaled by a table of powers of ten. Past `f64`'s
/// range, the offset where serde_json stops.
fn number_value(text: &str) -> std::result::Result<Number, usize> {
    let bytes = text.as_bytes();
    let negative = bytes.first() == Some(&b'-');
    let mut at = usize::from(negative);
    let mut significand: u64 = 0;
    let mut exponent: i32 = 0;
    let mut long = false;
    while let Some(&c @ b'0'..=b'9') = bytes.get(at) {
        let digit = u64::from(c - b'0');
        long = long || overflows(significand, digit);
        if long {
            exponent = exponent.saturating_add(1);
        } else {
            significand = significand * 10 + digit;
        }
        at += 1;
    }
    let mut float = long;
    if bytes.get(at) == Some(&b'.') {
        float = true;
        at += 1;
        let mut dropped = false;
        while let Some(&c @ b'0'..=b'9') = bytes.get(at) {
            let digit = u64::from(c - b'0');
            dropped = dropped || overflows(significand, digit);
            if !dropped {
                significand = significand * 10 + digit;
                exponent -= 1;
            }
            at += 1;
        }
    }
    if let Some(b'e' | b'E') = bytes.get(at) {
        float = true;
        at += 1;
        let positive = bytes.get(at) != Some(&b'-');
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let mut exp: i32 = 0;
        while let Some(&c @ b'0'..=b'9') = bytes.get(at) {
            let digit = i32::from(c - b'0');
            if exp >= i32::MAX / 10 && (exp > i32::MAX / 10 || digit > i32::MAX % 10) {
                return match significand != 0 && positive {
                    true => Err(at + 1),
                    false => Ok(Number::Float(if negative { -0.0 } else { 0.0 })),
                };
            }
            exp = exp * 10 + digit;
            at += 1;
        }
        exponent = match positive {
            true => exponent.saturating_add(exp),
            false => exponent.saturating_sub(exp),
        };
    }
    if !float {
        let negated = (significand as i64).wrapping_neg();
        return Ok(match negative {
            false => Number::Unsigned(significand),
            true if negated < 0 => Number::Signed(negated),
            true => Number::Float(-(significand as f64)),
        });
    }
    let mut value = significand as f64;
    loop {
        match POW10.get(exponent.unsigned_abs() as usize) {
            Some(&pow) if exponent >= 0 => {
                value *= pow;
                if value.is_infinite() {
                    return Err(text.len());
                }
                break;
            }
            Some(&pow) => {
                value /= pow;
                break;
            }
            None if value == 0.0 => break,
            None if exponent >= 0 => return Err(text.len()),
            None => {
                value /= 1e308;
                exponent += 308;
            }
        }
    }
    Ok(Number::Float(if negative { -value } else { value }))
}

#[rustfmt::skip]
static POW10: [f64; 309] = [
    1e000, 1e001, 1e002, 1e003, 1e004, 1e005, 1e006, 1e007, 1e008, 1e009,
    1e010, 1e011, 1e012, 1e013, 1e014, 1e015, 1e016, 1e017, 1e018, 1e019,
    1e020, 1e021, 1e022, 1e023, 1e024, 1e025, 1e026, 1e027, 1e028, 1e029,
    1e030, 1e031, 1e032, 1e033, 1e034, 1e035, 1e036, 1e037, 1e038, 1e039,
    1e040, 1e041, 1e042, 1e043, 1e044, 1e045, 1e046, 1e047, 1e048, 1e049,
    1e050, 1e051, 1e052, 1e053, 1e054, 1e055, 1e056, 1e057, 1e058, 1e059,
    1e060, 1e061, 1e062, 1e063, 1e064, 1e065, 1e066, 1e067, 1e068, 1e069,
    1e070, 1e071, 1e072, 1e073, 1e074, 1e075, 1e076, 1e077, 1e078, 1e079,
    1e080, 1e081, 1e082, 1e083, 1e084, 1e085, 1e086, 1e087, 1e088, 1e089,
    1e090, 1e091, 1e092, 1e093, 1e094, 1e095, 1e096, 1e097, 1e098, 1e099,
    1e100, 1e101, 1e102, 1e103, 1e104, 1e105, 1e106, 1e107, 1e108, 1e109,
    1e110, 1e111, 1e112, 1e113, 1e114, 1e115, 1e116, 1e117, 1e118, 1e119,
    1e120, 1e121, 1e122, 1e123, 1e124, 1e125, 1e126, 1e127, 1e128, 1e129,
    1e130, 1e131, 1e132, 1e133, 1e134, 1e135, 1e136, 1e137, 1e138, 1e139,
    1e140, 1e141, 1e142, 1e143, 1e144, 1e145, 1e146, 1e147, 1e148, 1e149,
    1e150, 1e151, 1e152, 1e153, 1e154, 1e155, 1e156, 1e157, 1e158, 1e159,
    1e160, 1e161, 1e162, 1e163, 1e164, 1e165, 1e166, 1e167, 1e168, 1e169,
    1e170, 1e171, 1e172, 1e173, 1e174, 1e175, 1e176, 1e177, 1e178, 1e179,
    1e180, 1e181, 1e182, 1e183, 1e184, 1e185, 1e186, 1e187, 1e188, 1e189,
    1e190, 1e191, 1e192, 1e193, 1e194, 1e195, 1e196, 1e197, 1e198, 1e199,
    1e200, 1e201, 1e202, 1e203, 1e204, 1e205, 1e206, 1e207, 1e208, 1e209,
    1e210, 1e211, 1e212, 1e213, 1e214, 1e215, 1e216, 1e217, 1e218, 1e219,
    1e220, 1e221, 1e222, 1e223, 1e224, 1e225, 1e226, 1e227, 1e228, 1e229,
    1e230, 1e231, 1e232, 1e233, 1e234, 1e235, 1e236, 1e237, 1e238, 1e239,
    1e240, 1e241, 1e242, 1e243, 1e244, 1e245, 1e246, 1e247, 1e248, 1e249,
    1e250, 1e251, 1e252, 1e253, 1e254, 1e255, 1e256, 1e257, 1e258, 1e259,
    1e260, 1e261, 1e262, 1e263, 1e264, 1e265, 1e266, 1e267, 1e268, 1e269,
    1e270, 1e271, 1e272, 1e273, 1e274, 1e275, 1e276, 1e277, 1e278, 1e279,
    1e280, 1e281, 1e282, 1e283, 1e284, 1e285, 1e286, 1e287, 1e288, 1e289,
    1e290, 1e291, 1e292, 1e293, 1e294, 1e295, 1e296, 1e297, 1e298, 1e299,
    1e300, 1e301, 1e302, 1e303, 1e304, 1e305, 1e306, 1e307, 1e308,
];

/// The containers a skip is in, innermost last: whether each is an object.
/// The innermost 64 are bits of `bits`, the rest spill to `spilled`.
#[derive(Default)]
struct Open {
    depth: usize,
    bits: u64,
    spilled: Vec<u64>,
}

impl Open {
    fn push(&mut self, object: bool) {
        if self.depth > 0 && self.depth.is_multiple_of(64) {
            self.spilled.push(self.bits);
        }
        self.bits = self.bits << 1 | u64::from(object);
        self.depth += 1;
    }

    fn pop(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        self.bits >>= 1;
        if self.depth > 0 && self.depth.is_multiple_of(64) {
            self.bits = self.spilled.pop().unwrap_or_default();
        }
    }

    fn top(&self) -> Option<bool> {
        (self.depth > 0).then_some(self.bits & 1 == 1)
    }
}

/// The visitor that turns a scalar into the error for `expected`.
struct Refuse<'e>(&'e dyn Expected);

impl<'de> Visitor<'de> for Refuse<'_> {
    type Value = Error;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        self.0.fmt(f)
    }

    fn visit_bool<E>(self, v: bool) -> std::result::Result<Error, E> {
        Ok(de::Error::invalid_type(Unexpected::Bool(v), self.0))
    }

    fn visit_u64<E>(self, v: u64) -> std::result::Result<Error, E> {
        Ok(de::Error::invalid_type(Unexpected::Unsigned(v), self.0))
    }

    fn visit_i64<E>(self, v: i64) -> std::result::Result<Error, E> {
        Ok(de::Error::invalid_type(Unexpected::Signed(v), self.0))
    }

    fn visit_f64<E>(self, v: f64) -> std::result::Result<Error, E> {
        Ok(de::Error::invalid_type(Unexpected::Float(v), self.0))
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<Error, E> {
        Ok(de::Error::invalid_type(Unexpected::Str(v), self.0))
    }

    fn visit_unit<E>(self) -> std::result::Result<Error, E> {
        Ok(de::Error::invalid_type(Unexpected::Unit, self.0))
    }
}

impl<'de> Reader<'de> {
    /// A string, literal or number, for `visitor`.
    fn scalar_any<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                self.string()?.visit(visitor)
            }
            Some(b't') => {
                self.literal(b"true")?;
                visitor.visit_bool(true)
            }
            Some(b'f') => {
                self.literal(b"false")?;
                visitor.visit_bool(false)
            }
            Some(b'n') => {
                self.literal(b"null")?;
                visitor.visit_unit()
            }
            Some(b'-' | b'0'..=b'9') => self.visit_number(visitor),
            _ => Err(self.expected_value()),
        }
    }

    /// A string for `visitor`; any other value is refused as serde_json
    /// refuses it.
    fn string_for<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        if self.peek() != Some(b'"') {
            return Err(self.invalid_type(&visitor));
        }
        self.pos += 1;
        self.string()?.visit(visitor)
    }

    /// A number for `visitor`; any other value is refused.
    fn number_for<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.visit_number(visitor),
            _ => Err(self.invalid_type(&visitor)),
        }
    }

    /// `true` or `false` for `visitor`; any other value is refused.
    fn bool_for<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let value = match self.peek() {
            Some(b't') => true,
            Some(b'f') => false,
            _ => return Err(self.invalid_type(&visitor)),
        };
        self.literal(if value { b"true" } else { b"false" })?;
        visitor.visit_bool(value)
    }

    /// `null` for `visitor`; any other value is refused.
    fn null_for<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        if self.peek() != Some(b'n') {
            return Err(self.invalid_type(&visitor));
        }
        self.literal(b"null")?;
        visitor.visit_unit()
    }
}

macro_rules! scalars {
    ($reader:ident: $($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            self.$reader(visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &mut Reader<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek() {
            Some(b'{') => self.deserialize_map(visitor),
            Some(b'[') => self.deserialize_seq(visitor),
            _ => self.scalar_any(visitor),
        }
    }

    scalars! { string_for:
        deserialize_char deserialize_str deserialize_string deserialize_identifier
    }
    scalars! { number_for:
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_f32 deserialize_f64
    }
    scalars! { bool_for: deserialize_bool }
    scalars! { null_for: deserialize_unit }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.null_for(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    /// One function per struct or map type: inlined into the decoders that
    /// hold it, each copy with its own drop paths, it made
    /// system-networkpolicy 23 KB larger.
    #[inline(never)]
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek() != Some(b'{') {
            return Err(self.invalid_type(&visitor));
        }
        self.enter()?;
        let mut map = Map::new(self);
        let value = visitor.visit_map(&mut map);
        let closed = map.done;
        match value {
            Ok(value) => {
                if !closed {
                    self.close(b'}', "EOF while parsing an object")?;
                }
                self.depth -= 1;
                Ok(value)
            }
            Err(error) => Err(self.refused(error, b'}', closed)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_map(visitor)
    }

    #[inline(never)]
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek() != Some(b'[') {
            return Err(self.invalid_type(&visitor));
        }
        self.enter()?;
        let mut seq = Seq::new(self);
        let value = visitor.visit_seq(&mut seq);
        let closed = seq.done;
        match value {
            Ok(value) => {
                if !closed {
                    self.close(b']', "EOF while parsing a list")?;
                }
                self.depth -= 1;
                Ok(value)
            }
            Err(error) => Err(self.refused(error, b']', closed)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name == RAW_VALUE {
            let raw = self.raw()?;
            visitor.visit_map(RawMap(Some(raw)))
        } else {
            visitor.visit_newtype_struct(self)
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        if self.peek() != Some(b'"') {
            return Err(self.invalid_type(&visitor));
        }
        self.pos += 1;
        match self.string()? {
            Str::Borrowed(text) => {
                visitor.visit_enum(de::value::BorrowedStrDeserializer::<Error>::new(text))
            }
            Str::Owned(text) => {
                visitor.visit_enum(de::value::StringDeserializer::<Error>::new(text))
            }
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip()?;
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        i128 u128 bytes byte_buf
    }
}

// `Map` and `Seq` stay apart: one reader for both gave back most of the gain
// (BENCHMARKS-HISTORY.md, session 50).
struct Map<'r, 'a> {
    reader: &'r mut Reader<'a>,
    first: bool,
    done: bool,
}

impl<'r, 'a> Map<'r, 'a> {
    fn new(reader: &'r mut Reader<'a>) -> Self {
        Map {
            reader,
            first: true,
            done: false,
        }
    }

    /// A key without escapes that comes next, with no whitespace around
    /// its comma (policy-server's compact JSON): the path inlined into
    /// every decoder; [`Self::key`] takes everything else.
    #[inline(always)]
    fn plain_key(&mut self) -> Option<&'a str> {
        let reader = &mut *self.reader;
        let bytes = reader.text.as_bytes();
        let quote = reader.pos + usize::from(!self.first);
        if self.done
            || (!self.first && bytes.get(reader.pos) != Some(&b','))
            || bytes.get(quote) != Some(&b'"')
        {
            return None;
        }
        let end = key_end(bytes, quote + 1);
        if bytes.get(end) != Some(&b'"') {
            return None;
        }
        let key = reader.text.get(quote + 1..end)?;
        reader.pos = end + 1;
        self.first = false;
        Some(key)
    }

    /// The next key, or `None` at the object's end.
    #[inline(never)]
    fn key(&mut self) -> Result<Option<Str<'a>>> {
        if self.done {
            return Ok(None);
        }
        let reader = &mut *self.reader;
        match reader.peek() {
            Some(b'}') => {
                reader.pos += 1;
                self.done = true;
                return Ok(None);
            }
            Some(b',') if !self.first => {
                reader.pos += 1;
                if reader.peek() != Some(b'"') {
                    return Err(reader.after_comma_fault());
                }
            }
            Some(b'"') if self.first => {}
            _ => return Err(reader.key_fault(self.first)),
        }
        reader.pos += 1;
        self.first = false;
        reader.string().map(Some)
    }

    /// Consumes the colon after a key.
    #[inline(always)]
    fn colon(&mut self) -> Result<()> {
        let reader = &mut *self.reader;
        if reader.text.as_bytes().get(reader.pos) == Some(&b':') {
            reader.pos += 1;
            return Ok(());
        }
        Self::spaced_colon(reader)
    }

    #[inline(never)]
    fn spaced_colon(reader: &mut Reader) -> Result<()> {
        if reader.peek() == Some(b':') {
            reader.pos += 1;
            Ok(())
        } else {
            Err(reader.fail_or_eof("expected `:`", "EOF while parsing an object"))
        }
    }
}

impl<'de> MapAccess<'de> for Map<'_, 'de> {
    type Error = Error;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if let Some(key) = self.plain_key() {
            return seed.deserialize(Key(Str::Borrowed(key))).map(Some);
        }
        match self.key()? {
            Some(key) => seed.deserialize(Key(key)).map(Some),
            None => Ok(None),
        }
    }

    #[inline]
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        self.colon()?;
        seed.deserialize(&mut *self.reader)
            .map_err(|e| self.reader.locate(e))
    }
}

struct Seq<'r, 'a> {
    reader: &'r mut Reader<'a>,
    first: bool,
    done: bool,
}

impl<'r, 'a> Seq<'r, 'a> {
    fn new(reader: &'r mut Reader<'a>) -> Self {
        Seq {
            reader,
            first: true,
            done: false,
        }
    }

    /// Whether an element comes next with no whitespace before it or its
    /// comma (policy-server's compact JSON): the path inlined into every
    /// decoder; [`Self::next`] takes everything else.
    #[inline(always)]
    fn plain_next(&mut self) -> bool {
        let reader = &mut *self.reader;
        let start = reader.pos + usize::from(!self.first);
        let bytes = reader.text.as_bytes();
        let starts_value = matches!(
            bytes.get(start),
            Some(b'"' | b'{' | b'[' | b't' | b'f' | b'n' | b'-' | b'0'..=b'9')
        );
        if starts_value && !self.done && (self.first || bytes.get(reader.pos) == Some(&b',')) {
            reader.pos = start;
            self.first = false;
            return true;
        }
        false
    }

    /// Moves to the next element; `false` at the array's end.
    #[inline(never)]
    fn next(&mut self) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        let reader = &mut *self.reader;
        match reader.peek() {
            Some(b']') => {
                reader.pos += 1;
                self.done = true;
                return Ok(false);
            }
            Some(b',') if !self.first => {
                reader.pos += 1;
                if reader.peek() == Some(b']') {
                    return Err(reader.fail("trailing comma"));
                }
            }
            Some(_) if self.first => {}
            _ => return Err(reader.fail_or_eof("expected `,` or `]`", "EOF while parsing a list")),
        }
        self.first = false;
        Ok(true)
    }
}

impl<'de> SeqAccess<'de> for Seq<'_, 'de> {
    type Error = Error;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.plain_next() || self.next()? {
            seed.deserialize(&mut *self.reader)
                .map(Some)
                .map_err(|e| self.reader.locate(e))
        } else {
            Ok(None)
        }
    }
}

/// A map key: a string, read by any visitor that takes one.
struct Key<'a>(Str<'a>);

impl<'de> de::Deserializer<'de> for Key<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.0.visit(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// The one-entry map through which serde_json's `RawValue` takes its text.
struct RawMap<'a>(Option<&'a str>);

impl<'de> MapAccess<'de> for RawMap<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.0.is_none() {
            return Ok(None);
        }
        seed.deserialize(de::value::BorrowedStrDeserializer::new(RAW_VALUE))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(de::value::BorrowedStrDeserializer::new(
            self.0.take().unwrap_or_default(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde::Deserialize;
    use serde_json::value::RawValue;
    use serde_json::Value;
    use std::borrow::Cow;
    use std::marker::PhantomData;

    fn fast(json: &str) -> Option<Value> {
        from_str::<Value>(json).ok()
    }

    #[rstest]
    #[case::object(r#"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#)]
    #[case::spaced(" { \"a\" : [ 1 , -2 ] ,\n\t\"b\" : { } , \"c\" : [ ] } ")]
    #[case::escapes(r#"{"a\"b":"\\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 x"}"#)]
    #[case::unicode(r#"["gr\u00fc\u00DF", "grüß", "ein langer Text über acht Bytes"]"#)]
    #[case::integers("[0, 7, -7, 123456789012345678, -123456789012345678]")]
    #[case::nested_127(&format!("{}{}", "[".repeat(127), "]".repeat(127)))]
    fn reads_as_serde_json_does(#[case] json: &str) {
        let expected: Value = serde_json::from_str(json).unwrap();
        assert_eq!(fast(json), Some(expected));
    }

    #[rstest]
    #[case::float("1.5")]
    #[case::exponent("[1e3, 2E-2, -0.5e+1]")]
    #[case::negative_zero("-0")]
    #[case::nineteen_digits("[1234567890123456789, -9223372036854775808, 18446744073709551615]")]
    #[case::past_64_bits("[18446744073709551616, -9223372036854775809]")]
    fn reads_numbers_as_serde_json_does(#[case] json: &str) {
        let expected: Value = serde_json::from_str(json).unwrap();
        assert_eq!(fast(json), Some(expected));
        let raw: &RawValue = from_str(json).unwrap();
        assert_eq!(raw.get(), json);
    }

    #[rstest]
    #[case::empty("")]
    #[case::spaces_only("  ")]
    #[case::trailing_comma_in_array("[1,]")]
    #[case::trailing_comma_in_object(r#"{"a":1,}"#)]
    #[case::leading_zero("01")]
    #[case::lone_minus("-")]
    #[case::minus_letter("-x")]
    #[case::bare_fraction("1.")]
    #[case::bare_exponent("1e")]
    #[case::out_of_range("1e400")]
    #[case::missing_colon(r#"{"a" 1}"#)]
    #[case::missing_comma("[1 2]")]
    #[case::missing_comma_in_object(r#"{"a":1 "b":2}"#)]
    #[case::key_not_a_string("{1:2}")]
    #[case::key_not_a_string_later(r#"{"a":1,2:3}"#)]
    #[case::trailing_characters("{} x")]
    #[case::unterminated_string(r#""abc"#)]
    #[case::unterminated_array("[1")]
    #[case::unterminated_object(r#"{"a":1"#)]
    #[case::unterminated_after_key(r#"{"a""#)]
    #[case::control_character("\"a\u{1}b\"")]
    #[case::newline_in_string("[\n\"a\nb\"]")]
    #[case::unknown_escape(r#""\x""#)]
    #[case::short_unicode_escape(r#""\u12""#)]
    #[case::bad_hex(r#""\u12g4""#)]
    #[case::lone_high_surrogate(r#""\ud800""#)]
    #[case::lone_low_surrogate(r#""\udc00""#)]
    #[case::high_surrogate_then_other(r#""\ud800\u0041""#)]
    #[case::truncated_literal("tru")]
    #[case::wrong_literal("[nul]")]
    #[case::not_a_value("[*]")]
    #[case::nested_128(&format!("{}{}", "[".repeat(128), "]".repeat(128)))]
    fn refuses_what_serde_json_refuses_in_its_words(#[case] json: &str) {
        let expected = serde_json::from_str::<Value>(json)
            .expect_err(json)
            .to_string();
        let error = from_str::<Value>(json).expect_err(json).to_string();
        assert_eq!(error, expected, "{json:?}");
        let skipped = |r: Result<de::IgnoredAny>| r.map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(
            skipped(from_str(json)),
            skipped(serde_json::from_str(json)),
            "skipping {json:?}"
        );
    }

    /// A quote, backslash or control character at each offset in and around
    /// the eight-byte words, with a byte after it that looks alike to the scan.
    #[test]
    fn finds_each_string_end_and_escape_at_every_offset() {
        let mut valid = 0;
        for offset in 0..=17 {
            let specials = [
                "\", \"", "\"", "\\\\", "\\n", "\u{1}", "\u{1f}", "\u{1} ", "é\"",
            ];
            for special in specials {
                let json = format!("[\"{}{special}{}\", 1]", "a".repeat(offset), "b".repeat(9));
                let expected = serde_json::from_str::<Value>(&json).ok();
                valid += usize::from(expected.is_some());
                assert_eq!(fast(&json), expected, "{json:?}");
            }
        }
        // The string end, the escaped backslash and `\n` at each of 18 offsets.
        assert_eq!(valid, 3 * 18);
    }

    #[derive(Debug, PartialEq, Deserialize)]
    enum Operation {
        Create,
        Update,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Doc<'a> {
        #[serde(borrow)]
        name: Cow<'a, str>,
        #[serde(borrow)]
        note: Cow<'a, str>,
        operation: Operation,
        #[serde(borrow)]
        raw: Option<&'a RawValue>,
        #[serde(borrow)]
        missing: Option<&'a RawValue>,
        count: i64,
    }

    #[test]
    fn decodes_structs_enums_and_raw_values_as_serde_json_does() {
        let json = r#"{"name":"web","note":"a\nb","operation":"Update","raw": {"x": [1, "y"]} ,"missing":null,"count":-3,"other":{"deep":[{}]}}"#;
        let doc: Doc = from_str_seed(json, PhantomData).unwrap();
        let reference: Doc = serde_json::from_str(json).unwrap();
        assert!(matches!(doc.name, Cow::Borrowed("web")));
        assert!(matches!(doc.note, Cow::Owned(ref note) if note == "a\nb"));
        assert_eq!(doc.operation, Operation::Update);
        assert_eq!(doc.raw.map(RawValue::get), Some(r#"{"x": [1, "y"]}"#));
        assert_eq!(doc.raw.map(RawValue::get), reference.raw.map(RawValue::get));
        assert!(doc.missing.is_none());
        assert_eq!(doc.count, -3);
    }

    /// Every number to the same kind and the same bits as serde_json, or
    /// refused as it refuses it.
    #[test]
    fn reads_every_number_to_serde_json_bits() {
        let mut numbers: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1",
            "-1",
            "0.1",
            "0.3",
            "2.5",
            "1e22",
            "1e23",
            "-1e23",
            "9007199254740993",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "123456789012345678901234567890",
            "1844674407370955161.5",
            "18446744073709551615.5",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1e308",
            "1e309",
            "2.2250738585072014e-308",
            "4.9e-324",
            "5e-324",
            "1e-400",
            "-1e-400",
            "12345678901234567890.123456789e-5",
            "0.000000000000000000000000001",
            "1e2147483647",
            "1e2147483648",
            "1e-2147483648",
            "0e2147483648",
            "-1e99999999999",
            "1E+2",
            "1e-0",
            "3.14159265358979323846264338327950288",
        ]
        .map(String::from)
        .to_vec();
        for exponent in [
            -330, -310, -300, -30, -23, -22, -1, 0, 1, 15, 22, 23, 300, 308,
        ] {
            for mantissa in [
                "1",
                "7",
                "9.999",
                "123456789",
                "4503599627370497",
                "98765432109876543210",
            ] {
                numbers.push(format!("{mantissa}e{exponent}"));
            }
        }
        for number in &numbers {
            let theirs = serde_json::from_str::<f64>(number).map(f64::to_bits);
            let ours = from_str::<f64>(number).map(f64::to_bits);
            assert_eq!(
                ours.map_err(|e| e.to_string()),
                theirs.map_err(|e| e.to_string()),
                "{number}"
            );
            let theirs = serde_json::from_str::<Value>(number).ok();
            assert_eq!(fast(number), theirs, "{number}");
        }
    }

    /// Skipped values nest as deep as the text goes, as serde_json skips them.
    #[test]
    fn skips_any_depth() {
        let depth = 5_000;
        let mut json = String::from("[");
        for level in 0..depth {
            json.push_str(if level % 2 == 0 {
                "{\"a\":[1,"
            } else {
                "[\"x\","
            });
        }
        json.push_str("{}");
        for level in (0..depth).rev() {
            json.push_str(if level % 2 == 0 { "]}" } else { "]" });
        }
        json.push(']');
        assert!(serde_json::from_str::<de::IgnoredAny>(&json).is_ok());
        assert!(from_str::<de::IgnoredAny>(&json).is_ok());
        let raw: &RawValue = from_str(&json).unwrap();
        assert_eq!(raw.get(), json);
        let unbalanced = &json[..json.len() - 2];
        assert_eq!(
            from_str::<de::IgnoredAny>(unbalanced)
                .map_err(|e| e.to_string())
                .err(),
            serde_json::from_str::<de::IgnoredAny>(unbalanced)
                .map_err(|e| e.to_string())
                .err()
        );
    }

    #[test]
    fn skips_lone_surrogates_as_serde_json_does() {
        let json = r#"[{"a": "\ud800 \udc00"}]"#;
        let raw: &RawValue = from_str(json).unwrap();
        assert_eq!(raw.get(), json);
        assert!(from_str::<de::IgnoredAny>(json).is_ok());
        assert!(serde_json::from_str::<de::IgnoredAny>(json).is_ok());
        assert!(serde_json::from_str::<Value>(json).is_err());
        assert!(from_str::<Value>(json).is_err());
    }

    #[test]
    fn refuses_an_enum_written_as_an_object() {
        let json = r#"{"Create":null}"#;
        assert_eq!(
            serde_json::from_str::<Operation>(json).ok(),
            Some(Operation::Create)
        );
        assert_eq!(
            from_str::<Operation>(json).map_err(|e| e.to_string()),
            Err("invalid type: map, expected enum Operation at line 1 column 0".to_string())
        );
    }

    #[test]
    fn every_large_fixture_reads_as_serde_json_does() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e-tests");
        let mut read = 0;
        for suite in std::fs::read_dir(&root).unwrap() {
            let Ok(files) = std::fs::read_dir(suite.unwrap().path().join("large")) else {
                continue;
            };
            for file in files {
                let path = file.unwrap().path();
                if path.extension().is_none_or(|e| e != "json") {
                    continue;
                }
                let json = std::fs::read_to_string(&path).unwrap();
                let expected: Value = serde_json::from_str(&json).unwrap();
                assert!(fast(&json) == Some(expected), "{}", path.display());
                read += 1;
            }
        }
        assert!(read >= 20, "only {read} large fixtures found");
    }

    /// Structs, as Kubernetes objects and settings are read: from objects
    /// only, at every depth.
    mod structs {
        use super::*;
        use std::collections::BTreeMap;
        use std::result::Result;

        #[derive(Debug, PartialEq, Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        struct Doc<'a> {
            name: String,
            #[serde(borrow, default)]
            note: Cow<'a, str>,
            #[serde(default)]
            inner: Option<Inner>,
            #[serde(default)]
            items: Vec<Inner>,
            #[serde(default)]
            labels: BTreeMap<String, String>,
            #[serde(default)]
            mode: Option<Mode>,
            #[serde(default)]
            pair: Option<(u16, bool)>,
            #[serde(default, borrow)]
            raw: Option<Raw<'a>>,
        }

        #[derive(Debug, Deserialize)]
        #[serde(transparent)]
        struct Raw<'a>(#[serde(borrow)] &'a RawValue);

        impl PartialEq for Raw<'_> {
            fn eq(&self, other: &Self) -> bool {
                self.0.get() == other.0.get()
            }
        }

        #[derive(Debug, PartialEq, Deserialize)]
        struct Inner {
            port: i64,
        }

        #[derive(Debug, PartialEq, Deserialize)]
        #[serde(rename_all = "camelCase")]
        enum Mode {
            Allow,
            Deny,
        }

        fn both(json: &str) -> (Result<Doc<'_>, String>, Result<Doc<'_>, String>) {
            (
                super::from_str::<Doc>(json).map_err(|e| e.to_string()),
                serde_json::from_str::<Doc>(json).map_err(|e| e.to_string()),
            )
        }

        #[rstest]
        #[case::minimal(r#"{"name":"a"}"#)]
        #[case::every_field(
            r#"{"name":"a","note":"n","inner":{"port":1},"items":[{"port":2},{"port":-3}],
                "labels":{"k":"v"},"mode":"deny","pair":[7,true],"raw":{"x":[1,2]}}"#
        )]
        #[case::nulls(r#"{"name":"a","inner":null,"mode":null,"pair":null}"#)]
        #[case::escaped_strings(r#"{"name":"a\"b","note":"\u00e9\n"}"#)]
        #[case::unknown_field(r#"{"name":"a","nmae":"b"}"#)]
        #[case::missing_field(r#"{"note":"n"}"#)]
        #[case::wrong_type(r#"{"name":"a","inner":{"port":"80"}}"#)]
        #[case::unknown_variant(r#"{"name":"a","mode":"maybe"}"#)]
        #[case::trailing_characters(r#"{"name":"a"} x"#)]
        #[case::not_json(r#"{"name":"#)]
        #[case::string_for_struct(r#""a""#)]
        #[case::array_for_tuple_kept(r#"{"name":"a","pair":[1]}"#)]
        #[case::tuple_too_long(r#"{"name":"a","pair":[1,true,3]}"#)]
        #[case::tuple_trailing_comma(r#"{"name":"a","pair":[1,true,]}"#)]
        #[case::tuple_cut_short(r#"{"name":"a","pair":[1,true"#)]
        #[case::tuple_then_junk(r#"{"name":"a","pair":[1,true}"#)]
        #[case::number_for_string(r#"{"name":5}"#)]
        #[case::null_for_string(r#"{"name":null}"#)]
        #[case::bool_for_string(r#"{"name":true}"#)]
        #[case::array_for_string(r#"{"name":["a"]}"#)]
        #[case::object_for_string(r#"{"name":{}}"#)]
        #[case::string_for_number(r#"{"name":"a","pair":["1",true]}"#)]
        #[case::float_for_u16(r#"{"name":"a","pair":[1.5,true]}"#)]
        #[case::negative_for_u16(r#"{"name":"a","pair":[-1,true]}"#)]
        #[case::u16_overflow(r#"{"name":"a","pair":[70000,true]}"#)]
        #[case::string_for_bool(r#"{"name":"a","pair":[1,"true"]}"#)]
        #[case::number_for_bool(r#"{"name":"a","pair":[1,0]}"#)]
        #[case::cut_literal(r#"{"name":"a","pair":[1,tru]}"#)]
        #[case::bad_literal(r#"{"name":"a","pair":[1,nul]}"#)]
        #[case::no_value(r#"{"name":"a","pair":[1,]}"#)]
        #[case::bad_value_for_string(r#"{"name":x}"#)]
        fn decodes_objects_as_serde_json_does(#[case] json: &str) {
            let (ours, theirs) = both(json);
            assert_eq!(ours, theirs);
        }

        #[rstest]
        #[case::document(
            r#"["a"]"#,
            "invalid type: sequence, expected struct Doc at line 1 column 0"
        )]
        #[case::nested(
            r#"{"name":"a","inner":[80]}"#,
            "invalid type: sequence, expected struct Inner at line 1 column 20"
        )]
        #[case::in_a_list(
            r#"{"name":"a","items":[{"port":1},[2]]}"#,
            "invalid type: sequence, expected struct Inner at line 1 column 32"
        )]
        #[case::in_an_option(
            r#"{"name":"a","inner":[]}"#,
            "invalid type: sequence, expected struct Inner at line 1 column 20"
        )]
        fn refuses_arrays_in_place_of_structs(#[case] json: &str, #[case] expected: &str) {
            let (ours, theirs) = both(json);
            assert_eq!(ours.map(|_| ()), Err(expected.to_string()));
            assert_ne!(theirs.map(|_| ()), Err(expected.to_string()));
        }

        #[test]
        fn borrows_from_the_input() {
            let json = r#"{"name":"a","note":"plain","raw":[1, 2]}"#;
            let doc = super::from_str::<Doc>(json).unwrap_or_else(|e| panic!("{e}"));
            assert!(matches!(doc.note, Cow::Borrowed("plain")));
            assert_eq!(doc.raw.map(|raw| raw.0.get()), Some("[1, 2]"));
        }
    }
}
