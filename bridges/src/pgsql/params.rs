//! Values in and out of PostgreSQL as text: parameters are sent in the text
//! format, so the server parses `42` for an integer column and `t` for a
//! boolean one itself (as it does for a literal), and results are read back
//! as text whatever the column's type.

use roost_rules::engine::template::{lookup, Template};
use roost_rules::{Map, Value};
use std::error::Error;
use tokio_postgres::types::{to_sql_checked, Format, FromSql, IsNull, ToSql, Type};

/// A statement with numbered parameters and the paths that fill them.
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    pub text: String,
    params: Vec<Vec<String>>,
}

impl Sql {
    /// `${...}` placeholders become `$1..$n`.
    pub(crate) fn parse(template: &str) -> Result<Sql, String> {
        if template.trim().is_empty() {
            return Err("must not be empty".into());
        }
        let (text, params) = Template::parse(template)?.parameterized(|n| format!("${n}"));
        Ok(Sql { text, params })
    }

    /// The parameters for one rule output.
    pub(crate) fn bind(&self, output: &Map) -> Vec<TextParam> {
        self.params
            .iter()
            .map(|path| TextParam(lookup(output, path).and_then(|v| text(&v))))
            .collect()
    }
}

/// A value as PostgreSQL text; `undefined` (Null) is SQL NULL, as EMQX sends it.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Map(_) | Value::Array(_) => Some(v.to_json().to_string()),
        other => Some(roost_rules::engine::template::text(other)),
    }
}

/// One parameter, sent in the text format.
#[derive(Debug)]
pub(crate) struct TextParam(pub Option<String>);

impl ToSql for TextParam {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match &self.0 {
            None => Ok(IsNull::Yes),
            Some(s) => {
                out.extend_from_slice(s.as_bytes());
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

/// A result cell as text (`None` for NULL), from the column types a user or
/// ACL table holds: text of any kind, booleans, integers, bytea.
#[derive(Debug)]
pub(crate) struct Cell(pub Option<String>);

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Cell, Box<dyn Error + Sync + Send>> {
        let text = match *ty {
            Type::BOOL => bool::from_sql(ty, raw)?.to_string(),
            Type::INT2 => i16::from_sql(ty, raw)?.to_string(),
            Type::INT4 => i32::from_sql(ty, raw)?.to_string(),
            Type::INT8 => i64::from_sql(ty, raw)?.to_string(),
            Type::BYTEA => String::from_utf8_lossy(raw).into_owned(),
            _ => std::str::from_utf8(raw)?.to_string(),
        };
        Ok(Cell(Some(text)))
    }

    fn from_sql_null(_ty: &Type) -> Result<Cell, Box<dyn Error + Sync + Send>> {
        Ok(Cell(None))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}
