//! Authentication and authorization backed by PostgreSQL and Redis (EMQX's
//! `password_based` backends and authorization sources `postgresql` and
//! `redis`), on the same pools and templates as the `pgsql` and `redis`
//! types. roost-access decides (hashes, ACL rules); this only fetches:
//! [`backends`] is what the binary hands to
//! `roost_access::external::set_backends`.
//!
//! - PostgreSQL: `query` is run as a prepared statement, `${...}` as its
//!   parameters; a user is the first row's `password_hash`, `salt`,
//!   `is_superuser`; ACL rows are `permission`, `action`, `topic`.
//! - Redis: `cmd` is split on spaces, each word a template. A user comes
//!   from `HMGET key password_hash salt is_superuser` (or `HGET key field`),
//!   its fields named by the command; an ACL from `HGETALL key`, a hash of
//!   topic -> action (`publish`, `subscribe`, `all`, or a JSON object with
//!   `action` and optionally `permission`), each row allowed unless it says
//!   otherwise.

use crate::driver::ConfigError;
use crate::pgsql::{query_rows, PgsqlConfig, Sql};
use crate::redis::{Command, RedisConfig};
use roost_access::external::{
    is_superuser, AclLookup, AclRow, Backends, BoxFuture, UserLookup, UserRecord, Vars,
};
use roost_rules::{Map, Value};
use std::sync::Arc;

/// The backends to register with `roost_access::external::set_backends`.
pub fn backends() -> Arc<dyn Backends> {
    Arc::new(DbBackends)
}

struct DbBackends;

impl Backends for DbBackends {
    fn user_lookup(
        &self,
        backend: &str,
        conf: &serde_json::Value,
    ) -> Result<Arc<dyn UserLookup>, String> {
        match backend {
            "postgresql" => {
                let (query, pool) = pgsql(conf, "query")?;
                Ok(Arc::new(PgUsers { pool, query }))
            }
            "redis" => {
                let (cmd, fields, pool) = redis(conf)?;
                let known = ["HGET", "HMGET"];
                if !known.iter().any(|k| cmd.0.eq_ignore_ascii_case(k)) {
                    return Err(format!(
                        "cmd: only HGET and HMGET find a user, not {}",
                        cmd.0
                    ));
                }
                if !fields
                    .iter()
                    .any(|f| f == "password_hash" || f == "password")
                {
                    return Err("cmd: must read the field password_hash".into());
                }
                Ok(Arc::new(RedisUsers {
                    pool,
                    cmd: cmd.1,
                    fields,
                }))
            }
            other => Err(format!("backend: {other:?} is not a backend of this build")),
        }
    }

    fn acl_lookup(
        &self,
        kind: &str,
        conf: &serde_json::Value,
    ) -> Result<Arc<dyn AclLookup>, String> {
        match kind {
            "postgresql" => {
                let (query, pool) = pgsql(conf, "query")?;
                Ok(Arc::new(PgAcl { pool, query }))
            }
            "redis" => {
                let (cmd, _, pool) = redis(conf)?;
                Ok(Arc::new(RedisAcl { pool, cmd: cmd.1 }))
            }
            other => Err(format!("type: {other:?} is not a source of this build")),
        }
    }
}

fn text(e: ConfigError) -> String {
    e.to_string()
}

/// The fields of an entry without `key` (the query), and `key`'s text.
fn split(conf: &serde_json::Value, key: &str) -> Result<(String, serde_json::Value), String> {
    let mut fields = conf.as_object().cloned().unwrap_or_default();
    // EMQX's entries carry `enable`; roost-access leaves a disabled one out
    // of the chain, so it never reaches here.
    fields.remove("enable");
    let query = match fields.remove(key) {
        Some(serde_json::Value::String(q)) if !q.trim().is_empty() => q,
        Some(_) => return Err(format!("{key}: must be a non-empty string")),
        None => return Err(format!("{key}: missing")),
    };
    Ok((query, serde_json::Value::Object(fields)))
}

