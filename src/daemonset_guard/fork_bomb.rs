//! Finds shell fork bombs: a function that multiplies itself (pipes a call of
//! itself into itself, or calls itself twice or in a loop, in the background),
//! has no base case, and is invoked. Any name, any spacing; scripts nested in
//! `sh -c '...'` or `eval '...'` are searched too.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::ops::Range;

use crate::arena;
use crate::workload::shell::{
    command_positions, is_assignment, is_variable_name, tokenize, Op, Token, TokenKind,
};

/// How deep `sh -c` / `eval` nesting is followed.
const MAX_NESTING: usize = 4;
const EXCERPT_CHARS: usize = 120;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkBomb {
    /// The function's name.
    pub function: String,
    /// How it multiplies, for messages.
    pub how: &'static str,
    /// The definition (and invocation), whitespace collapsed.
    pub excerpt: String,
    /// The index of the env entry whose value (read by `eval "$B"`) holds it.
    pub env: Option<usize>,
}

/// A variable's env entry (its index) and value, for `eval "$B"`.
pub type Lookup<'e> = &'e dyn Fn(&str) -> Option<(usize, &'e str)>;

/// The container's env as the scripts of one container read it: each
/// value is searched once per container (at the shallowest depth it is
/// reached), so the work stays linear however often it is referenced.
#[derive(Clone, Copy)]
pub struct EnvReader<'e> {
    pub lookup: Lookup<'e>,
    /// Per entry: the shallowest depth it was searched at (`usize::MAX`: not yet).
    pub read: &'e [Cell<usize>],
}

/// Bytes of nested scripts, and how many, read per script at every depth:
/// bounds the work of scripts that evaluate many or long texts.
pub const MAX_NESTED_BYTES: usize = 1024 * 1024;
pub const MAX_NESTED_SCRIPTS: usize = 10_000;

/// The nested scripts were more or longer than the budget allows: what
/// was left unread may hold a bomb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NestedTooLarge;

/// What is left of the nested scripts' budget.
struct Budget {
    bytes: usize,
    scripts: usize,
}

impl Budget {
    fn take(&mut self, script: &str) -> Result<(), NestedTooLarge> {
        self.bytes = self.bytes.checked_sub(script.len()).ok_or(NestedTooLarge)?;
        self.scripts = self.scripts.checked_sub(1).ok_or(NestedTooLarge)?;
        Ok(())
    }
}

/// Searches `script` for a fork bomb; `env`, when some variable of the
/// container's env may hold one, has the values the script does not assign.
pub fn find(script: &str, env: Option<EnvReader>) -> Result<Option<ForkBomb>, NestedTooLarge> {
    if !worth_reading(script, env.is_some()) {
        return Ok(None);
    }
    let mut budget = Budget {
        bytes: MAX_NESTED_BYTES,
        scripts: MAX_NESTED_SCRIPTS,
    };
    find_nested(script, 0, &mut budget, env)
}

/// Whether `script` may hold a bomb, itself or (`$B`) in variables read
/// from an env that may.
fn worth_reading(script: &str, env: bool) -> bool {
    may_hold_fork_bomb(script) || (env && script.contains('$'))
}

/// A fork bomb needs a function body (`{` or `(`) and `|` or `&` to
/// multiply. Quote removal only drops characters, so scripts nested in this
/// one hold a bomb only if this one (or a variable it reads) has those
/// characters too.
pub fn may_hold_fork_bomb(script: &str) -> bool {
    let has = |set: &[u8]| script.bytes().any(|b| set.contains(&b));
    has(b"|&") && has(b"{(")
}

/// Commands that run a here-document as a script.
const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "ksh", "zsh", "mksh"];

/// Whether `word` names a shell, with or without its path.
pub fn is_shell(word: &str) -> bool {
    // Every shell's name ends in `sh`: most words are ruled out without splitting.
    word.ends_with("sh") && SHELLS.contains(&word.rsplit('/').next().unwrap_or(word))
}

/// Words that end a function's recursion: a base case.
const GUARDS: &[&str] = &["if", "case", "return", "exit", "break"];

/// How many self-calls of one function are examined (bounds the work on
/// adversarial input; a real bomb needs two).
const MAX_SELF_CALLS: usize = 64;

struct Script<'s> {
    source: &'s str,
    tokens: Vec<Token<'s>>,
    /// Per token: (is a command name, stands at a command start).
    positions: Vec<(bool, bool)>,
    /// For `{` and `(`: the index of the matching close.
    closes: Vec<Option<usize>>,
    /// Where each command name occurs, in order.
    heads: BTreeMap<Cow<'s, str>, Vec<usize>>,
    /// Running counts before each token: guards, `do`, `done`.
    guards_before: Vec<usize>,
    dos_before: Vec<usize>,
    dones_before: Vec<usize>,
}

/// The pipeline scans of one function's self-calls.
#[derive(Default)]
struct Scans {
    /// The token after a self-call that a scan passed as a scan from the
    /// call would start (at its level), and which scan.
    passed: BTreeMap<usize, usize>,
    scans: Vec<Scan>,
}

struct Scan {
    /// The `|` passed at the scan's level, in order.
    pipes: Vec<usize>,
    end: Option<Op>,
    /// The earlier scan this one joined, and at which token.
    joined: Option<(usize, usize)>,
}

impl Scans {
    /// The first `|` at or after `from` in `scan` and the scans it joined.
    fn first_pipe(&self, mut scan: usize, mut from: usize) -> Option<usize> {
        while let Some(s) = self.scans.get(scan) {
            if let Some(pipe) = s.pipes.get(s.pipes.partition_point(|p| *p < from)) {
                return Some(*pipe);
            }
            (scan, from) = s.joined?;
        }
        None
    }
}

struct Definition {
    name: String,
    /// Index of the first token of the definition.
    start: usize,
    /// Tokens strictly inside the body.
    body: Range<usize>,
    /// Index of the body's closing token.
    end: usize,
}

fn count(prefix: &[usize], range: &Range<usize>) -> usize {
    let at = |i: usize| prefix.get(i).copied().unwrap_or(0);
    at(range.end).saturating_sub(at(range.start))
}

