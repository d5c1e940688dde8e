//! Merging ferry's statements into policies other people own, and taking them out again:
//! foreign statements come out exactly as they went in; ferry's are found by Sid
//! ([`is_copy_statement`]). Also the normal form in which two policies compare (`normalize`)
//! and IAM's URL-encoded documents.

use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};

use super::{PolicyError, PolicyKind, VERSION};

/// Whether a statement is one of ferry's for the copy whose hash is `hash`:
/// Sid = `Ferry` + letters + `hash`.
pub fn is_copy_statement(statement: &Value, hash: &str) -> bool {
    let Some(sid) = statement.get("Sid").and_then(Value::as_str) else {
        return false;
    };
    sid.strip_prefix("Ferry")
        .and_then(|rest| rest.strip_suffix(hash))
        .is_some_and(|purpose| {
            !purpose.is_empty() && purpose.bytes().all(|b| b.is_ascii_alphabetic())
        })
}

/// A parsed policy document: its top-level members in order, with `Statement` taken out.
struct Document {
    members: Map<String, Value>,
    statements: Vec<Value>,
}

impl Document {
    fn parse(text: &str) -> Result<Document, PolicyError> {
        let value: Value = serde_json::from_str(text)?;
        let Value::Object(mut members) = value else {
            return Err(PolicyError::Shape(
                "the document is not a JSON object".into(),
            ));
        };
        let statements = match members.get("Statement") {
            None => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(o @ Value::Object(_)) => vec![o.clone()],
            Some(_) => {
                return Err(PolicyError::Shape(
                    "Statement is neither an object nor an array".into(),
                ))
            }
        };
        // Keep Statement's place among the members; its value is written back on render.
        members.insert("Statement".into(), Value::Null);
        Ok(Document {
            members,
            statements,
        })
    }

    fn empty() -> Document {
        let mut members = Map::new();
        members.insert("Version".into(), json!(VERSION));
        members.insert("Statement".into(), Value::Null);
        Document {
            members,
            statements: Vec::new(),
        }
    }

    fn render(mut self) -> String {
        self.members
            .insert("Statement".into(), Value::Array(self.statements));
        Value::Object(self.members).to_string()
    }
}

/// Merges `ours` (statements of the copy whose hash is `hash`) into an existing policy, or into
/// a new one. This copy's earlier statements are replaced (so a re-run renews the expiry);
/// everything else is kept exactly. `what` names the policy in a size error.
pub fn merge(
    existing: Option<&str>,
    ours: &[Value],
    hash: &str,
    kind: PolicyKind,
    what: &str,
) -> Result<String, PolicyError> {
    debug_assert!(ours.iter().all(|s| is_copy_statement(s, hash)));
    let mut doc = match existing {
        Some(text) if !text.trim().is_empty() => Document::parse(text)?,
        _ => Document::empty(),
    };
    doc.statements.retain(|s| !is_copy_statement(s, hash));
    raise_version_for(&mut doc, ours, what)?;
    doc.statements.extend(ours.iter().cloned());
    let merged = doc.render();
    let size = kind.measure(&merged);
    if size > kind.limit() {
        return Err(PolicyError::TooLarge {
            what: what.to_string(),
            kind,
            size,
            limit: kind.limit(),
        });
    }
    Ok(merged)
}

/// Whether a statement holds `${`: a policy variable, or one of the `${*}`, `${?}`, `${$}`
/// escapes ferry writes for user text.
fn holds_variables(statement: &Value) -> bool {
    statement.to_string().contains("${")
}

/// Raises the policy to `2012-10-17` when `ours` need it. IAM User Guide (Version element):
/// under `2008-10-17` (or no `Version`, which means it) "variables such as `${aws:username}`
/// aren't recognized as variables and are instead treated as literal strings": ferry's escapes
/// would then match nothing, or not what they mean. Raising changes nothing for statements
/// without `${`; one that holds `${` would change meaning, so the merge is refused, naming it.
fn raise_version_for(doc: &mut Document, ours: &[Value], what: &str) -> Result<(), PolicyError> {
    let version = doc.members.get("Version").and_then(Value::as_str);
    if version == Some(VERSION) || !ours.iter().any(holds_variables) {
        return Ok(());
    }
    if let Some(theirs) = doc.statements.iter().find(|s| holds_variables(s)) {
        return Err(PolicyError::Shape(format!(
            "{what}'s policy is Version {} and its statement {} holds `${{`, which Version {VERSION} (needed by ferry's statements, whose keys escape `*`, `?` and `$` as `${{*}}`, `${{?}}`, `${{$}}`) would read as a policy variable: raise the policy to {VERSION} yourself, writing a literal `${{` as `${{$}}{{`, and run the copy again",
            version.unwrap_or("(none, which means 2008-10-17)"),
            theirs.get("Sid").and_then(Value::as_str).map_or_else(|| "(without a Sid)".to_string(), |s| format!("{s:?}")),
        )));
    }
    doc.members.insert("Version".into(), json!(VERSION));
    Ok(())
}

/// What revoking leaves of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// No statement of this copy was there: write nothing.
    Unchanged,
    /// Write this policy back.
    Write(String),
    /// Nothing is left: delete the policy rather than write an empty one.
    Delete,
}

