//! Key types, read from Make once per process, and the check of key `parameters` against
//! them: `authUser`/`authPass`, not `user`/`pass`, is the classic mistake (Make's own tool
//! example makes it), and Make's answer to it does not name the expected parameters.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tokio::sync::OnceCell;

use crate::logging::quote;
use crate::make::key_types::KeyType;
use crate::make::keys::Key;
use crate::make::{MakeClient, MakeError, clip};
use crate::tools::ToolError;
use crate::tools::limits::MAX_ECHO_CHARS;

/// After a failed read, checks go without the list this long before asking Make again.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// Most unknown parameter names a refusal lists.
const MAX_NAMED: usize = 10;

/// The key types of the Make zone, read once per process and shared by every session.
#[derive(Default)]
pub(crate) struct KeyTypeCache {
    types: OnceCell<Arc<[KeyType]>>,
    failed_at: Mutex<Option<Instant>>,
}

impl KeyTypeCache {
    /// The key types; read from Make (with the client's retries) on first use. A failure is
    /// returned, not kept: the next call asks again.
    pub(crate) async fn get(&self, make: &MakeClient) -> Result<Arc<[KeyType]>, MakeError> {
        self.fetch(make, false).await
    }

    /// The key types for a check, or `None` when Make cannot say at once (one attempt; after
    /// a failure Make is not asked again for a minute). A check without them is skipped: it
    /// never makes the call it serves fail or wait.
    pub(crate) async fn for_check(&self, make: &MakeClient) -> Option<Arc<[KeyType]>> {
        if let Some(types) = self.types.get() {
            return Some(types.clone());
        }
        let paused = self
            .failed_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| at.elapsed() < PAUSE_AFTER_FAILURE);
        if paused {
            return None;
        }
        match self.fetch(make, true).await {
            Ok(types) => Some(types),
            Err(e) => {
                tracing::info!(error = %quote(&e), "key types unavailable: key parameters are not checked");
                None
            }
        }
    }

    /// Checks new `parameters` of key `id` against its type when the key types are known,
    /// and returns the key read for that (for the confirmation question). Reading the key or
    /// the types failing skips the check: the update itself then reports Make's answer.
    pub(crate) async fn check_new_parameters(
        &self,
        make: &MakeClient,
        id: u64,
        parameters: &Map<String, Value>,
    ) -> Result<Option<Key>, ToolError> {
        let Some(types) = self.for_check(make).await else {
            return Ok(None);
        };
        let Ok(key) = make.get_key(id).await else {
            return Ok(None);
        };
        if let Some(type_name) = &key.type_name {
            check_parameters(&types, type_name, parameters, true)?;
        }
        Ok(Some(key))
    }

    async fn fetch(&self, make: &MakeClient, once: bool) -> Result<Arc<[KeyType]>, MakeError> {
        let result = self
            .types
            .get_or_try_init(|| async { make.list_key_types(once).await.map(Arc::from) })
            .await
            .cloned();
        if result.is_err() {
            *self.failed_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        }
        result
    }
}

/// Checks `given` parameter names against key type `type_name` in `types`: no unknown names
/// and, unless `partial`, every required parameter without a default. Passes when the type
/// is not listed or lists no parameters (Make decides then). The refusal names what the
/// type takes; it quotes only names, never values.
pub(crate) fn check_parameters(
    types: &[KeyType],
    type_name: &str,
    given: &Map<String, Value>,
    partial: bool,
) -> Result<(), ToolError> {
    let Some(kt) = types.iter().find(|t| t.name == type_name) else {
        return Ok(());
    };
    if kt.parameters.is_empty() {
        return Ok(());
    }
    let expected: Vec<&str> = kt.parameters.iter().map(|p| p.name.as_str()).collect();
    let unknown: Vec<&str> = given
        .keys()
        .map(String::as_str)
        .filter(|k| !expected.contains(k))
        .collect();
    let missing: Vec<&str> = if partial {
        Vec::new()
    } else {
        kt.parameters
            .iter()
            .filter(|p| p.must_be_given() && !given.contains_key(&p.name))
            .map(|p| p.name.as_str())
            .collect()
    };
    if unknown.is_empty() && missing.is_empty() {
        return Ok(());
    }
    let mut problems = Vec::new();
    if !unknown.is_empty() {
        problems.push(format!(
            "has names key type '{}' does not take: {}",
            kt.name,
            named(&unknown, &expected)
        ));
    }
    if !missing.is_empty() {
        problems.push(format!("misses required {}", missing.join(", ")));
    }
    Err(ToolError::invalid(
        "parameters",
        format!(
            "{}. Key type '{}' takes: {} (see keys_list-types)",
            problems.join("; it "),
            kt.name,
            described(kt)
        ),
    ))
}

