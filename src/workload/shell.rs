//! A lenient POSIX-shell tokenizer: words (unquoted) and control operators,
//! enough to find structure such as function definitions, pipelines and
//! backgrounding in scripts passed to `sh -c`. It never fails: odd input just
//! yields odd tokens.

use std::borrow::Cow;
use std::iter::Peekable;
use std::ops::Range;
use std::str::CharIndices;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Pipe,
    PipeAmp,
    Amp,
    AndIf,
    OrIf,
    Semi,
    DoubleSemi,
    Newline,
    LParen,
    RParen,
    LBrace,
    RBrace,
    Backtick,
    Redirect,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind<'s> {
    /// A word with quotes and escapes removed: borrowed from the source
    /// unless that removed something from inside it.
    Word(Cow<'s, str>),
    Op(Op),
    /// The body of a here-document (`<<EOF` .. `EOF`), verbatim.
    HereDoc(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token<'s> {
    pub kind: TokenKind<'s>,
    /// Byte range in the source.
    pub span: Range<usize>,
}

impl<'s> Token<'s> {
    pub fn word(&self) -> Option<&str> {
        match &self.kind {
            TokenKind::Word(text) => Some(text),
            TokenKind::Op(_) | TokenKind::HereDoc(_) => None,
        }
    }

    pub fn op(&self) -> Option<Op> {
        match self.kind {
            TokenKind::Op(op) => Some(op),
            TokenKind::Word(_) | TokenKind::HereDoc(_) => None,
        }
    }

    pub fn here_doc(&self) -> Option<&str> {
        match &self.kind {
            TokenKind::HereDoc(body) => Some(body),
            _ => None,
        }
    }

    pub fn is_op(&self, op: Op) -> bool {
        self.op() == Some(op)
    }
}

/// The text of the word being read.
enum Text {
    Empty,
    /// Every character so far, contiguous in the source.
    Plain(Range<usize>),
    Owned(String),
}

/// The word being read: where it starts, where it ends so far, its text.
struct Word {
    start: usize,
    end: usize,
    text: Text,
}

impl Word {
    fn new(at: usize) -> Self {
        Self {
            start: at,
            end: at,
            text: Text::Empty,
        }
    }
}

struct Lexer<'s> {
    source: &'s str,
    chars: Peekable<CharIndices<'s>>,
    tokens: Vec<Token<'s>>,
    word: Option<Word>,
    /// Here-documents opened on the current line: strip leading tabs, delimiter.
    here_docs: Vec<(bool, Option<String>)>,
    /// How many of them have their delimiter (they get it in order).
    here_docs_named: usize,
}

impl<'s> Lexer<'s> {
    fn end(&mut self) -> usize {
        self.chars.peek().map_or(self.source.len(), |(i, _)| *i)
    }

    fn flush(&mut self) {
        if let Some(word) = self.word.take() {
            let text = match word.text {
                Text::Empty => Cow::Borrowed(""),
                Text::Plain(range) => Cow::Borrowed(self.source.get(range).unwrap_or_default()),
                Text::Owned(text) => Cow::Owned(text),
            };
            if let Some(slot) = self.here_docs.get_mut(self.here_docs_named) {
                slot.1 = Some(text.to_string());
                self.here_docs_named += 1;
            }
            self.tokens.push(Token {
                kind: TokenKind::Word(text),
                span: word.start..word.end,
            });
        }
    }

    /// Appends `c`, read at `position`, to the word (starting it at `at`).
    fn push_char(&mut self, at: usize, position: usize, c: char) {
        let next = position.saturating_add(c.len_utf8());
        let word = self.word.get_or_insert_with(|| Word::new(at));
        match &mut word.text {
            Text::Empty => word.text = Text::Plain(position..next),
            Text::Plain(range) if range.end == position => range.end = next,
            Text::Plain(range) => {
                let mut text = self
                    .source
                    .get(range.clone())
                    .unwrap_or_default()
                    .to_string();
                text.push(c);
                word.text = Text::Owned(text);
            }
            Text::Owned(text) => text.push(c),
        }
    }

    /// Extends the current word up to what has been read.
    fn mark(&mut self, at: usize) {
        let end = self.end();
        self.word.get_or_insert_with(|| Word::new(at)).end = end;
    }

    fn emit(&mut self, start: usize, op: Op) {
        self.flush();
        let end = self.end();
        self.tokens.push(Token {
            kind: TokenKind::Op(op),
            span: start..end,
        });
    }