fn matching_closes(tokens: &[Token]) -> Vec<Option<usize>> {
    let mut closes = vec![None; tokens.len()];
    let mut open: Vec<(usize, Op)> = Vec::new();
    // Open braces on the stack; the rest are parentheses. A closer without
    // an opener of its kind is skipped at once, and a search down the stack
    // drops what it passes, so the whole pass stays linear.
    let mut braces = 0usize;
    for (index, token) in tokens.iter().enumerate() {
        let opener = match token.op() {
            Some(op @ (Op::LBrace | Op::LParen)) => {
                braces += usize::from(op == Op::LBrace);
                open.push((index, op));
                continue;
            }
            Some(Op::RBrace) => Op::LBrace,
            Some(Op::RParen) => Op::LParen,
            _ => continue,
        };
        let available = if opener == Op::LBrace {
            braces
        } else {
            open.len() - braces
        };
        // Unmatched closers (e.g. `a)` in case patterns) are skipped.
        if available == 0 {
            continue;
        }
        if let Some(depth) = open.iter().rposition(|(_, op)| *op == opener) {
            let rest = open.split_off(depth);
            braces -= rest.iter().filter(|(_, op)| *op == Op::LBrace).count();
            if let Some(slot) = rest.first().and_then(|(o, _)| closes.get_mut(*o)) {
                *slot = Some(index);
            }
        }
    }
    closes
}

impl<'s> Script<'s> {
    fn new(source: &'s str) -> Self {
        let tokens = tokenize(source);
        let positions = command_positions(&tokens);
        let closes = matching_closes(&tokens);
        let mut heads: BTreeMap<Cow<'s, str>, Vec<usize>> = BTreeMap::new();
        let mut guards_before = Vec::with_capacity(tokens.len().saturating_add(1));
        let mut dos_before = Vec::with_capacity(tokens.len().saturating_add(1));
        let mut dones_before = Vec::with_capacity(tokens.len().saturating_add(1));
        let (mut guards, mut dos, mut dones) = (0usize, 0usize, 0usize);
        for (index, (token, &(head, starts))) in tokens.iter().zip(&positions).enumerate() {
            guards_before.push(guards);
            dos_before.push(dos);
            dones_before.push(dones);
            match &token.kind {
                TokenKind::Word(word) => {
                    if head {
                        heads.entry(word.clone()).or_default().push(index);
                        // `$(f)` as a command runs `f` (in a subshell) first.
                        let inner = match word {
                            Cow::Borrowed(word) => substituted_name(word).map(Cow::Borrowed),
                            Cow::Owned(word) => {
                                substituted_name(word).map(|n| Cow::Owned(n.to_string()))
                            }
                        };
                        if let Some(inner) = inner {
                            heads.entry(inner).or_default().push(index);
                        }
                    }
                    if starts {
                        let word = word.as_ref();
                        guards = guards.saturating_add(usize::from(GUARDS.contains(&word)));
                        dos = dos.saturating_add(usize::from(word == "do"));
                        dones = dones.saturating_add(usize::from(word == "done"));
                    }
                }
                TokenKind::Op(_) | TokenKind::HereDoc(_) => {
                    let guard = matches!(token.op(), Some(Op::AndIf | Op::OrIf));
                    guards = guards.saturating_add(usize::from(guard));
                }
            }
        }
        guards_before.push(guards);
        dos_before.push(dos);
        dones_before.push(dones);
        Self {
            source,
            tokens,
            positions,
            closes,
            heads,
            guards_before,
            dos_before,
            dones_before,
        }
    }