/// Removes exactly the statements of the copy whose hash is `hash`.
pub fn revoke(existing: Option<&str>, hash: &str) -> Result<Revoked, PolicyError> {
    let Some(text) = existing.filter(|t| !t.trim().is_empty()) else {
        return Ok(Revoked::Unchanged);
    };
    let mut doc = Document::parse(text)?;
    let before = doc.statements.len();
    doc.statements.retain(|s| !is_copy_statement(s, hash));
    Ok(if doc.statements.len() == before {
        Revoked::Unchanged
    } else if doc.statements.is_empty() {
        Revoked::Delete
    } else {
        Revoked::Write(doc.render())
    })
}

/// Whether `policy` holds statements of the copy whose hash is `hash`, and if so the latest
/// `aws:CurrentTime` bound among them (`DateLessThan`, as ferry writes every grant; "" when none
/// carries one): what a cleanup that keeps the copy's statements reports as kept.
pub fn copy_statements_until(
    policy: Option<&str>,
    hash: &str,
) -> Result<Option<String>, PolicyError> {
    let Some(text) = policy.filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let ours: Vec<Value> = Document::parse(text)?
        .statements
        .into_iter()
        .filter(|s| is_copy_statement(s, hash))
        .collect();
    if ours.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        ours.iter()
            .filter_map(|s| s["Condition"]["DateLessThan"]["aws:CurrentTime"].as_str())
            .max()
            .unwrap_or_default()
            .to_string(),
    ))
}

/// The Sids of `ours` that `policy` lacks, or holds in another form (after normalizing what AWS
/// rewrites). Empty when every statement is in place: used to read back after a write and to
/// verify grants just before a job is submitted.
pub fn missing_statements(
    policy: Option<&str>,
    ours: &[Value],
) -> Result<Vec<String>, PolicyError> {
    let present: Vec<Value> = match policy.filter(|t| !t.trim().is_empty()) {
        None => Vec::new(),
        Some(text) => Document::parse(text)?
            .statements
            .iter()
            .map(normalize_statement)
            .collect(),
    };
    Ok(ours
        .iter()
        .filter(|s| !present.contains(&normalize_statement(s)))
        .map(|s| {
            s.get("Sid")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        })
        .collect())
}

/// A policy with what AWS rewrites made uniform: `Statement` always an array, one-element arrays
/// as plain strings, a bare account id as Principal as `arn:aws:iam::<id>:root`.
pub fn normalize(policy: &Value) -> Value {
    let mut out = policy.clone();
    if let Some(map) = out.as_object_mut() {
        let statements: Vec<Value> = match map.get("Statement") {
            Some(Value::Array(a)) => a.iter().map(normalize_statement).collect(),
            Some(o @ Value::Object(_)) => vec![normalize_statement(o)],
            _ => Vec::new(),
        };
        if map.contains_key("Statement") {
            map.insert("Statement".into(), Value::Array(statements));
        }
    }
    out
}

fn normalize_statement(statement: &Value) -> Value {
    let Some(map) = statement.as_object() else {
        return statement.clone();
    };
    let mut out = Map::new();
    for (k, v) in map {
        let v = match k.as_str() {
            "Action" | "NotAction" | "Resource" | "NotResource" => single(v),
            "Principal" | "NotPrincipal" => normalize_principal(v),
            "Condition" => normalize_condition(v),
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    // Key order is not meaningful in a statement.
    out.sort_keys();
    Value::Object(out)
}

/// `["x"]` -> `"x"`; other values unchanged.
fn single(v: &Value) -> Value {
    match v {
        Value::Array(a) if a.len() == 1 => a[0].clone(),
        _ => v.clone(),
    }
}

fn normalize_principal(v: &Value) -> Value {
    let Some(map) = v.as_object() else {
        return v.clone();
    };
    let root = |p: &Value| match p.as_str() {
        Some(id) if crate::request::is_account_id(id) => json!(format!("arn:aws:iam::{id}:root")),
        _ => p.clone(),
    };
    let mut out = Map::new();
    for (k, p) in map {
        let p = match p {
            Value::Array(a) => Value::Array(a.iter().map(root).collect()),
            other => root(other),
        };
        out.insert(k.clone(), single(&p));
    }
    out.sort_keys();
    Value::Object(out)
}

fn normalize_condition(v: &Value) -> Value {
    let Some(ops) = v.as_object() else {
        return v.clone();
    };
    let mut out = Map::new();
    for (op, keys) in ops {
        let keys = match keys.as_object() {
            Some(m) => {
                let mut km: Map<String, Value> =
                    m.iter().map(|(k, val)| (k.clone(), single(val))).collect();
                km.sort_keys();
                Value::Object(km)
            }
            None => keys.clone(),
        };
        out.insert(op.clone(), keys);
    }
    out.sort_keys();
    Value::Object(out)
}

/// IAM's GetRole / GetRolePolicy return documents URL-encoded; decodes one (a document that is
/// already JSON is returned as it is).
pub fn decode_iam_document(text: &str) -> Result<String, PolicyError> {
    if serde_json::from_str::<Value>(text).is_ok() {
        return Ok(text.to_string());
    }
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| PolicyError::Encoding)
}

/// A policy element that is a string or a list of strings (`Action`, `Resource`, a condition's
/// values), as a list; anything else is empty.
pub fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(l)) => l
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}