    /// Reads the bodies of the here-documents opened on the line just ended.
    fn read_here_docs(&mut self) {
        self.here_docs_named = 0;
        for (strip_tabs, delimiter) in std::mem::take(&mut self.here_docs) {
            let Some(delimiter) = delimiter else { continue };
            let start = self.end();
            let mut body = String::new();
            loop {
                let mut line = String::new();
                let mut ended = false;
                for (_, c) in self.chars.by_ref() {
                    if c == '\n' {
                        ended = true;
                        break;
                    }
                    line.push(c);
                }
                let text = if strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    &line
                };
                if text == delimiter {
                    break;
                }
                body.push_str(text);
                body.push('\n');
                if !ended {
                    break;
                }
            }
            let end = self.end();
            self.tokens.push(Token {
                kind: TokenKind::HereDoc(body),
                span: start..end,
            });
        }
    }

    fn next_if(&mut self, c: char) -> bool {
        self.chars.next_if(|(_, n)| *n == c).is_some()
    }

    /// Copies a bracketed construct (`${..}`, `$((..))`) into the current word.
    fn copy_balanced(&mut self, at: usize, open: char, close: char) {
        let mut depth = 0usize;
        while let Some((position, c)) = self.chars.next() {
            self.push_char(at, position, c);
            if c == open {
                depth = depth.saturating_add(1);
            } else if c == close {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return;
                }
            }
        }
    }

    fn run(mut self) -> Vec<Token<'s>> {
        while let Some((at, c)) = self.chars.next() {
            match c {
                ' ' | '\t' | '\r' => self.flush(),
                '\n' => {
                    self.emit(at, Op::Newline);
                    self.read_here_docs();
                }
                '#' if self.word.is_none() => {
                    while self.chars.next_if(|(_, n)| *n != '\n').is_some() {}
                }
                '\'' => {
                    self.mark(at);
                    while let Some((i, n)) = self.chars.next() {
                        if n == '\'' {
                            break;
                        }
                        self.push_char(i, i, n);
                    }
                    self.mark(at);
                }
                '"' => {
                    self.mark(at);
                    while let Some((i, n)) = self.chars.next() {
                        match n {
                            '"' => break,
                            '\\' => match self.chars.next_if(|(_, e)| "\"\\$`\n".contains(*e)) {
                                Some((_, '\n')) => {}
                                Some((j, e)) => self.push_char(j, j, e),
                                None => self.push_char(i, i, n),
                            },
                            _ => self.push_char(i, i, n),
                        }
                    }
                    self.mark(at);
                }
                '\\' => {
                    match self.chars.next() {
                        Some((_, '\n')) | None => {}
                        Some((i, n)) => self.push_char(i, i, n),
                    }
                    if self.word.is_some() {
                        self.mark(at);
                    }
                }
                '$' if self.chars.peek().is_some_and(|(_, n)| *n == '{') => {
                    self.push_char(at, at, c);
                    self.copy_balanced(at, '{', '}');
                    self.mark(at);
                }
                '$' if self.chars.peek().is_some_and(|(_, n)| *n == '(') => {
                    let mut ahead = self.chars.clone();
                    ahead.next();
                    if ahead.next().is_some_and(|(_, n)| n == '(') {
                        // Arithmetic expansion `$(( .. ))`: one word.
                        self.push_char(at, at, c);
                        self.copy_balanced(at, '(', ')');
                        self.mark(at);
                    } else {
                        // Command substitution: its commands are scanned inline.
                        self.chars.next();
                        self.emit(at, Op::LParen);
                    }
                }
                '|' => {
                    let op = if self.next_if('|') {
                        Op::OrIf
                    } else if self.next_if('&') {
                        Op::PipeAmp
                    } else {
                        Op::Pipe
                    };
                    self.emit(at, op);
                }
                '&' => {
                    let op = if self.next_if('&') {
                        Op::AndIf
                    } else if self.next_if('>') {
                        self.next_if('>');
                        Op::Redirect
                    } else {
                        Op::Amp
                    };
                    self.emit(at, op);
                }
                ';' => {
                    let op = if self.next_if(';') {
                        self.next_if('&');
                        Op::DoubleSemi
                    } else {
                        self.next_if('&');
                        Op::Semi
                    };
                    self.emit(at, op);
                }
                '<' | '>' => {
                    self.flush();
                    let mut operator = String::from(c);
                    while let Some((_, n)) = self
                        .chars
                        .next_if(|(_, n)| matches!(n, '<' | '>' | '&' | '|'))
                    {
                        operator.push(n);
                    }
                    if operator == "<<" {
                        let strip_tabs = self.next_if('-');
                        self.here_docs.push((strip_tabs, None));
                    }
                    self.emit(at, Op::Redirect);
                }
                '(' => self.emit(at, Op::LParen),
                ')' => self.emit(at, Op::RParen),
                '{' => self.emit(at, Op::LBrace),
                '}' => self.emit(at, Op::RBrace),
                '`' => self.emit(at, Op::Backtick),
                _ => {
                    self.push_char(at, at, c);
                    self.mark(at);
                }
            }
        }
        self.flush();
        self.tokens
    }
}

/// Tokens reserved up front: one per byte of a short script (most are
/// short), not more for a long one.
const TOKENS_RESERVED_FOR: usize = 64;

/// Splits `source` into shell tokens.
pub fn tokenize(source: &str) -> Vec<Token<'_>> {
    Lexer {
        source,
        chars: source.char_indices().peekable(),
        tokens: Vec::with_capacity(source.len().min(TOKENS_RESERVED_FOR)),
        word: None,
        here_docs: Vec::new(),
        here_docs_named: 0,
    }
    .run()
}