    fn token(&self, index: usize) -> Option<&Token<'s>> {
        self.tokens.get(index)
    }

    fn is_op(&self, index: usize, op: Op) -> bool {
        self.token(index).is_some_and(|t| t.is_op(op))
    }

    fn word(&self, index: usize) -> Option<&str> {
        self.token(index).and_then(Token::word)
    }

    fn is_head(&self, index: usize) -> bool {
        self.positions.get(index).is_some_and(|p| p.0)
    }

    fn calls_of(&self, name: &str) -> &[usize] {
        self.heads.get(name).map_or(&[], Vec::as_slice)
    }

    /// A function definition starting at command name `index`:
    /// `name () body` or `function name [()] body`.
    fn definition_at(&self, index: usize) -> Option<Definition> {
        let first = self.word(index)?;
        let keyword = first == "function";
        let (name, mut next) = if keyword {
            (self.word(index.saturating_add(1))?, index.saturating_add(2))
        } else {
            (first, index.saturating_add(1))
        };
        if self.is_op(next, Op::LParen) && self.is_op(next.saturating_add(1), Op::RParen) {
            next = next.saturating_add(2);
        } else if !keyword {
            return None;
        }
        while self.is_op(next, Op::Newline) {
            next = next.saturating_add(1);
        }
        let close = self.closes.get(next).copied().flatten()?;
        Some(Definition {
            name: name.to_string(),
            start: index,
            body: next.saturating_add(1)..close,
            end: close,
        })
    }

    /// The operator ending the pipeline that the command at `index` belongs
    /// to, and the first `|` after the command, if any; looked for up to
    /// `last` (the body's closer). Balanced groups are stepped over whole,
    /// so a scan reads only its own level and the pass stays linear. A scan
    /// passing one of the `later` self-calls as a scan from it would start
    /// is noted in `scans`, and that scan shares its rest: calls in one long
    /// pipeline cost one scan.
    fn pipeline_end(
        &self,
        index: usize,
        last: usize,
        scans: &mut Scans,
        later: &[usize],
    ) -> (Option<Op>, Option<usize>) {
        let mut later = later.iter().peekable();
        let id = scans.scans.len();
        let mut depth = 0usize;
        let mut pipes = Vec::new();
        let mut end = None;
        let mut joined = None;
        let mut continued = false;
        let mut i = index.saturating_add(1);
        while i <= last {
            let Some(token) = self.tokens.get(i) else {
                break;
            };
            while later.next_if(|c| c.saturating_add(1) < i).is_some() {}
            if i == index.saturating_add(1) {
                if let Some(&scan) = scans.passed.get(&i) {
                    joined = Some((scan, i));
                    break;
                }
            } else if depth == 0
                && !continued
                && later.peek().is_some_and(|c| c.saturating_add(1) == i)
            {
                scans.passed.entry(i).or_insert(id);
            }
            let at = i;
            i = i.saturating_add(1);
            let Some(op) = token.op() else {
                continued = false;
                continue;
            };
            match op {
                Op::Redirect | Op::Backtick => {}
                Op::LParen | Op::LBrace => match self.closes.get(at).copied().flatten() {
                    Some(close) if close > at => i = close.saturating_add(1),
                    _ => depth = depth.saturating_add(1),
                },
                Op::RParen | Op::RBrace if depth > 0 => depth -= 1,
                // The end of a group the call ends (`(f) | (f) &`): the
                // group's pipeline is the call's.
                Op::RParen | Op::RBrace => {}
                Op::Pipe | Op::PipeAmp if depth == 0 => {
                    pipes.push(at);
                    continued = true;
                    continue;
                }
                Op::Newline if continued || depth > 0 => continue,
                // `{ f; } | { f; } &`: the call ends its group, whose
                // pipeline is the call's; the scan goes on at the closer.
                Op::Semi | Op::Newline if depth == 0 => match self.group_closer_after(at, last) {
                    Some(close) => i = close,
                    None => {
                        end = Some(op);
                        break;
                    }
                },
                _ if depth == 0 => {
                    end = Some(op);
                    break;
                }
                _ => {}
            }
            continued = false;
        }
        if let Some((scan, _)) = joined {
            end = scans.scans.get(scan).and_then(|s| s.end);
        }
        let first_pipe = pipes
            .first()
            .copied()
            .or_else(|| joined.and_then(|(scan, at)| scans.first_pipe(scan, at)));
        scans.scans.push(Scan { pipes, end, joined });
        (end, first_pipe)
    }

    /// The group closer after `at`, if only `;` and newlines stand between.
    fn group_closer_after(&self, at: usize, last: usize) -> Option<usize> {
        let mut i = at.saturating_add(1);
        while i <= last {
            match self.token(i).and_then(Token::op) {
                Some(Op::Semi | Op::Newline) => i = i.saturating_add(1),
                Some(Op::RBrace | Op::RParen) => return Some(i),
                _ => return None,
            }
        }
        None
    }

    fn judge(&self, definition: &Definition) -> Option<&'static str> {
        let body = &definition.body;
        let calls = self.calls_of(&definition.name);
        // `calls` is in order: skip to the body by binary search, not by a
        // scan per definition (quadratic with many definitions).
        // A nested definition of the same name is judged on its own: the
        // calls in its body are its own, so each call is examined once.
        let mut self_calls = Vec::new();
        let mut next = calls.partition_point(|i| *i < body.start);
        while let Some(&call) = calls.get(next) {
            if !body.contains(&call) || self_calls.len() >= MAX_SELF_CALLS {
                break;
            }
            next = match self.definition_at(call) {
                Some(inner) => calls.partition_point(|i| *i <= inner.end),
                None => {
                    self_calls.push(call);
                    next.saturating_add(1)
                }
            };
        }
        if self_calls.is_empty() || count(&self.guards_before, body) > 0 {
            return None;
        }
        let invoked = calls
            .iter()
            .any(|i| *i < definition.start || *i > definition.end);
        if !invoked {
            return None;
        }
        let mut backgrounded = false;
        let mut in_loop = false;
        let mut scans = Scans::default();
        // Calls sharing a `|` look for the command after it once.
        let mut after_pipe = None;
        for (n, &call) in self_calls.iter().enumerate() {
            let later = self_calls.get(n.saturating_add(1)..).unwrap_or_default();
            let (end, first_pipe) = self.pipeline_end(call, definition.end, &mut scans, later);
            if let Some(pipe) = first_pipe {
                let next = calls.get(calls.partition_point(|i| *i <= pipe));
                let next_head = match after_pipe {
                    Some((at, head)) if at == pipe => head,
                    _ => (pipe..=definition.end).find(|i| self.is_head(*i)),
                };
                after_pipe = Some((pipe, next_head));
                if next.is_some() && next == next_head.as_ref() {
                    return Some("pipes a call of itself into itself");
                }
            }
            if end == Some(Op::Amp) {
                backgrounded = true;
                let before = body.start..call;
                in_loop |= count(&self.dos_before, &before) > count(&self.dones_before, &before);
            }
        }
        if backgrounded && self_calls.len() >= 2 {
            Some("calls itself twice in the background")
        } else if in_loop {
            Some("calls itself in the background in a loop")
        } else {
            None
        }
    }

    fn excerpt(&self, definition: &Definition) -> String {
        let start = self.token(definition.start).map_or(0, |t| t.span.start);
        let invocation = self
            .calls_of(&definition.name)
            .iter()
            .find(|i| **i > definition.end)
            .or(Some(&definition.end));
        let end = invocation
            .and_then(|i| self.token(*i))
            .map_or(self.source.len(), |t| t.span.end);
        let text = self.source.get(start..end).unwrap_or(self.source);
        shorten(collapse_whitespace(text), EXCERPT_CHARS)
    }

    /// Nested scripts: the script of a shell's `-c` (also `-ec`, `-ce`,
    /// `-c -x`) or of another program's (`su -c`), the arguments of `eval`,
    /// and here-documents and here-strings fed to a shell. A `$B` argument
    /// stands for the value assigned to `B` earlier, or else `B`'s value in
    /// `env`; each value is read once. Only texts that may hold a bomb.
    fn nested_scripts<'a, 'e: 'a>(
        &'a self,
        env: Option<Lookup<'e>>,
    ) -> Vec<(&'a str, Option<usize>)> {
        let mut nested = Vec::new();
        let mut in_eval = false;
        // A shell without `-c` or a script file reads its script from stdin.
        let mut shell_reads_stdin = false;
        let mut stdin_forced = false;
        let mut after_redirect = false;
        let mut here_string = false;
        let mut shell = ShellArgs::default();
        // `echo '<script>' | sh`: the operands of the `echo` or `printf` being
        // read, and the one operand piped into the current command.
        let mut echoed: Option<(usize, &'a str)> = None;
        let mut piped: Option<&'a str> = None;
        // Values assigned (or read from `env`), and whether one was taken.
        let mut assigned: BTreeMap<&str, (&str, bool)> = BTreeMap::new();
        let mut push = |text: &'a str, entry: Option<usize>| {
            if worth_reading(text, env.is_some()) {
                nested.push((text, entry));
            }
        };
        for (index, token) in self.tokens.iter().enumerate() {
            if let Some(body) = token.here_doc() {
                if shell_reads_stdin {
                    push(body, None);
                }
                continue;
            }
            let Some(word) = token.word() else {
                let is_pipe = |t: &Token| matches!(t.op(), Some(Op::Pipe | Op::PipeAmp));
                // A newline after `|` continues the pipeline.
                let continued = token.is_op(Op::Newline)
                    && index
                        .checked_sub(1)
                        .and_then(|p| self.token(p))
                        .is_some_and(is_pipe);
                if !token.is_op(Op::Redirect) && !continued {
                    if let Some(text) = piped.take().filter(|_| shell_reads_stdin) {
                        if let Some((text, entry)) = resolve(text, &mut assigned, env) {
                            push(text, entry);
                        }
                    }
                    if is_pipe(token) {
                        piped = echoed.and_then(|(operands, text)| (operands == 1).then_some(text));
                    }
                    echoed = None;
                }
                in_eval = false;
                after_redirect = token.is_op(Op::Redirect);
                here_string = after_redirect
                    && self
                        .source
                        .get(token.span.clone())
                        .is_some_and(|op| op.starts_with("<<<"));
                if !after_redirect {
                    shell = ShellArgs::default();
                    if !token.is_op(Op::Newline) {
                        shell_reads_stdin = false;
                        stdin_forced = false;
                    }
                }
                continue;
            };
            if let Some((name, value)) = word.split_once('=').filter(|_| is_assignment(word)) {
                assigned.insert(name, (value, false));
            }
            if std::mem::take(&mut after_redirect) {
                // `bash <<< 'script'`: the word is the shell's script.
                if std::mem::take(&mut here_string) && shell_reads_stdin {
                    if let Some((text, entry)) = resolve(word, &mut assigned, env) {
                        push(text, entry);
                    }
                }
                continue;
            }
            if self.is_head(index) {
                in_eval = word == "eval";
                shell_reads_stdin = is_shell(word);
                stdin_forced = false;
                shell = ShellArgs::default();
                echoed = is_echo(word).then_some((0, ""));
            } else if let Some((operands, text)) = &mut echoed {
                if *operands > 0 || !is_echo_option(word) {
                    *operands = operands.saturating_add(1);
                    // `printf '<script>\n'`: the newline it prints ends the script.
                    *text = word.strip_suffix("\\n").unwrap_or(word);
                }
            }
            let script = shell.is_script(word);
            if !script && !shell.active && is_shell(word) {
                // `exec bash -c`, `timeout 5 sh -c`: a shell's options follow;
                // without `-c` or a file it reads stdin (`exec bash <<EOF`).
                shell.active = true;
                shell_reads_stdin = true;
                stdin_forced = false;
                continue;
            }
            if self.is_head(index) {
                continue;
            }
            if shell_reads_stdin && is_s_option(word) {
                // `-s`: the script is stdin, the remaining words are its arguments.
                stdin_forced = true;
            } else if !stdin_forced && (!word.starts_with('-') || shell.c) {
                shell_reads_stdin = false;
            }
            let after_c = index
                .checked_sub(1)
                .and_then(|p| self.word(p))
                .is_some_and(is_c_option);
            if !(in_eval || after_c || script) {
                continue;
            }
            if let Some((text, entry)) = resolve(word, &mut assigned, env) {
                push(text, entry);
            }
        }
        if let Some(text) = piped.filter(|_| shell_reads_stdin) {
            if let Some((text, entry)) = resolve(text, &mut assigned, env) {
                push(text, entry);
            }
        }
        nested
    }
}