fn pgsql(conf: &serde_json::Value, key: &str) -> Result<(Sql, crate::pgsql::pool::Pool), String> {
    let (query, fields) = split(conf, key)?;
    let sql = Sql::parse(&query).map_err(|e| format!("{key}: {e}"))?;
    let pool = PgsqlConfig::parse("", &fields)
        .and_then(|c| c.pool(""))
        .map_err(text)?;
    Ok((sql, pool))
}

/// The command's name and template, the fields it reads (HGET/HMGET), the pool.
#[allow(clippy::type_complexity)]
fn redis(
    conf: &serde_json::Value,
) -> Result<((String, Command), Vec<String>, crate::redis::Pool), String> {
    let (cmd, fields) = split(conf, "cmd")?;
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let command = Command::parse(&words).map_err(|e| format!("cmd: {e}"))?;
    let read: Vec<String> = match words.first().map(|w| w.to_ascii_uppercase()).as_deref() {
        Some("HGET") | Some("HMGET") => words.iter().skip(2).map(|w| w.to_string()).collect(),
        _ => Vec::new(),
    };
    let pool = RedisConfig::parse("", &fields)
        .and_then(|c| c.pool(""))
        .map_err(text)?;
    Ok(((words[0].to_string(), command), read, pool))
}

/// The placeholders' values as a rule output, for the templates.
fn output(vars: &Vars) -> Map {
    vars.iter()
        .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
        .collect()
}

struct PgUsers {
    pool: crate::pgsql::pool::Pool,
    query: Sql,
}

impl UserLookup for PgUsers {
    fn find_user<'a>(
        &'a self,
        vars: &'a Vars,
    ) -> BoxFuture<'a, Result<Option<UserRecord>, String>> {
        Box::pin(async move {
            let columns = ["password_hash", "salt", "is_superuser", "password"];
            let rows = query_rows(&self.pool, &self.query, &output(vars), &columns).await?;
            let Some(row) = rows.into_iter().next() else {
                return Ok(None);
            };
            let mut row = row.into_iter();
            let (hash, salt, superuser, password) = (
                row.next().flatten(),
                row.next().flatten(),
                row.next().flatten(),
                row.next().flatten(),
            );
            let password_hash = hash
                .or(password)
                .ok_or("the query gives no password_hash")?;
            Ok(Some(UserRecord {
                password_hash,
                salt: salt.unwrap_or_default(),
                is_superuser: is_superuser(superuser.as_deref()),
            }))
        })
    }
}

struct PgAcl {
    pool: crate::pgsql::pool::Pool,
    query: Sql,
}

impl AclLookup for PgAcl {
    fn acl_rows<'a>(&'a self, vars: &'a Vars) -> BoxFuture<'a, Result<Vec<AclRow>, String>> {
        Box::pin(async move {
            let columns = ["permission", "action", "topic"];
            let rows = query_rows(&self.pool, &self.query, &output(vars), &columns).await?;
            Ok(rows
                .into_iter()
                .filter_map(|r| {
                    let mut r = r.into_iter();
                    Some(AclRow {
                        permission: r.next().flatten()?,
                        action: r.next().flatten()?,
                        topic: r.next().flatten()?,
                    })
                })
                .collect())
        })
    }
}

/// A reply as text values: nil is `None`, an array its elements.
fn texts(v: redis::Value) -> Vec<Option<String>> {
    match v {
        redis::Value::Array(items) | redis::Value::Set(items) => {
            items.into_iter().flat_map(texts).collect()
        }
        redis::Value::Map(pairs) => pairs
            .into_iter()
            .flat_map(|(k, v)| texts(k).into_iter().chain(texts(v)))
            .collect(),
        redis::Value::Nil => vec![None],
        redis::Value::BulkString(b) => vec![Some(String::from_utf8_lossy(&b).into_owned())],
        redis::Value::SimpleString(s) => vec![Some(s)],
        redis::Value::Int(i) => vec![Some(i.to_string())],
        other => vec![Some(format!("{other:?}"))],
    }
}