/// Words that introduce a command without being its name.
const PREFIX_WORDS: &[&str] = &[
    "!", "time", "then", "do", "else", "elif", "if", "while", "until",
];

pub fn is_assignment(word: &str) -> bool {
    word.split_once('=')
        .is_some_and(|(name, _)| is_variable_name(name))
}

/// A shell variable name: letters, digits and `_`, not starting with a digit.
pub fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// For each token: whether it is the name of a command (the first word of a
/// simple command, after prefixes such as `then` and assignments), and whether
/// it stands where a command may start (reserved words are recognised there).
pub fn command_positions(tokens: &[Token]) -> Vec<(bool, bool)> {
    let mut positions = Vec::with_capacity(tokens.len());
    let mut at_start = true;
    let mut after_redirect = false;
    for token in tokens {
        match &token.kind {
            TokenKind::Word(word) => {
                let starts = at_start && !after_redirect;
                let head = starts && !PREFIX_WORDS.contains(&word.as_ref()) && !is_assignment(word);
                positions.push((head, starts));
                if head {
                    at_start = false;
                }
                after_redirect = false;
            }
            TokenKind::HereDoc(_) => positions.push((false, false)),
            TokenKind::Op(op) => {
                positions.push((false, false));
                if *op == Op::Redirect {
                    after_redirect = true;
                } else {
                    after_redirect = false;
                    at_start = true;
                }
            }
        }
    }
    positions
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn render(source: &str) -> String {
        tokenize(source)
            .iter()
            .map(|t| match &t.kind {
                TokenKind::Word(w) => format!("<{w}>"),
                TokenKind::Op(op) => format!("{op:?}"),
                TokenKind::HereDoc(body) => format!("[{body}]"),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[rstest]
    #[case::classic(
        ":(){ :|:& };:",
        "<:> LParen RParen LBrace <:> Pipe <:> Amp RBrace Semi <:>"
    )]
    #[case::quotes(r#"echo 'a b' "c \"d\"" e\ f"#, "<echo> <a b> <c \"d\"> <e f>")]
    #[case::expansions(
        "echo ${A:-}} $((1+(2))) $(date)",
        "<echo> <${A:-}> RBrace <$((1+(2)))> LParen <date> RParen"
    )]
    #[case::redirects(
        "cmd 2>&1 >/dev/null &",
        "<cmd> <2> Redirect <1> Redirect </dev/null> Amp"
    )]
    #[case::operators(
        "a && b || c; d;; e |& f",
        "<a> AndIf <b> OrIf <c> Semi <d> DoubleSemi <e> PipeAmp <f>"
    )]
    #[case::comments("a # b | c\nd", "<a> Newline <d>")]
    #[case::hash_in_word("echo a#b", "<echo> <a#b>")]
    #[case::unterminated_quote("echo 'abc", "<echo> <abc>")]
    #[case::here_doc(
        "cat <<EOF >x\na | b\nEOF\nnext",
        "<cat> Redirect <EOF> Redirect <x> Newline [a | b\n] <next>"
    )]
    #[case::here_doc_tabs(
        "cat <<-'END'\n\tline\n\tEND\n",
        "<cat> Redirect <END> Newline [line\n]"
    )]
    #[case::here_doc_unterminated("sh <<X\nf", "<sh> Redirect <X> Newline [f\n]")]
    #[case::here_string("cat <<< 'a b'", "<cat> Redirect <a b>")]
    fn tokenizes(#[case] source: &str, #[case] expected: &str) {
        assert_eq!(render(source), expected);
    }

    #[rstest]
    #[case::plain("exec /app --qps=5", &[true, true, true])]
    #[case::expansion("echo ${A:-x} $((1+2))", &[true, true, true])]
    #[case::whole_quoted("echo 'a b'", &[true, true])]
    #[case::joined_quotes("echo 'a'b \"c\\\"d\" e\\ f", &[true, false, false, false])]
    fn plain_words_borrow_the_source(#[case] source: &str, #[case] borrowed: &[bool]) {
        let words: Vec<bool> = tokenize(source)
            .iter()
            .filter_map(|t| match &t.kind {
                TokenKind::Word(w) => Some(matches!(w, Cow::Borrowed(_))),
                _ => None,
            })
            .collect();
        assert_eq!(words, borrowed, "{source}");
    }

    #[test]
    fn spans_cover_the_source() {
        let source = "f() { f | f & }";
        let tokens = tokenize(source);
        assert_eq!(tokens.first().map(|t| t.span.clone()), Some(0..1));
        assert_eq!(
            tokens.last().and_then(|t| source.get(t.span.clone())),
            Some("}")
        );
    }

    #[test]
    fn finds_command_names() {
        let tokens = tokenize("A=1 exec x y | then z >out w; ! q");
        let heads: Vec<&str> = tokens
            .iter()
            .zip(command_positions(&tokens))
            .filter(|(_, (head, _))| *head)
            .filter_map(|(t, _)| t.word())
            .collect();
        assert_eq!(heads, vec!["exec", "z", "q"]);
    }
}