/// The script `word` stands for: itself, or for `$B` the value assigned to
/// `B` earlier, or else in the env (with its entry); none when that value
/// was taken already.
fn resolve<'a, 'e: 'a>(
    word: &'a str,
    assigned: &mut BTreeMap<&'a str, (&'a str, bool)>,
    env: Option<Lookup<'e>>,
) -> Option<(&'a str, Option<usize>)> {
    let Some(name) = variable_name(word) else {
        return Some((word, None));
    };
    match assigned.get_mut(name) {
        Some((_, true)) => None,
        Some((value, taken)) => {
            *taken = true;
            Some((*value, None))
        }
        None => env.and_then(|env| env(name)).map(|(entry, value)| {
            assigned.insert(name, (value, true));
            (value, Some(entry))
        }),
    }
}

/// `echo` or `printf`, with or without its path.
fn is_echo(word: &str) -> bool {
    (word.ends_with("echo") || word.ends_with("printf"))
        && matches!(word.rsplit('/').next(), Some("echo" | "printf"))
}

/// `-n`, `-e`, `-E` and their clusters, which `echo` reads before its operands.
fn is_echo_option(word: &str) -> bool {
    word.strip_prefix('-')
        .is_some_and(|flags| !flags.is_empty() && flags.bytes().all(|b| b"neE".contains(&b)))
}

/// A shell's arguments as bash reads them: options (clusters such as
/// `-ce`, `-o name`, `--rcfile file`) up to `--` or the first operand,
/// which is the script when an option cluster held `c`.
#[derive(Default)]
struct ShellArgs {
    /// After a shell's name, before its first operand.
    active: bool,
    /// `c` was among the options.
    c: bool,
    /// Words still taken as option arguments (`-o pipefail`).
    arguments: usize,
    /// After `--` or `-`: the next word is the operand.
    ended: bool,
}

impl ShellArgs {
    /// Reads `word`; whether it is the `-c` script.
    fn is_script(&mut self, word: &str) -> bool {
        if !self.active {
            return false;
        }
        if self.arguments > 0 {
            self.arguments -= 1;
            return false;
        }
        if !self.ended {
            if word == "--" || word == "-" {
                self.ended = true;
                return false;
            }
            if let Some(long) = word.strip_prefix("--") {
                self.arguments = usize::from(matches!(long, "rcfile" | "init-file"));
                return false;
            }
            if let Some(flags) = word.strip_prefix(['-', '+']).filter(|f| !f.is_empty()) {
                self.c |= word.starts_with('-') && flags.contains('c');
                self.arguments = flags.matches(['o', 'O']).count();
                return false;
            }
        }
        self.active = false;
        std::mem::take(&mut self.c)
    }
}

/// `B` of a word that is only a reference `$B` or `${B}`.
fn variable_name(word: &str) -> Option<&str> {
    let reference = word.strip_prefix('$')?;
    let name = match reference.strip_prefix('{') {
        Some(braced) => braced.strip_suffix('}')?,
        None => reference,
    };
    is_variable_name(name).then_some(name)
}

/// `-s`, or a cluster of short options with `s` and without `c`, such as `-es`.
/// `f` of a word that is only a command substitution `$(f)`.
fn substituted_name(word: &str) -> Option<&str> {
    let inner = word.strip_prefix("$(")?.strip_suffix(')')?.trim();
    let simple = !inner.is_empty()
        && !inner.contains(|c: char| c.is_whitespace() || "$()`;&|<>\"'".contains(c));
    simple.then_some(inner)
}