async fn run(
    pool: &crate::redis::Pool,
    cmd: &Command,
    vars: &Vars,
) -> Result<Vec<Option<String>>, String> {
    let mut pipe = redis::pipe();
    pipe.add_command(cmd.render(&output(vars)));
    let reply: redis::Value = pool.query(&pipe).await.map_err(|e| e.to_string())?;
    // A pipeline's reply is the list of its commands' replies: ours is the one.
    match reply {
        redis::Value::Array(mut replies) if replies.len() == 1 => Ok(texts(replies.remove(0))),
        other => Ok(texts(other)),
    }
}

struct RedisUsers {
    pool: crate::redis::Pool,
    cmd: Command,
    fields: Vec<String>,
}

impl UserLookup for RedisUsers {
    fn find_user<'a>(
        &'a self,
        vars: &'a Vars,
    ) -> BoxFuture<'a, Result<Option<UserRecord>, String>> {
        Box::pin(async move {
            let values = run(&self.pool, &self.cmd, vars).await?;
            let get = |name: &str| {
                self.fields
                    .iter()
                    .position(|f| f == name)
                    .and_then(|i| values.get(i).cloned().flatten())
            };
            // No hash: no such user (HMGET on a missing key gives nils).
            let Some(password_hash) = get("password_hash").or_else(|| get("password")) else {
                return Ok(None);
            };
            Ok(Some(UserRecord {
                password_hash,
                salt: get("salt").unwrap_or_default(),
                is_superuser: is_superuser(get("is_superuser").as_deref()),
            }))
        })
    }
}

struct RedisAcl {
    pool: crate::redis::Pool,
    cmd: Command,
}

impl AclLookup for RedisAcl {
    fn acl_rows<'a>(&'a self, vars: &'a Vars) -> BoxFuture<'a, Result<Vec<AclRow>, String>> {
        Box::pin(async move {
            let values = run(&self.pool, &self.cmd, vars).await?;
            Ok(values
                .chunks(2)
                .filter_map(|pair| match pair {
                    [Some(topic), Some(value)] => Some(acl_row(topic, value)),
                    _ => None,
                })
                .collect())
        })
    }
}

/// One field of the ACL hash: the value is an action, or a JSON object.
fn acl_row(topic: &str, value: &str) -> AclRow {
    let json = serde_json::from_str::<serde_json::Value>(value).ok();
    let field = |k: &str| {
        json.as_ref()
            .and_then(|j| j.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    AclRow {
        permission: field("permission").unwrap_or_else(|| "allow".into()),
        action: field("action").unwrap_or_else(|| value.to_string()),
        topic: topic.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_checked_field_by_field() {
        let b = backends();
        let err = |r: Result<Arc<dyn UserLookup>, String>| r.err().unwrap();
        let pg = serde_json::json!({"server": "127.0.0.1", "database": "d", "username": "u"});
        assert_eq!(err(b.user_lookup("postgresql", &pg)), "query: missing");
        let mut bad = pg.clone();
        bad["query"] = "SELECT 1".into();
        bad["pool_sise"] = 1.into();
        assert!(err(b.user_lookup("postgresql", &bad)).starts_with("pool_sise:"));
        let redis =
            serde_json::json!({"redis_type": "single", "server": "127.0.0.1", "cmd": "GET x"});
        assert!(err(b.user_lookup("redis", &redis)).starts_with("cmd: only HGET"));
        let redis = serde_json::json!({"redis_type": "cluster", "server": "h", "cmd": "HMGET u:${username} password_hash"});
        assert!(err(b.user_lookup("redis", &redis)).starts_with("redis_type:"));
    }

    #[test]
    fn redis_acl_values_are_actions_or_json() {
        assert_eq!(
            acl_row("a/#", "publish"),
            AclRow {
                permission: "allow".into(),
                action: "publish".into(),
                topic: "a/#".into()
            }
        );
        let r = acl_row("b", r#"{"action": "all", "permission": "deny"}"#);
        assert_eq!((r.permission.as_str(), r.action.as_str()), ("deny", "all"));
    }
}