/// `pass (did you mean authPass?), user (did you mean authUser?)`: each unknown name,
/// clipped, with the expected name it is probably meant to be when exactly one contains it
/// (ignoring case) or is contained in it.
fn named(unknown: &[&str], expected: &[&str]) -> String {
    let mut out: Vec<String> = unknown
        .iter()
        .take(MAX_NAMED)
        .map(|u| {
            let folded = u.to_lowercase();
            let near: Vec<&&str> = expected
                .iter()
                .filter(|e| {
                    let e = e.to_lowercase();
                    !folded.is_empty() && (e.contains(&folded) || folded.contains(&e))
                })
                .collect();
            let name = clip(u, MAX_ECHO_CHARS);
            match near.as_slice() {
                [one] => format!("{name} (did you mean {one}?)"),
                _ => name,
            }
        })
        .collect();
    if unknown.len() > MAX_NAMED {
        out.push(format!("and {} more", unknown.len() - MAX_NAMED));
    }
    out.join(", ")
}

/// `authUser (Username, required), authPass (Password, required)`.
fn described(kt: &KeyType) -> String {
    kt.parameters
        .iter()
        .map(|p| {
            let mut notes: Vec<String> = p.label.iter().cloned().collect();
            if p.must_be_given() {
                notes.push("required".into());
            }
            if let Some(default) = p.default.as_ref().filter(|d| !d.is_null()) {
                notes.push(format!("default {default}"));
            }
            if notes.is_empty() {
                p.name.clone()
            } else {
                format!("{} ({})", p.name, notes.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn types() -> Vec<KeyType> {
        serde_json::from_value(json!([
            {"name": "basicauth", "label": "HTTP Basic Auth", "parameters": [
                {"name": "authUser", "label": "Username", "type": "text", "required": true},
                {"name": "authPass", "label": "Password", "type": "password", "required": true}]},
            {"name": "apikeyauth", "parameters": [
                {"name": "key", "required": true},
                {"name": "placement", "required": true, "default": "header"},
                {"name": "name", "required": true, "default": "X-API-Key"}]},
            {"name": "listed-without-parameters"}
        ]))
        .unwrap()
    }

    fn params(v: Value) -> Map<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn user_and_pass_are_refused_with_the_names_basicauth_takes() {
        let e = check_parameters(
            &types(),
            "basicauth",
            &params(json!({"user": "u", "pass": "p"})),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("Invalid argument `parameters`: has names key type 'basicauth' does not take: pass (did you mean authPass?), user (did you mean authUser?); it misses required authUser, authPass. Key type 'basicauth' takes: authUser (Username, required), authPass (Password, required) (see keys_list-types). Nothing was sent"), "{e}");
        assert!(
            !e.contains("\"u\"") && !e.contains("\"p\""),
            "values are never quoted: {e}"
        );
    }

    #[test]
    fn defaults_make_parameters_optional_and_partial_skips_missing() {
        let t = types();
        assert!(check_parameters(&t, "apikeyauth", &params(json!({"key": "k"})), false).is_ok());
        let e = check_parameters(
            &t,
            "apikeyauth",
            &params(json!({"placement": "query"})),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("misses required key."), "{e}");
        assert!(e.contains("placement (default \"header\")"), "{e}");
        assert!(check_parameters(&t, "basicauth", &params(json!({"authPass": "p"})), true).is_ok());
        assert!(check_parameters(&t, "basicauth", &params(json!({"pass": "p"})), true).is_err());
    }

    #[test]
    fn unknown_or_undescribed_types_are_left_to_make() {
        let t = types();
        let any = params(json!({"whatever": 1}));
        assert!(check_parameters(&t, "clientcertauth", &any, false).is_ok());
        assert!(check_parameters(&t, "listed-without-parameters", &any, false).is_ok());
    }

    #[test]
    fn many_unknown_names_are_counted_not_listed() {
        let many: Map<String, Value> = (0..50).map(|i| (format!("p{i:02}"), json!(1))).collect();
        let e = check_parameters(&types(), "basicauth", &many, true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("and 40 more"), "{e}");
    }
}
