//! Parsing a copy request: strict (camelCase, unknown fields rejected), and a request that does
//! not parse is reported whole, every structural error with its field path.

use super::{CopyRequest, Violation, Violations};

impl CopyRequest {
    /// Parses a request. A request that does not parse is reported whole: every missing
    /// field, every unknown field and every value of the wrong type, each with its path
    /// (`destination.storageClass: unknown variant ...`). Semantic rules are
    /// [`CopyRequest::validate`]'s.
    pub fn from_json(json: &str) -> Result<CopyRequest, Violations> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| {
            Violations(vec![Violation {
                field: "(request)".into(),
                rule: e.to_string(),
            }])
        })?;
        Self::from_value(&value)
    }

    /// [`CopyRequest::from_json`] on a parsed value.
    pub fn from_value(value: &serde_json::Value) -> Result<CopyRequest, Violations> {
        match deserialize(value) {
            Ok(req) => Ok(req),
            Err(first) => Err(Violations(
                structural::violations(value).unwrap_or(vec![first]),
            )),
        }
    }
}

/// Deserializes a request, naming the path of the first structural error.
fn deserialize(value: &serde_json::Value) -> Result<CopyRequest, Violation> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        Violation {
            field: if path == "." {
                "(request)".into()
            } else {
                path
            },
            rule: e.inner().to_string(),
        }
    })
}

/// Every structural error of a request at once. serde stops at the first; here each field the
/// user wrote is tried on its own inside a request that is otherwise complete and well typed
/// (the baseline), and each field the baseline cannot do without is looked for.
mod structural {
    use super::{deserialize, Violation};
    use serde_json::{json, Map, Value};

    /// A request with every field present and well typed. Its values need not pass
    /// validation, only parsing.
    fn baseline(manifest_kind: Option<&str>) -> Value {
        let manifest = if manifest_kind == Some("inventory") {
            json!({"kind": "inventory"})
        } else if manifest_kind == Some("generated") {
            json!({"kind": "generated", "filter": {"createdAfter": "t", "createdBefore": "t",
                   "sizeGreaterThanBytes": 1, "sizeLessThanBytes": 2, "storageClasses": ["STANDARD"],
                   "incremental": false, "overlapSeconds": 1}})
        } else {
            json!({"kind": "csv", "accountId": "1", "bucket": "m", "key": "k"})
        };
        json!({
            "copyId": "x", "region": "r",
            "source": {"accountId": "1", "bucket": "s", "prefix": ""},
            "destination": {"accountId": "2", "bucket": "d", "keyPrefix": "", "storageClass": "STANDARD", "metadataDirective": "COPY",
                            "encryption": {"type": "SSE-KMS", "kmsKeyArn": "k", "bucketKeyEnabled": false}},
            "manifest": manifest,
            "report": {"scope": "FailedTasksOnly", "bucket": "r", "prefix": "p"},
            "job": {"priority": 1, "description": "d", "tags": {}},
            "retry": {"maxAttempts": 1},
            "timing": {"pollSeconds": 1, "inventoryCheckSeconds": 1, "inventoryDeadlineSeconds": 1, "grantLifetimeSeconds": 1},
            "cleanup": {"revokeGrants": true, "removeInventory": true}
        })
    }

    /// Objects whose members are the user's own (a map), tried as one value.
    const MAPS: [&str; 1] = ["job.tags"];

    pub(super) fn violations(value: &Value) -> Option<Vec<Violation>> {
        let Value::Object(user) = value else {
            return None;
        };
        let kind = user
            .get("manifest")
            .and_then(|m| m.get("kind"))
            .and_then(Value::as_str);
        let base = baseline(kind);
        let mut out: Vec<Violation> = Vec::new();
        let mut push = |v: Violation| {
            if !out.contains(&v) {
                out.push(v);
            }
        };
        // Missing fields: those whose absence from the baseline breaks it. Inside `manifest`
        // only when its kind is known (else the kind is the one error).
        let known_kind = matches!(kind, Some("inventory" | "csv" | "generated"));
        for path in paths(&base, "") {
            if path.starts_with("manifest.") && path != "manifest.kind" && !known_kind {
                continue;
            }
            if get(value, &path).is_some() || parent_missing_or_not_object(value, &path) {
                continue;
            }
            let mut without = base.clone();
            remove(&mut without, &path);
            if let Err(e) = deserialize(&without) {
                if e.rule.starts_with("missing field") {
                    push(Violation {
                        field: path.clone(),
                        rule: format!("is required: {}", e.rule),
                    });
                }
            }
        }
        // A key with a `.` in it is no field of a request (and cannot be addressed by a path).
        for (field, key) in dotted_keys(value, "") {
            push(Violation {
                field,
                rule: format!(
                    "unknown field `{key}`: no field of a copy request has a `.` in its name"
                ),
            });
        }
        // Each field the user wrote, alone in the baseline.
        for path in paths(value, "") {
            let recurse_base = get(&base, &path).is_some_and(Value::is_object);
            let Some(user_value) = get(value, &path) else {
                continue; // under a key with a `.`, reported above
            };
            if recurse_base && user_value.is_object() && !MAPS.contains(&path.as_str()) {
                continue; // its members are tried one by one
            }
            let mut one = base.clone();
            set(&mut one, &path, user_value.clone());
            if let Err(e) = deserialize(&one) {
                push(e);
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// Every path of `value` (`source`, `source.bucket`, ...), maps included as one path.
    fn paths(value: &Value, prefix: &str) -> Vec<String> {
        fields(value, prefix)
            .into_iter()
            .map(|(path, _)| path)
            .collect()
    }

    /// The keys with a `.` in them, outside the maps, with the path of the field they are in.
    fn dotted_keys(value: &Value, prefix: &str) -> Vec<(String, String)> {
        fields(value, prefix)
            .into_iter()
            .filter(|(_, key)| key.contains('.'))
            .collect()
    }

    /// Every field of `value` below `prefix`, as (its path, its own key); a map's members are
    /// not fields (the map is tried as one value).
    fn fields(value: &Value, prefix: &str) -> Vec<(String, String)> {
        let Value::Object(map) = value else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in map {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            if !MAPS.contains(&path.as_str()) {
                out.extend(fields(v, &path));
            }
            out.push((path, k.clone()));
        }
        out
    }

    fn get<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
        path.split('.').try_fold(value, |v, k| v.get(k))
    }

    /// A field under a section that is absent or not an object is reported with its section.
    fn parent_missing_or_not_object(value: &Value, path: &str) -> bool {
        match path.rsplit_once('.') {
            Some((parent, _)) => !get(value, parent).is_some_and(Value::is_object),
            None => false,
        }
    }

    fn parent_map<'a>(
        value: &'a mut Value,
        path: &str,
    ) -> Option<(&'a mut Map<String, Value>, String)> {
        let (parent, last) = match path.rsplit_once('.') {
            Some((p, l)) => (Some(p), l),
            None => (None, path),
        };
        let mut v = value;
        if let Some(p) = parent {
            for k in p.split('.') {
                v = v.as_object_mut()?.entry(k.to_string()).or_insert(json!({}));
            }
        }
        Some((v.as_object_mut()?, last.to_string()))
    }

    fn set(value: &mut Value, path: &str, new: Value) {
        if let Some((map, last)) = parent_map(value, path) {
            map.insert(last, new);
        }
    }

    fn remove(value: &mut Value, path: &str) {
        if let Some((map, last)) = parent_map(value, path) {
            map.remove(&last);
        }
    }
}
