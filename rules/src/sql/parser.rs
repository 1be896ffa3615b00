//! A recursive-descent parser for emqx/rulesql's grammar (`rulesql.yrl`).
//!
//! It accepts what rulesql accepts, with the same precedence (OR < AND <
//! NOT < comparison < `+ -` < `* / div mod` < unary sign), and a little more
//! where rulesql's grammar has gaps that only make SQL fail: any expression
//! inside parentheses, list literals and function arguments, `CASE` and
//! conditions as values, and `mod` as an operator (EMQX lists it among the
//! arithmetic operators but only has the function `mod(x, y)`).

use super::ast::{ArithOp, Expr, Field, Index, OutName, Path, Query, Seg};
use super::lexer::{tokenize, Kw, Pos, Tok, Token};
use super::ParseError;
use crate::value::Value;

pub(crate) fn parse(text: &str) -> Result<Query, ParseError> {
    let tokens = tokenize(text)?;
    let mut p = Parser { tokens, i: 0 };
    let query = p.query()?;
    p.expect_eof()?;
    Ok(query)
}

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 200;

struct Parser {
    tokens: Vec<Token>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.tokens[self.i.min(self.tokens.len() - 1)].tok
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        &self.tokens[(self.i + ahead).min(self.tokens.len() - 1)].tok
    }

    fn pos(&self) -> Pos {
        self.tokens[self.i.min(self.tokens.len() - 1)].pos
    }

    fn next(&mut self) -> Tok {
        let tok = self.peek().clone();
        self.i = (self.i + 1).min(self.tokens.len());
        tok
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == tok {
            self.next();
            true
        } else {
            false
        }
    }

    fn eat_kw(&mut self, kw: Kw) -> bool {
        self.eat(&Tok::Kw(kw))
    }

    fn unexpected(&self, wanted: &str) -> ParseError {
        self.pos().error(format!(
            "syntax error before {}: expected {wanted}",
            self.peek().describe()
        ))
    }

    fn expect(&mut self, tok: Tok, wanted: &str) -> Result<(), ParseError> {
        if self.eat(&tok) {
            Ok(())
        } else {
            Err(self.unexpected(wanted))
        }
    }

    fn expect_eof(&mut self) -> Result<(), ParseError> {
        if *self.peek() == Tok::Eof {
            Ok(())
        } else {
            Err(self.unexpected("the end of the SQL"))
        }
    }

    fn query(&mut self) -> Result<Query, ParseError> {
        let foreach = match self.next() {
            Tok::Kw(Kw::Select) => false,
            Tok::Kw(Kw::Foreach) => true,
            Tok::Eof => return Err(self.pos().error("empty SQL")),
            _ => {
                self.i = 0;
                return Err(self.unexpected("SELECT or FOREACH"));
            }
        };
        let fields = self.fields()?;
        let mut do_fields = Vec::new();
        let mut incase = None;
        if foreach {
            if let Some(Field::All) = fields.iter().find(|f| matches!(f, Field::All)) {
                return Err(self.pos().error("FOREACH takes expressions, not *"));
            }
            if let Some(Field::Expr {
                name: OutName::Path(p),
                aliased: true,
                ..
            }) = fields.last()
            {
                if p.segs.len() > 1 {
                    return Err(self
                        .pos()
                        .error("FOREACH: name the elements with a plain name (AS x)"));
                }
            }
            if self.eat_kw(Kw::Do) {
                do_fields = self.fields()?;
            }
            if self.eat_kw(Kw::Incase) {
                incase = Some(self.condition(0)?);
            }
        }
        if !self.eat_kw(Kw::From) {
            return Err(self.unexpected(if foreach {
                "',', DO, INCASE or FROM"
            } else {
                "',' or FROM"
            }));
        }
        let from = self.topics()?;
        let where_ = if self.eat_kw(Kw::Where) {
            Some(self.condition(0)?)
        } else {
            None
        };
        Ok(Query {
            foreach,
            fields,
            do_fields,
            incase,
            from,
            where_,
        })
    }

    fn topics(&mut self) -> Result<Vec<String>, ParseError> {
        let mut from = Vec::new();
        loop {
            match self.next() {
                Tok::Name { text, .. } | Tok::Str(text) => from.push(text),
                _ => {
                    self.i -= 1;
                    return Err(self.unexpected("a topic (\"t/#\") or an event (\"$events/...\")"));
                }
            }
            if !self.eat(&Tok::Comma) {
                return Ok(from);
            }
        }
    }

    fn fields(&mut self) -> Result<Vec<Field>, ParseError> {
        let mut fields = vec![self.field()?];
        while self.eat(&Tok::Comma) {
            fields.push(self.field()?);
        }
        Ok(fields)
    }

    fn field(&mut self) -> Result<Field, ParseError> {
        if self.eat(&Tok::Star) {
            return Ok(Field::All);
        }
        let expr = self.condition(0)?;
        // `AS` is optional: a name right after the expression names it.
        let alias = if self.eat_kw(Kw::As) || matches!(self.peek(), Tok::Name { .. }) {
            Some(self.out_path()?)
        } else {
            None
        };
        let aliased = alias.is_some();
        let name = match alias {
            Some(path) => OutName::Path(path),
            None => implicit_name(&expr),
        };
        Ok(Field::Expr {
            expr,
            name,
            aliased,
        })
    }

    /// The name after `AS`: keys and indexes, no ranges or calls.
    fn out_path(&mut self) -> Result<Path, ParseError> {
        let pos = self.pos();
        let Tok::Name { text, quoted } = self.next() else {
            self.i -= 1;
            return Err(self.unexpected("a name after AS"));
        };
        if !quoted && (text == "true" || text == "false") {
            return Err(pos.error(format!("cannot name a field {text}")));
        }
        let mut path = Path::key(text);
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.next();
                    path.segs.push(Seg::Key(self.key_after_dot()?));
                }
                Tok::LBracket => path.segs.push(Seg::Index(self.index(0)?)),
                _ => return Ok(path),
            }
        }
    }

    fn key_after_dot(&mut self) -> Result<String, ParseError> {
        match self.next() {
            Tok::Name { text, .. } | Tok::Str(text) => Ok(text),
            Tok::Int { text, .. } => Ok(text),
            _ => {
                self.i -= 1;
                Err(self.unexpected("a key after '.'"))
            }
        }
    }

    /// `[2]`, `[-1]`, `[0]`, `[-0]`, `[name.path]`.
    fn index(&mut self, depth: usize) -> Result<Index, ParseError> {
        self.expect(Tok::LBracket, "'['")?;
        let negative = match self.peek() {
            Tok::Minus => {
                self.next();
                true
            }
            Tok::Plus => {
                self.next();
                false
            }
            _ => false,
        };
        let index = match self.next() {
            Tok::Int { value, .. } => match (value, negative) {
                (0, false) => Index::Head,
                (0, true) => Index::Tail,
                (n, false) => Index::At(n),
                (n, true) => Index::At(-n),
            },
            Tok::Name { .. } if !negative => {
                self.i -= 1;
                match self.primary(depth + 1)? {
                    Expr::Path(p) => Index::Dyn(p),
                    _ => return Err(self.pos().error("an index is a number or a name")),
                }
            }
            _ => {
                self.i -= 1;
                return Err(self.unexpected("an index (a number or a name)"));
            }
        };
        self.expect(Tok::RBracket, "']'")?;
        Ok(index)
    }

    /// `prec`: 0 OR, 1 AND, 2 NOT, 3 comparison and IN.
    fn condition(&mut self, depth: usize) -> Result<Expr, ParseError> {
        self.or(depth + 1)
    }

    fn deeper(&self, depth: usize) -> Result<(), ParseError> {
        if depth > MAX_DEPTH {
            Err(self.pos().error("expression nested too deeply"))
        } else {
            Ok(())
        }
    }

    fn or(&mut self, depth: usize) -> Result<Expr, ParseError> {
        self.deeper(depth)?;
        let mut left = self.and(depth)?;
        while self.eat_kw(Kw::Or) {
            let right = self.and(depth)?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut left = self.not(depth)?;
        while self.eat_kw(Kw::And) {
            let right = self.not(depth)?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self, depth: usize) -> Result<Expr, ParseError> {
        if self.eat_kw(Kw::Not) {
            self.deeper(depth + 1)?;
            return Ok(Expr::Not(Box::new(self.not(depth + 1)?)));
        }
        self.predicate(depth)
    }

    /// A comparison (non-associative: `a < b < c` is an error), `IN (..)`,
    /// `NOT IN (..)`, or a plain value.
    fn predicate(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let left = self.additive(depth)?;
        match self.peek().clone() {
            Tok::Cmp(op) => {
                self.next();
                let right = self.additive(depth)?;
                if matches!(self.peek(), Tok::Cmp(_)) {
                    return Err(self
                        .pos()
                        .error("comparisons do not chain: use AND (a < b AND b < c)"));
                }
                Ok(Expr::Cmp(op, Box::new(left), Box::new(right)))
            }
            Tok::Kw(Kw::In) => {
                self.next();
                self.in_list(left, depth)
            }
            Tok::Kw(Kw::Not) if *self.peek_at(1) == Tok::Kw(Kw::In) => {
                self.next();
                self.next();
                Ok(Expr::Not(Box::new(self.in_list(left, depth)?)))
            }
            _ => Ok(left),
        }
    }

    fn in_list(&mut self, value: Expr, depth: usize) -> Result<Expr, ParseError> {
        self.expect(Tok::LParen, "'(' after IN")?;
        let mut list = vec![self.condition(depth)?];
        while self.eat(&Tok::Comma) {
            list.push(self.condition(depth)?);
        }
        self.expect(Tok::RParen, "',' or ')'")?;
        Ok(Expr::In {
            value: Box::new(value),
            list,
        })
    }

    fn additive(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut left = self.multiplicative(depth)?;
        loop {
            let op = match self.peek() {
                Tok::Plus => ArithOp::Add,
                Tok::Minus => ArithOp::Sub,
                _ => return Ok(left),
            };
            self.next();
            let right = self.multiplicative(depth)?;
            left = Expr::Arith(op, Box::new(left), Box::new(right));
        }
    }

    /// `div` and `mod` are operators where an operator can stand and an
    /// expression follows; elsewhere they are names (`x mod` is `x AS mod`).
    fn word_operator(&self) -> Option<ArithOp> {
        let Tok::Name {
            text,
            quoted: false,
        } = self.peek()
        else {
            return None;
        };
        let op = if text.eq_ignore_ascii_case("div") {
            ArithOp::IntDiv
        } else if text.eq_ignore_ascii_case("mod") {
            ArithOp::Mod
        } else {
            return None;
        };
        let starts_expr = matches!(
            self.peek_at(1),
            Tok::Str(_)
                | Tok::Name { .. }
                | Tok::Int { .. }
                | Tok::Float(_)
                | Tok::Range(..)
                | Tok::Plus
                | Tok::Minus
                | Tok::LParen
                | Tok::LBracket
                | Tok::Kw(Kw::Case)
        );
        starts_expr.then_some(op)
    }

    fn multiplicative(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut left = self.unary(depth)?;
        loop {
            let op = match self.peek() {
                Tok::Star => ArithOp::Mul,
                Tok::Slash => ArithOp::Div,
                _ => match self.word_operator() {
                    Some(op) => op,
                    None => return Ok(left),
                },
            };
            self.next();
            let right = self.unary(depth)?;
            left = Expr::Arith(op, Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, ParseError> {
        self.deeper(depth)?;
        match self.peek() {
            Tok::Minus => {
                self.next();
                Ok(match self.unary(depth + 1)? {
                    Expr::Const(Value::Int(i)) if i != i64::MIN => Expr::Const(Value::Int(-i)),
                    Expr::Const(Value::Float(f)) => Expr::Const(Value::Float(-f)),
                    e => Expr::Neg(Box::new(e)),
                })
            }
            Tok::Plus => {
                self.next();
                Ok(Expr::Pos(Box::new(self.unary(depth + 1)?)))
            }
            _ => self.primary(depth),
        }
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, ParseError> {
        self.deeper(depth)?;
        let pos = self.pos();
        match self.next() {
            Tok::Str(s) => Ok(Expr::Const(Value::Str(s))),
            Tok::Int { value, .. } => Ok(Expr::Const(Value::Int(value))),
            Tok::Float(f) => Ok(Expr::Const(Value::Float(f))),
            Tok::Range(lo, hi) => Ok(Expr::Range(lo, hi)),
            Tok::LParen => {
                let e = self.condition(depth + 1)?;
                self.expect(Tok::RParen, "')'")?;
                Ok(e)
            }
            Tok::LBracket => {
                let mut list = Vec::new();
                if !self.eat(&Tok::RBracket) {
                    list.push(self.condition(depth + 1)?);
                    while self.eat(&Tok::Comma) {
                        list.push(self.condition(depth + 1)?);
                    }
                    self.expect(Tok::RBracket, "',' or ']'")?;
                }
                Ok(Expr::List(list))
            }
            Tok::Kw(Kw::Case) => self.case(depth + 1),
            Tok::Name { text, quoted } => {
                if !quoted && (text == "true" || text == "false") {
                    return Ok(Expr::Const(Value::Bool(text == "true")));
                }
                if *self.peek() == Tok::LParen {
                    return self.call(text, pos, depth);
                }
                self.path_rest(Path::key(text), depth)
            }
            _ => {
                self.i -= 1;
                Err(self.unexpected("an expression"))
            }
        }
    }

    /// After the first key: `.key`, `[index]`, and a final `[a..b]`.
    fn path_rest(&mut self, mut path: Path, depth: usize) -> Result<Expr, ParseError> {
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.next();
                    path.segs.push(Seg::Key(self.key_after_dot()?));
                    if *self.peek() == Tok::LParen {
                        return Err(self
                            .pos()
                            .error("functions of other modules (a.b(...)) are not supported"));
                    }
                }
                Tok::LBracket => path.segs.push(Seg::Index(self.index(depth + 1)?)),
                Tok::Range(lo, hi) => {
                    let (lo, hi) = (*lo, *hi);
                    self.next();
                    return Ok(Expr::GetRange(lo, hi, path));
                }
                _ => return Ok(Expr::Path(path)),
            }
        }
    }

    fn call(&mut self, name: String, pos: Pos, depth: usize) -> Result<Expr, ParseError> {
        if !crate::funcs::is_known(&name) {
            return Err(pos.error(format!("unknown function {name}")));
        }
        self.expect(Tok::LParen, "'('")?;
        let mut args = Vec::new();
        if !self.eat(&Tok::RParen) {
            args.push(self.condition(depth + 1)?);
            while self.eat(&Tok::Comma) {
                args.push(self.condition(depth + 1)?);
            }
            self.expect(Tok::RParen, "',' or ')'")?;
        }
        Ok(Expr::Call { name, args })
    }

    fn case(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let on = if *self.peek() == Tok::Kw(Kw::When) {
            None
        } else {
            Some(Box::new(self.condition(depth)?))
        };
        let mut whens = Vec::new();
        while self.eat_kw(Kw::When) {
            let when = self.condition(depth)?;
            if !self.eat_kw(Kw::Then) {
                return Err(self.unexpected("THEN"));
            }
            let then = self.condition(depth)?;
            whens.push((when, then));
        }
        if whens.is_empty() {
            return Err(self.unexpected("WHEN"));
        }
        let otherwise = if self.eat_kw(Kw::Else) {
            Some(Box::new(self.condition(depth)?))
        } else {
            None
        };
        if !self.eat_kw(Kw::End) {
            return Err(self.unexpected("WHEN, ELSE or END"));
        }
        Ok(Expr::Case {
            on,
            whens,
            otherwise,
        })
    }
}

/// The output name of a field without `AS`, as emqx_rule_runtime's `alias/2`
/// makes it: paths keep their place, a string constant names itself, and
/// anything else gets an ephemeral `_v_<kind>_<what>_` name.
fn implicit_name(expr: &Expr) -> OutName {
    let ephemeral = |kind: &str, what: String| OutName::Ephemeral(format!("_v_{kind}_{what}_"));
    match expr {
        Expr::Path(p) | Expr::GetRange(_, _, p) => OutName::Path(p.clone()),
        Expr::Const(Value::Str(s)) => OutName::Path(Path::key(s.clone())),
        Expr::Const(v) => ephemeral("const", erlang_const(v)),
        Expr::List(l) => ephemeral("list", l.len().to_string()),
        Expr::Range(a, b) => ephemeral("range", format!("{{{a},{b}}}")),
        Expr::Arith(op, ..) => ephemeral("op", op.erlang().to_string()),
        Expr::Cmp(op, ..) => ephemeral("op", op.erlang().to_string()),
        Expr::Case { on: None, .. } => ephemeral("case", "<<>>".to_string()),
        Expr::Case { on: Some(on), .. } => ephemeral("case", erlang_expr(on)),
        Expr::Call { name, .. } => ephemeral("fun", format!("{{var,<<\"{name}\">>}}")),
        _ => ephemeral("unknown", "unknown".to_string()),
    }
}

fn erlang_const(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Bool(b) => b.to_string(),
        _ => "undefined".to_string(),
    }
}

/// An expression as Erlang's `~p` prints rulesql's tree, for the few shapes
/// a `CASE x` usually has; anything else prints as `...`.
fn erlang_expr(e: &Expr) -> String {
    match e {
        Expr::Path(p) if p.segs.len() == 1 => format!("{{var,<<\"{}\">>}}", p.root()),
        Expr::Path(p) => {
            let segs: Vec<String> = p
                .segs
                .iter()
                .map(|s| match s {
                    Seg::Key(k) => format!("{{key,<<\"{k}\">>}}"),
                    Seg::Index(Index::At(i)) => format!("{{index,{{const,{i}}}}}"),
                    Seg::Index(_) => "{index,...}".to_string(),
                })
                .collect();
            format!("{{path,[{}]}}", segs.join(","))
        }
        Expr::Const(v) => format!("{{const,{}}}", erlang_const(v)),
        _ => "...".to_string(),
    }
}
