//! Tokens of the rule SQL, as emqx/rulesql's `sql_lex.xrl` cuts them:
//! single-quoted text is a string, double-quoted text is a name (a column,
//! or a topic in FROM), `[1..3]` written without spaces is one range token,
//! `--` starts a comment that runs to the end of the line, and keywords are
//! case-insensitive.

use super::ParseError;

/// Where a token starts: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    pub(crate) fn error(self, message: impl Into<String>) -> ParseError {
        ParseError {
            message: message.into(),
            line: self.line,
            column: self.column,
        }
    }
}

/// The comparison operators (`COMPARISON` in rulesql).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    /// `=~`: the topic on the left matches the filter on the right.
    Match,
}

impl CmpOp {
    /// How EMQX prints the operator (`~p` of its atom), for unnamed fields.
    pub(crate) fn erlang(self) -> &'static str {
        match self {
            CmpOp::Eq => "'='",
            CmpOp::Ne => "'!='",
            CmpOp::Lt => "'<'",
            CmpOp::Gt => "'>'",
            CmpOp::Le => "'<='",
            CmpOp::Ge => "'>='",
            CmpOp::Match => "'=~'",
        }
    }
}

/// Words that are never names (rulesql's `?KEYWORDS`; `IF` and `ELSIF` are
/// reserved without being used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kw {
    Select,
    Foreach,
    Do,
    Incase,
    From,
    Where,
    As,
    And,
    Or,
    Not,
    In,
    Case,
    When,
    Then,
    Else,
    End,
    If,
    Elsif,
}

const KEYWORDS: &[(&str, Kw)] = &[
    ("SELECT", Kw::Select),
    ("FOREACH", Kw::Foreach),
    ("DO", Kw::Do),
    ("INCASE", Kw::Incase),
    ("FROM", Kw::From),
    ("WHERE", Kw::Where),
    ("AS", Kw::As),
    ("AND", Kw::And),
    ("OR", Kw::Or),
    ("NOT", Kw::Not),
    ("IN", Kw::In),
    ("CASE", Kw::Case),
    ("WHEN", Kw::When),
    ("THEN", Kw::Then),
    ("ELSE", Kw::Else),
    ("END", Kw::End),
    ("IF", Kw::If),
    ("ELSIF", Kw::Elsif),
];

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// `'text'`: a string constant.
    Str(String),
    /// A bare name (`clientid`), or a double-quoted one (`"t/#"`), which may
    /// hold any character.
    Name {
        text: String,
        quoted: bool,
    },
    /// Digits, with their text (`a.01` is the key `01`).
    Int {
        value: i64,
        text: String,
    },
    Float(f64),
    /// `[1..3]`, `[-2..-1]`.
    Range(i64, i64),
    Cmp(CmpOp),
    Kw(Kw),
    Plus,
    Minus,
    Star,
    Slash,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Eof,
}

impl Tok {
    /// The token as an error message names it.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Str(s) => format!("string '{s}'"),
            Tok::Name { text, .. } => format!("name {text}"),
            Tok::Int { text, .. } => format!("number {text}"),
            Tok::Float(f) => format!("number {f}"),
            Tok::Range(a, b) => format!("range [{a}..{b}]"),
            Tok::Cmp(op) => format!("operator {}", op.erlang().trim_matches('\'')),
            Tok::Kw(kw) => format!("keyword {}", keyword_text(*kw)),
            Tok::Plus => "'+'".into(),
            Tok::Minus => "'-'".into(),
            Tok::Star => "'*'".into(),
            Tok::Slash => "'/'".into(),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::Comma => "','".into(),
            Tok::Dot => "'.'".into(),
            Tok::Eof => "the end of the SQL".into(),
        }
    }
}

fn keyword_text(kw: Kw) -> &'static str {
    KEYWORDS
        .iter()
        .find(|(_, k)| *k == kw)
        .map(|(s, _)| *s)
        .unwrap_or("?")
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: Pos,
}

/// Cuts `text` into tokens, ending with [`Tok::Eof`].
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        i: 0,
        line: 1,
        column: 1,
    };
    let mut out = Vec::new();
    loop {
        lexer.skip_blanks();
        let pos = lexer.pos();
        let Some(c) = lexer.peek(0) else {
            out.push(Token { tok: Tok::Eof, pos });
            return Ok(out);
        };
        let tok = lexer.token(c, pos)?;
        out.push(Token { tok, pos });
    }
}

struct Lexer {
    chars: Vec<char>,
    i: usize,
    line: usize,
    column: usize,
}