fn is_s_option(word: &str) -> bool {
    word.strip_prefix('-').is_some_and(|flags| {
        flags.contains('s')
            && !flags.contains('c')
            && flags.chars().all(|c| c.is_ascii_alphabetic())
    })
}

/// `-c`, or a cluster of short options ending in `c` such as `-ec`, `-xc`.
fn is_c_option(word: &str) -> bool {
    word.strip_prefix('-')
        .is_some_and(|flags| flags.ends_with('c') && flags.chars().all(|c| c.is_ascii_alphabetic()))
}

/// `text`'s words joined by single spaces, as `split_whitespace` and `join(" ")` give them.
fn collapse_whitespace(text: &str) -> String {
    let mut collapsed = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars() {
        if c.is_whitespace() {
            gap = !collapsed.is_empty();
        } else {
            if std::mem::take(&mut gap) {
                collapsed.push(' ');
            }
            collapsed.push(c);
        }
    }
    collapsed
}

/// `text` cut to `max` characters, with `…` where it was cut.
fn shorten(mut text: String, max: usize) -> String {
    if let Some((cut, _)) = text.char_indices().nth(max) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

fn find_nested(
    source: &str,
    depth: usize,
    budget: &mut Budget,
    env: Option<EnvReader>,
) -> Result<Option<ForkBomb>, NestedTooLarge> {
    let script = Script::new(source);
    for index in 0..script.tokens.len() {
        if !script.is_head(index) {
            continue;
        }
        let Some(definition) = script.definition_at(index) else {
            continue;
        };
        if let Some(how) = script.judge(&definition) {
            return Ok(Some(ForkBomb {
                function: definition.name.clone(),
                how,
                excerpt: script.excerpt(&definition),
                env: None,
            }));
        }
    }
    if depth >= MAX_NESTING {
        return Ok(None);
    }
    let depth = depth.saturating_add(1);
    for (nested, entry) in script.nested_scripts(env.map(|env| env.lookup)) {
        // An env value already searched as deep (for this container) is skipped.
        let read = entry.and_then(|entry| env?.read.get(entry));
        if read.is_some_and(|read| read.get() <= depth) {
            continue;
        }
        budget.take(nested)?;
        if let Some(read) = read {
            read.set(depth);
        }
        // SAFETY: what the scan allocates stays in it; a bomb found is
        // copied out of the arena before its memory is given back.
        let found = unsafe {
            arena::reclaiming(|| {
                find_nested(nested, depth, budget, env)
                    .map(|found| found.map(|bomb| arena::lasting(|| bomb.clone())))
            })
        }?;
        if let Some(mut bomb) = found {
            bomb.env = bomb.env.or(entry);
            return Ok(Some(bomb));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// `super::find` with an empty env.
    fn find(script: &str) -> Option<ForkBomb> {
        super::find(script, None).expect("read")
    }

    #[rstest]
    #[case::classic(":(){ :|:& };:", ":")]
    #[case::no_spaces(":(){:|:&};:", ":")]
    #[case::spaced(": ( ) { : | : & } ; :", ":")]
    #[case::named("bomb() { bomb | bomb & }; bomb", "bomb")]
    #[case::short("f(){ f|f & };f", "f")]
    #[case::function_keyword("function x { x | x & }; x", "x")]
    #[case::function_keyword_parens("function x() { x | x & }; x", "x")]
    #[case::newlines("boom()\n{\n  boom |\n  boom &\n}\nboom\n", "boom")]
    #[case::tabs_and_semicolon("\tf ( )\t{ f|f& } ;\n\n f", "f")]
    #[case::without_ampersand(":(){ :|: };:", ":")]
    #[case::twice_background("g() { g & g & }; g", "g")]
    #[case::loop_background("h() { while true; do h & done; }; h", "h")]
    #[case::subshell_body("f() ( f | f & ); f", "f")]
    #[case::pipe_amp("f(){ f |& f & }; f", "f")]
    #[case::nested_sh_c("sh -c ':(){ :|:& };:'", ":")]
    #[case::nested_bash_ec(r#"exec bash -ec "b(){ b|b& }; b""#, "b")]
    #[case::nested_eval("eval 'x(){ x|x& };x'", "x")]
    #[case::doubly_nested(r#"sh -c "bash -c ':(){ :|:& };:'""#, ":")]
    #[case::invoked_backgrounded(":(){ :|:& };: &", ":")]
    #[case::in_longer_script(
        "set -e\necho starting load test\nload() { load | load & }\nload\nsleep 3600",
        "load"
    )]
    #[case::unicode_name("ф(){ ф|ф& };ф", "ф")]
    #[case::here_doc_to_shell("/bin/sh <<'EOF'\n:(){ :|:& };:\nEOF\n", ":")]
    #[case::here_doc_to_bash_s("bash -s -- arg <<-EOF\n\tf(){ f|f& };f\n\tEOF\n", "f")]
    #[case::here_string_to_bash("bash <<< ':(){ :|:& };:'", ":")]
    #[case::subshell_calls("f(){ (f) | (f) & }; f", "f")]
    #[case::subshell_calls_classic(":(){ (:)|(:)& };:", ":")]
    #[case::substituted_calls("f(){ $(f) | $(f) & }; f", "f")]
    #[case::group_calls("f(){ { f; } | { f; } & }; f", "f")]
    #[case::group_calls_on_lines("f() {\n  { echo; f\n  } | { f; } &\n}\nf", "f")]
    #[case::eval_of_variable("B=':(){ :|:& };:'; eval \"$B\"", ":")]
    #[case::sh_c_of_braced_variable("export B='x(){ x|x& };x'\nsh -c \"${B}\"", "x")]
    #[case::bash_ce("bash -ce ':(){ :|:& };:'", ":")]
    #[case::bash_cex("exec bash -cex ':(){ :|:& };:'", ":")]
    #[case::bash_c_then_option("bash -c -x ':(){ :|:& };:'", ":")]
    #[case::bash_c_then_option_argument("bash -c -o pipefail ':(){ :|:& };:' name", ":")]
    #[case::bash_c_options_ended("bash -c -- ':(){ :|:& };:'", ":")]
    #[case::bash_long_option_first("bash --norc --rcfile /x -lc ':(){ :|:& };:'", ":")]
    #[case::shell_after_other_program("timeout 60 /bin/sh -e -c ':(){ :|:& };:'", ":")]
    #[case::echoed_into_bash("echo ':(){ :|:& };:' | bash", ":")]
    #[case::echoed_with_option_into_sh("/bin/echo -n 'f(){ f|f& };f' | /bin/sh -s", "f")]
    #[case::printed_into_sh("printf 'b(){ b|b& };b\\n' |\nsh", "b")]
    #[case::echoed_into_shell_then_more("echo ':(){ :|:& };:' | sh; echo done", ":")]
    #[case::echoed_into_busybox_sh("echo ':(){ :|:& };:' | busybox sh", ":")]
    #[case::echoed_into_exec_sh("echo ':(){ :|:& };:' | exec sh", ":")]
    #[case::here_doc_to_busybox_sh("busybox sh <<'EOF'\n:(){ :|:& };:\nEOF\n", ":")]
    #[case::here_doc_to_exec_bash("exec bash <<'EOF'\n:(){ :|:& };:\nEOF", ":")]
    #[case::here_doc_to_timeout_bash("timeout 3600 bash <<'EOF'\n:(){ :|:& };:\nEOF", ":")]
    #[case::here_doc_to_env_bash_s("env bash -s <<'EOF'\n:(){ :|:& };:\nEOF", ":")]
    #[case::here_doc_to_nice_sh("nice -n 10 sh <<'EOF'\n:(){ :|:& };:\nEOF", ":")]
    #[case::assigned_and_echoed_into_bash("B=':(){ :|:& };:'; echo \"$B\" | bash", ":")]
    #[case::assigned_here_string_to_bash("B=':(){ :|:& };:'; bash <<< \"$B\"", ":")]
    fn finds_fork_bombs(#[case] script: &str, #[case] function: &str) {
        let bomb = find(script).unwrap_or_else(|| panic!("no bomb found in {script}"));
        assert_eq!(bomb.function, function);
    }

    const ENTRYPOINT: &str = r#"#!/bin/sh
set -eu
log() { echo "$(date -u +%FT%TZ) $*" >&2; }
retry() {
  n=0
  until "$@"; do
    n=$((n+1))
    if [ "$n" -ge 5 ]; then log "giving up on $*"; return 1; fi
    sleep $((n*2))
  done
}
wait_for() { retry nc -z "$1" "$2"; }
wait_for db 5432 &
wait_for cache 6379 &
wait
for f in /docker-entrypoint.d/*.sh; do [ -x "$f" ] && "$f"; done
cat /etc/config/*.conf | grep -v '^#' | sort -u > /tmp/merged.conf
trap 'kill -TERM $child 2>/dev/null' TERM INT
exec "$@" &
child=$!
wait "$child"
"#;

    const RECURSIVE: &str = r#"
walk() {
  for entry in "$1"/*; do
    if [ -d "$entry" ]; then walk "$entry" & else echo "$entry"; fi
  done
  wait
}
walk /data | sort | uniq -c
fib() { [ "$1" -le 1 ] && { echo "$1"; return; }; echo $(( $(fib $(($1-1))) + $(fib $(($1-2))) )); }
fib 10
"#;

    #[rstest]
    #[case::empty("")]
    #[case::plain_command("nginx -g 'daemon off;'")]
    #[case::entrypoint(ENTRYPOINT)]
    #[case::recursive_with_base_case(RECURSIVE)]
    #[case::background_and_pipes("producer | consumer & worker | tee log & wait")]
    #[case::defined_not_invoked(":(){ :|:& }")]
    #[case::only_mentioned("echo ':(){ :|:& };:' is a fork bomb")]
    #[case::grep_for_it(r#"grep -F ':(){ :|:& };:' /var/log/audit.log || true"#)]
    #[case::single_background_call("f() { f & }; f")]
    #[case::pipe_to_other("f() { f | cat & }; f")]
    #[case::calls_other("f() { g | g & }; f")]
    #[case::guarded_pipe(r#"f() { [ "$1" -gt 0 ] && f $(($1-1)) | f $(($1-1)) & }; f 3"#)]
    #[case::if_guard("f() { if [ $1 -gt 0 ]; then f $(($1-1)) & f $(($1-1)) & fi; wait; }; f 3")]
    #[case::unterminated_body("f() { f | f & ; f")]
    #[case::word_equal_name("f() { echo f | f2 & }; f")]
    #[case::find_exec("find . -name '*.log' -exec gzip {} \\; &")]
    #[case::brace_expansion("cp file{,.bak} && mkdir -p a/{b,c} &")]
    #[case::heredoc_like("cat <<EOF | sh &\necho hi\nEOF")]
    #[case::here_string_to_cat("cat <<< ':(){ :|:& };:'")]
    #[case::subshell_call_then_more("f() { (f; echo) | cat & }; f")]
    #[case::substitution_with_arguments("f() { $(f 1) | g & }; f")]
    #[case::group_call_then_more("f() { { f; echo; } | cat & }; f")]
    #[case::sequential_recursion_in_group("f() { { f; }; }; f")]
    #[case::eval_of_unassigned_variable("eval \"$B\" | cat &")]
    #[case::eval_of_harmless_variable("B='f(){ echo; }; f'; eval \"$B\" &")]
    #[case::eval_of_harmless_env_variable("eval \"$HARMLESS\" | cat &")]
    #[case::assignment_hides_env_variable("LOAD='echo hi'; eval \"$LOAD\" &")]
    #[case::bash_script_file_argument("bash -e ./run.sh ':(){ :|:& };:'")]
    #[case::bash_option_argument("bash -o ':(){ :|:& };:' -c 'echo hi'")]
    #[case::unbalanced_quotes("echo \"unterminated | f & ")]
    #[case::here_doc_to_file(
        "cat <<'EOF' > /usr/share/doc/bomb.txt\n:(){ :|:& };:\nEOF\necho done"
    )]
    #[case::echoed_into_a_file("echo ':(){ :|:& };:' > /tmp/bomb.txt")]
    #[case::echoed_into_other_program("echo ':(){ :|:& };:' | wc -c &")]
    #[case::echoed_into_shell_script("echo ':(){ :|:& };:' | sh ./count.sh")]
    #[case::echoed_into_shell_c("echo ':(){ :|:& };:' | sh -c 'wc -c'")]
    #[case::echo_of_two_operands("echo ':(){ :|:& };:' x | sh")]
    #[case::here_doc_to_wrapped_shell_script("timeout 5 sh ./run.sh <<'EOF'\n:(){ :|:& };:\nEOF")]
    #[case::echoed_into_wrapped_shell_c("echo ':(){ :|:& };:' | exec sh -c 'wc -c'")]
    fn accepts_ordinary_scripts(#[case] script: &str) {
        assert_eq!(find(script), None, "{script}");
    }

    /// What `eval "$LOAD"` finds in the env of the tests below.
    fn test_env(name: &str) -> Option<(usize, &'static str)> {
        match name {
            "LOAD" => Some((0, "load(){ load|load& }; load")),
            "HARMLESS" => Some((1, "f(){ echo | cat & }; f")),
            "NESTED" => Some((2, r#"sh -c 'sh -c "eval \"$LOAD\""'"#)),
            _ => None,
        }
    }

    /// `super::find` of each script in turn with the test env, as the
    /// elements of one container: the functions found.
    fn find_with_env(scripts: &[&str]) -> Vec<Option<(String, Option<usize>)>> {
        let read = vec![Cell::new(usize::MAX); 3];
        let lookup = |name: &str| test_env(name);
        let env = EnvReader {
            lookup: &lookup,
            read: &read,
        };
        scripts
            .iter()
            .map(|script| {
                let found = super::find(script, Some(env)).expect("read");
                found.map(|b| (b.function, b.env))
            })
            .collect()
    }

    #[rstest]
    #[case::eval_of_env_variable("eval \"$LOAD\"", Some("load"))]
    #[case::bash_c_of_env_variable("echo start; bash -c \"${LOAD}\"", Some("load"))]
    #[case::sh_c_of_env_variable("sh -c \"$LOAD\"", Some("load"))]
    #[case::nested_eval_of_env_variable("sh -c 'eval \"$LOAD\"'", Some("load"))]
    #[case::harmless_env_variable("eval \"$HARMLESS\" | cat &", None)]
    #[case::assigned_first("LOAD='x | y &'; eval \"$LOAD\"", None)]
    #[case::unknown_variable("eval \"$OTHER\" | cat &", None)]
    #[case::only_printed("echo \"$LOAD\" | cat &", None)]
    #[case::echoed_into_bash("echo \"$LOAD\" | bash", Some("load"))]
    #[case::here_string_to_bash("bash <<< \"$LOAD\"", Some("load"))]
    fn reads_variables_from_the_env(#[case] script: &str, #[case] function: Option<&str>) {
        let found = find_with_env(&[script]).remove(0);
        assert_eq!(found.map(|b| b.0).as_deref(), function, "{script}");
    }

    /// Review regression: each element of a command read the same env value
    /// again, 2,000 times 10 KB exceeded the deadline.
    #[rstest]
    #[case::read_once(&["eval $LOAD", "eval $LOAD"], &[Some(("load", Some(0))), None])]
    #[case::harmless_read_once(&["eval $HARMLESS", "sh -c \"$HARMLESS\""], &[None, None])]
    #[case::deeper_first_then_shallower(&[r#"sh -c 'eval "$NESTED"'"#, r#"eval "$NESTED""#], &[None, Some(("load", Some(0)))])]
    #[case::shallower_first(&["eval \"$HARMLESS\"", "sh -c 'eval \"$HARMLESS\"'"], &[None, None])]
    fn env_values_are_read_once_per_container(
        #[case] scripts: &[&str],
        #[case] expected: &[Option<(&str, Option<usize>)>],
    ) {
        let found = find_with_env(scripts);
        let found: Vec<_> = found
            .iter()
            .map(|f| f.as_ref().map(|(name, env)| (name.as_str(), *env)))
            .collect();
        assert_eq!(found, expected, "{scripts:?}");
    }

    #[rstest]
    #[case::plain(&["-c", "x", "y"], Some(1))]
    #[case::cluster_ending_in_c(&["-ec", "x"], Some(1))]
    #[case::cluster_starting_with_c(&["-ce", "x"], Some(1))]
    #[case::options_after_c(&["-c", "-x", "+e", "x"], Some(3))]
    #[case::option_arguments(&["-co", "pipefail", "-O", "extglob", "x"], Some(4))]
    #[case::two_option_arguments(&["-oOc", "pipefail", "extglob", "x"], Some(3))]
    #[case::long_options(&["--login", "--init-file", "-c", "-c", "x"], Some(4))]
    #[case::double_dash(&["-c", "--", "-x"], Some(2))]
    #[case::single_dash(&["-c", "-", "-x"], Some(2))]
    #[case::plus_c_is_no_script(&["+c", "x"], None)]
    #[case::script_file(&["-e", "file", "-c", "x"], None)]
    #[case::no_operand(&["-c"], None)]
    fn shell_arguments_as_bash_reads_them(#[case] words: &[&str], #[case] script: Option<usize>) {
        let mut shell = ShellArgs {
            active: true,
            ..ShellArgs::default()
        };
        let found: Vec<usize> = (0..words.len())
            .filter(|i| shell.is_script(words[*i]))
            .collect();
        assert_eq!(found, script.into_iter().collect::<Vec<_>>(), "{words:?}");
    }

    #[test]
    fn nested_scripts_are_read_once_and_only_if_they_may_hold_a_bomb() {
        let script = Script::new(
            "B='x | y &(' ; eval $B; eval \"$B\"; sh -c ${B}; eval 'a b'; eval LOAD; eval $LOAD $LOAD",
        );
        let env = |name: &str| (name == "LOAD").then_some((3, "{ a | b; }"));
        assert_eq!(
            script.nested_scripts(Some(&env)),
            [("x | y &(", None), ("{ a | b; }", Some(3))]
        );
    }

    /// Review regression: each `$B` (or word) was read again and kept in
    /// memory, so a long value evaluated many times ran out of memory.
    #[rstest]
    #[case::one_value_evaluated_often(format!("B='{}'\n{}", "x|{ ".repeat(25_000), "eval $B\n".repeat(2_000)), Ok(None))]
    #[case::one_value_run_often(format!("B='{}'\n{}", "x|{ ".repeat(25_000), "sh -c $B\n".repeat(2_000)), Ok(None))]
    #[case::many_words_without_bombs(format!("eval {} &(", "a ".repeat(700_000)), Ok(None))]
    #[case::long_words_past_the_budget(format!("eval {}", "'a|{' ".repeat(400_000)), Err(NestedTooLarge))]
    #[case::many_words_past_the_budget(format!("eval {}", "'a|{' ".repeat(MAX_NESTED_SCRIPTS + 1)), Err(NestedTooLarge))]
    #[case::bomb_in_the_budget(format!("eval {} ':(){{ :|:& }};:'", "'a|{' ".repeat(MAX_NESTED_SCRIPTS - 1)), Ok(Some(":")))]
    fn nested_scripts_are_bounded(
        #[case] script: String,
        #[case] expected: Result<Option<&str>, NestedTooLarge>,
    ) {
        let found = super::find(&script, None);
        let found = found.map(|bomb| bomb.map(|b| b.function));
        assert_eq!(
            found.as_ref().map(Option::as_deref),
            expected.as_ref().map(|f| *f)
        );
    }

    /// Review regression: a run of `;` or newlines before a closer was
    /// rescanned from each of its separators.
    #[rstest]
    #[case::newlines(format!("f(){{ f{}}}\nf &", "\n".repeat(200_000)), None)]
    #[case::semicolons(format!("f(){{ f{}}}\nf &", " ;".repeat(200_000)), None)]
    #[case::bomb_after_a_run(format!("f(){{ {{ f{}}} | {{ f; }} & }}; f", ";\n".repeat(100_000)), Some("f"))]
    fn separator_runs_are_linear(#[case] script: String, #[case] function: Option<&str>) {
        assert_eq!(find(&script).map(|b| b.function).as_deref(), function);
    }

    /// Review regression: each self-call in one long pipeline scanned the
    /// rest of it again (64 calls of a 1.36 MB script exceeded the deadline).
    #[rstest]
    #[case::long_pipeline(format!("a(){{ {}x; }}; a", "a|x|".repeat(100_000)), None)]
    #[case::bomb_after_a_pipeline(format!("a(){{ {}x; a | a & }}; a", "a|x|".repeat(10)), Some(("a", "pipes a call of itself into itself")))]
    #[case::shared_end(String::from("a(){ x | a | x | a & }; a"), Some(("a", "calls itself twice in the background")))]
    #[case::shared_end_of_groups(String::from("a(){ (a) | x | { a; } | x & }; a"), Some(("a", "calls itself twice in the background")))]
    #[case::pipe_after_a_shared_part(String::from("a(){ a | x; a | a & }; a"), Some(("a", "pipes a call of itself into itself")))]
    #[case::own_pipelines(String::from("a(){ a | x; a | x; }; a"), None)]
    fn calls_in_one_pipeline_share_its_scan(
        #[case] script: String,
        #[case] expected: Option<(&str, &str)>,
    ) {
        let found = find(&script);
        assert_eq!(
            found.as_ref().map(|b| (b.function.as_str(), b.how)),
            expected
        );
    }

    #[rstest]
    #[case::plain_command("nginx -g 'daemon off;'", false)]
    #[case::no_body("f | f &", false)]
    #[case::no_operator("f() { f; f; }; f", false)]
    #[case::and_list("test -f /ready && exec app --config=/etc/app.yaml", false)]
    #[case::classic(":(){ :|:& };:", true)]
    #[case::subshell_pipe("f() ( f | f ); f", true)]
    #[case::quoted_nested(r#"sh -c ":\(\){ :|:& };:""#, true)]
    fn cheap_check_keeps_every_candidate(#[case] script: &str, #[case] candidate: bool) {
        assert_eq!(may_hold_fork_bomb(script), candidate, "{script}");
    }

    #[test]
    fn excerpt_shows_definition_and_invocation() {
        let bomb = find("echo hi\nbomb() {\n  bomb | bomb &\n}\nbomb\nsleep 1").expect("bomb");
        assert_eq!(bomb.excerpt, "bomb() { bomb | bomb & } bomb");
        assert_eq!(bomb.how, "pipes a call of itself into itself");
    }

    #[rstest]
    #[case::empty("")]
    #[case::blank(" \t\n ")]
    #[case::single("a")]
    #[case::edges("  a  b\t\tc\n")]
    #[case::unicode_spaces("x\u{a0}y\u{2003}\u{3000}z\u{85}w")]
    #[case::multibyte_words("gro\u{df} \u{1f4a3}()  {\n \u{1f4a3}|\u{1f4a3}& }")]
    fn whitespace_collapses_as_split_and_join(#[case] text: &str) {
        let expected = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(collapse_whitespace(text), expected);
    }

    #[rstest]
    #[case::shorter("abc", 4, "abc")]
    #[case::exact("abcd", 4, "abcd")]
    #[case::longer("abcde", 4, "abcd…")]
    #[case::multibyte_cut("\u{df}\u{df}\u{1f4a3}\u{1f4a3}\u{df}", 3, "\u{df}\u{df}\u{1f4a3}…")]
    #[case::empty("", 0, "")]
    #[case::zero("a", 0, "…")]
    fn shortening_keeps_max_characters(
        #[case] text: &str,
        #[case] max: usize,
        #[case] expected: &str,
    ) {
        let old = if text.chars().count() > max {
            let mut short: String = text.chars().take(max).collect();
            short.push('…');
            short
        } else {
            text.to_string()
        };
        assert_eq!(old, expected);
        assert_eq!(shorten(text.to_string(), max), expected);
    }

    #[test]
    fn long_excerpts_are_shortened() {
        let script = format!("f() {{ f | f & {} }}; f", "x=1; ".repeat(100));
        let bomb = find(&script).expect("bomb");
        assert!(bomb.excerpt.ends_with('…'));
        assert_eq!(bomb.excerpt.chars().count(), EXCERPT_CHARS + 1);
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut script = ":(){ :|:& };:".to_string();
        for _ in 0..10 {
            script = format!("sh -c '{}'", script.replace('\'', "'\\''"));
        }
        assert_eq!(find(&script), None);
    }

    /// Fuzzing regression: each definition scanned every call of its name,
    /// quadratic in the number of definitions.
    #[rstest]
    #[case::many_definitions("f(){ f; }; ", None)]
    #[case::many_definitions_then_bomb("f(){ f; }; ", Some(":(){ :|:& };:"))]
    fn many_definitions_are_linear(#[case] unit: &str, #[case] tail: Option<&str>) {
        let script = format!("{}{}", unit.repeat(40_000), tail.unwrap_or(""));
        let found = find(&script).map(|b| b.function);
        assert_eq!(found.as_deref(), tail.map(|_| ":"));
    }

    #[test]
    fn large_scripts_are_fast() {
        let script = ENTRYPOINT.repeat(500);
        assert_eq!(find(&script), None);
    }
}
