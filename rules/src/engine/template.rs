//! EMQX's `${...}` placeholders (`emqx_template`), rendered over a rule's
//! output: `${clientid}`, `${payload.x}` (a path into a map, or into a JSON
//! text on the way), `${pub_props.'User-Property'}` (a quoted key), `${.}`
//! (the whole output). A string renders as itself, a number or boolean as
//! its text, a map or list as JSON, a missing value as `undefined` (Erlang's
//! name for it, as EMQX prints it).

use crate::value::{Map, Value};

/// A parsed template: literal text and placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct Template(Vec<Part>);

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    /// The path's keys; empty for `${.}`.
    Var(Vec<String>),
}

impl Template {
    /// Parses `text`; an unclosed `${` is an error.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("unclosed placeholder in {text:?}"))?;
            parts.push(Part::Var(path(after[..end].trim())));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template(parts))
    }

    /// A template that is one placeholder and nothing else (`${qos}`).
    pub fn single_var(&self) -> Option<&[String]> {
        match self.0.as_slice() {
            [Part::Var(p)] => Some(p),
            _ => None,
        }
    }

    /// Whether it has no placeholder.
    pub fn is_literal(&self) -> bool {
        self.0.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// The text with every placeholder replaced.
    pub fn render(&self, output: &Map) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Var(path) => match lookup(output, path) {
                    Some(v) => out.push_str(&text(&v)),
                    None => out.push_str("undefined"),
                },
            }
        }
        out
    }

    /// The template as a statement with numbered parameters, for a
    /// database's prepared statements (EMQX's `emqx_template_sql`):
    /// `VALUES (${a}, ${b.c})` becomes `VALUES ($1, $2)` with the paths
    /// `[a]`, `[b, c]`, given `marker(n)` = `$n` (PostgreSQL's). Values then
    /// travel as parameters, never spliced into the text.
    pub fn parameterized(&self, marker: impl Fn(usize) -> String) -> (String, Vec<Vec<String>>) {
        let mut text = String::new();
        let mut params = Vec::new();
        for p in &self.0 {
            match p {
                Part::Text(t) => text.push_str(t),
                Part::Var(path) => {
                    params.push(path.clone());
                    text.push_str(&marker(params.len()));
                }
            }
        }
        (text, params)
    }

    /// The value of a single-placeholder template, or the rendered text.
    pub fn value(&self, output: &Map) -> Option<Value> {
        match self.single_var() {
            Some(path) => lookup(output, path),
            None => Some(Value::Str(self.render(output))),
        }
    }
}

/// `a.b.'c-d'` as keys; `.` alone is the empty path, and a leading `.`
/// reads from the root (`${.clientid}`, as EMQX's Kafka defaults write it).
fn path(var: &str) -> Vec<String> {
    if var == "." || var.is_empty() {
        return Vec::new();
    }
    let var = var.strip_prefix('.').unwrap_or(var);
    let mut keys = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in var.chars() {
        match c {
            '\'' | '"' => quoted = !quoted,
            '.' if !quoted => keys.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    keys.push(cur);
    keys
}

/// The value at `path` in `output`, decoding JSON text on the way (EMQX's
/// `emqx_rule_maps:nested_get`): `${payload.x}` reads a JSON payload.
pub fn lookup(output: &Map, path: &[String]) -> Option<Value> {
    let Some((first, rest)) = path.split_first() else {
        return Some(Value::Map(output.clone()));
    };
    let mut cur = output.get(first)?.clone();
    for key in rest {
        cur = match cur {
            Value::Map(mut m) => m.remove(key)?,
            Value::Str(s) => match serde_json::from_str::<serde_json::Value>(&s) {
                Ok(serde_json::Value::Object(o)) => Value::from_json(o.get(key)?.clone()),
                _ => return None,
            },
            _ => return None,
        };
    }
    Some(cur)
}

/// A value as template text, as EMQX's templates print it (`str()`: floats
/// with up to 10 decimals, `2.0` not `2`); bytes that are not UTF-8 lossily.
pub fn text(v: &Value) -> String {
    match v {
        Value::Bin(b) => String::from_utf8_lossy(b).into_owned(),
        other => other.to_text().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out() -> Map {
        let mut m = Map::new();
        m.insert("clientid".into(), Value::Str("c1".into()));
        m.insert(
            "payload".into(),
            Value::Str(r#"{"x": 7, "y": {"z": "w"}}"#.into()),
        );
        m.insert("qos".into(), Value::Int(1));
        let mut props = Map::new();
        props.insert("User-Property".into(), Value::Map(Map::new()));
        m.insert("pub_props".into(), Value::Map(props));
        m
    }

    #[test]
    fn placeholders_read_columns_and_paths_into_json_text() {
        let t = Template::parse("out/${clientid}/${payload.x}").unwrap();
        assert_eq!(t.render(&out()), "out/c1/7");
        let t = Template::parse("${payload.y}").unwrap();
        assert_eq!(t.render(&out()), r#"{"z":"w"}"#);
        assert_eq!(
            Template::parse("${missing}").unwrap().render(&out()),
            "undefined"
        );
        let t = Template::parse("${pub_props.'User-Property'}").unwrap();
        assert_eq!(t.value(&out()), Some(Value::Map(Map::new())));
        assert_eq!(
            Template::parse("${qos}").unwrap().value(&out()),
            Some(Value::Int(1))
        );
        assert_eq!(
            Template::parse("${.clientid}/${.payload.x}")
                .unwrap()
                .render(&out()),
            "c1/7"
        );
        assert!(Template::parse("a/${b").is_err());
        assert!(Template::parse("plain").unwrap().is_literal());
    }

    #[test]
    fn parameterized_numbers_each_placeholder() {
        let t = Template::parse("INSERT INTO t VALUES (${clientid}, ${payload.x}, 'lit')").unwrap();
        let (sql, params) = t.parameterized(|n| format!("${n}"));
        assert_eq!(sql, "INSERT INTO t VALUES ($1, $2, 'lit')");
        assert_eq!(
            params,
            vec![
                vec!["clientid".to_string()],
                vec!["payload".into(), "x".into()]
            ]
        );
    }

    #[test]
    fn floats_print_as_emqx_prints_them() {
        let mut m = Map::new();
        m.insert("t".into(), Value::Float(2.0));
        m.insert("u".into(), Value::Float(20.25));
        let t = Template::parse("${t}/${u}").unwrap();
        assert_eq!(t.render(&m), "2.0/20.25");
    }
}