impl Lexer {
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.i + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    /// White space and `--` comments (to the end of the line, or of the SQL).
    fn skip_blanks(&mut self) {
        loop {
            match self.peek(0) {
                Some(' ' | '\t' | '\r' | '\n') => {
                    self.bump();
                }
                Some('-') if self.peek(1) == Some('-') => {
                    while let Some(c) = self.bump() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                _ => return,
            }
        }
    }

    fn token(&mut self, c: char, pos: Pos) -> Result<Tok, ParseError> {
        let tok = match c {
            '\'' => Tok::Str(self.quoted('\'', pos)?),
            '"' => Tok::Name {
                text: self.quoted('"', pos)?,
                quoted: true,
            },
            '[' => match self.range() {
                Some(tok) => tok,
                None => {
                    self.bump();
                    Tok::LBracket
                }
            },
            '0'..='9' => self.number(pos)?,
            c if c.is_ascii_alphabetic() => self.name(),
            _ => {
                let (tok, len) = match (c, self.peek(1)) {
                    ('=', Some('~')) => (Tok::Cmp(CmpOp::Match), 2),
                    ('!', Some('=')) => (Tok::Cmp(CmpOp::Ne), 2),
                    ('<', Some('>')) => (Tok::Cmp(CmpOp::Ne), 2),
                    ('<', Some('=')) => (Tok::Cmp(CmpOp::Le), 2),
                    ('>', Some('=')) => (Tok::Cmp(CmpOp::Ge), 2),
                    ('=', _) => (Tok::Cmp(CmpOp::Eq), 1),
                    ('<', _) => (Tok::Cmp(CmpOp::Lt), 1),
                    ('>', _) => (Tok::Cmp(CmpOp::Gt), 1),
                    ('+', _) => (Tok::Plus, 1),
                    ('-', _) => (Tok::Minus, 1),
                    ('*', _) => (Tok::Star, 1),
                    ('/', _) => (Tok::Slash, 1),
                    ('(', _) => (Tok::LParen, 1),
                    (')', _) => (Tok::RParen, 1),
                    (']', _) => (Tok::RBracket, 1),
                    (',', _) => (Tok::Comma, 1),
                    ('.', _) => (Tok::Dot, 1),
                    ('~', Some('=')) => {
                        return Err(pos.error("operator ~= is not supported; use =~"))
                    }
                    _ => return Err(pos.error(format!("unexpected character {c:?}"))),
                };
                for _ in 0..len {
                    self.bump();
                }
                tok
            }
        };
        Ok(tok)
    }

    /// Text between `quote`s; a doubled quote stands for one.
    fn quoted(&mut self, quote: char, pos: Pos) -> Result<String, ParseError> {
        self.bump();
        let mut text = String::new();
        loop {
            match self.bump() {
                None => return Err(pos.error("unterminated quoted text")),
                Some(c) if c == quote => {
                    if self.peek(0) == Some(quote) {
                        self.bump();
                        text.push(quote);
                    } else {
                        return Ok(text);
                    }
                }
                Some(c) => text.push(c),
            }
        }
    }

    /// `[SD..SD]` with no blanks, as one token (rulesql's `RANGE`).
    fn range(&mut self) -> Option<Tok> {
        let mut j = self.i + 1;
        let signed = |j: &mut usize| -> Option<i64> {
            let start = *j;
            if self.chars.get(*j) == Some(&'-') {
                *j += 1;
            }
            let digits = *j;
            while self.chars.get(*j).is_some_and(char::is_ascii_digit) {
                *j += 1;
            }
            if *j == digits {
                return None;
            }
            self.chars[start..*j]
                .iter()
                .collect::<String>()
                .parse()
                .ok()
        };
        let lo = signed(&mut j)?;
        if self.chars.get(j) != Some(&'.') || self.chars.get(j + 1) != Some(&'.') {
            return None;
        }
        j += 2;
        let hi = signed(&mut j)?;
        if self.chars.get(j) != Some(&']') {
            return None;
        }
        while self.i <= j {
            self.bump();
        }
        Some(Tok::Range(lo, hi))
    }

    /// `12` or `1.5`, `1.5e-3`, `2e3` (a fraction needs digits after the
    /// dot: `a.1.b` is the path a/"1"/b).
    fn number(&mut self, pos: Pos) -> Result<Tok, ParseError> {
        let start = self.i;
        let digits = |lx: &mut Lexer| {
            while lx.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                lx.bump();
            }
        };
        digits(self);
        let mut float = false;
        if self.peek(0) == Some('.') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
            float = true;
            self.bump();
            digits(self);
        }
        if matches!(self.peek(0), Some('e' | 'E')) {
            let sign = usize::from(matches!(self.peek(1), Some('+' | '-')));
            if self.peek(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                float = true;
                for _ in 0..=sign {
                    self.bump();
                }
                digits(self);
            }
        }
        let text: String = self.chars[start..self.i].iter().collect();
        if self
            .peek(0)
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        {
            return Err(pos.error(format!("bad number {text}{}", self.peek(0).unwrap_or(' '))));
        }
        if float {
            let f: f64 = text
                .parse()
                .map_err(|_| pos.error(format!("bad number {text}")))?;
            if !f.is_finite() {
                return Err(pos.error(format!("number out of range: {text}")));
            }
            Ok(Tok::Float(f))
        } else {
            let value = text
                .parse()
                .map_err(|_| pos.error(format!("integer out of range: {text}")))?;
            Ok(Tok::Int { value, text })
        }
    }

    /// `[A-Za-z][A-Za-z0-9_$@~]*`: a keyword, or a name.
    fn name(&mut self) -> Tok {
        let start = self.i;
        while self
            .peek(0)
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '@' | '~'))
        {
            self.bump();
        }
        let text: String = self.chars[start..self.i].iter().collect();
        match KEYWORDS.iter().find(|(k, _)| k.eq_ignore_ascii_case(&text)) {
            Some((_, kw)) => Tok::Kw(*kw),
            None => Tok::Name {
                text,
                quoted: false,
            },
        }
    }
}
