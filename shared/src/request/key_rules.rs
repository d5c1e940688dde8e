//! The rules for the request's object keys and prefixes: S3's length, and the characters IAM
//! accepts in a policy document (they land in the Batch role's policy).

use super::validate::Checker;
use super::KEY_MAX_BYTES;

/// Whether IAM accepts `c` in a policy document: "Policy documents can contain only the
/// following Unicode characters: horizontal tab (U+0009), linefeed (U+000A), carriage return
/// (U+000D), and characters in the range U+0020 to U+00FF" (IAM User Guide, IAM quotas;
/// PutRolePolicy's `PolicyDocument` pattern `[\u0009\u000A\u000D\u0020-\u00FF]+`).
pub fn is_iam_policy_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{FF}')
}

/// A prefix or key that lands in the Batch role's policy (an object ARN) must be made of
/// characters IAM accepts there; otherwise "Prepare destination access" would fail after the
/// copy has begun. Refused here, naming the first such character.
pub(super) fn check_policy_chars(v: &mut Checker, field: &str, text: &str) {
    if let Some(c) = text.chars().find(|c| !is_iam_policy_char(*c)) {
        v.add(
            field,
            format!(
                "contains `{}` (U+{:04X}): IAM policy documents hold only tab, line feed, carriage return and U+0020 to U+00FF, and the Batch role's policy names this {}; choose a {} of those characters (the objects' own keys may hold any)",
                c.escape_debug(),
                u32::from(c),
                if field.ends_with("key") { "key" } else { "prefix" },
                if field.ends_with("key") { "key" } else { "shorter prefix" },
            ),
        );
    }
}

pub(super) fn check_key_len(v: &mut Checker, field: &str, key: &str, min: usize) {
    if key.len() < min || key.len() > KEY_MAX_BYTES {
        v.add(
            field,
            format!(
                "must be {min} to {KEY_MAX_BYTES} bytes of UTF-8 (got {})",
                key.len()
            ),
        );
    }
}
