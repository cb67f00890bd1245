//! Which OAuth scopes the sandbox accepts, and how it names them to a person.
//!
//! Real Make does not check scopes against a short list: it hands them to the provider
//! (Google, Slack, …), whose OAuth server grants or refuses them when the person consents.
//! The sandbox cannot ask the provider, so it accepts any scope written in the provider's
//! form (Google: `https://www.googleapis.com/auth/<name>`, Slack: `<resource>:<action>`),
//! describes the few scopes its catalog knows, and names the rest plainly. An allow-list
//! would refuse real scopes such as `calendar.readonly` that Make accepts, and so teach
//! clients the wrong lesson. A scope that cannot be the provider's (another host, empty,
//! spaces) is still refused with Make's "Invalid scope".

use super::catalog::ConnectionType;

/// Longest scope the sandbox accepts; real scopes are far shorter, and a bound keeps a
/// hostile request from storing megabytes in a credential.
const MAX_SCOPE_LEN: usize = 256;

/// The shape of a provider's scope strings.
pub(crate) enum ScopeForm {
    /// The connection type takes no scopes (API-key and basic-auth connections).
    None,
    /// A fixed URL prefix, then `/`-separated segments of `[A-Za-z0-9._-]` (Google).
    UrlPrefix(&'static str),
    /// Two or more `:`-separated words of `[A-Za-z0-9._-]`, e.g. `chat:write`,
    /// `users.profile:read`, the legacy `chat:write:bot` (Slack).
    Colon,
}

/// A non-empty run of `[A-Za-z0-9._-]`.
fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl ScopeForm {
    /// Whether `scope` is well-formed for this provider.
    pub(crate) fn accepts(&self, scope: &str) -> bool {
        if scope.len() > MAX_SCOPE_LEN {
            return false;
        }
        match self {
            ScopeForm::None => false,
            ScopeForm::UrlPrefix(prefix) => scope.strip_prefix(prefix).is_some_and(|rest| {
                rest.split('/')
                    .all(|seg| is_word(seg) && seg != "." && seg != "..")
            }),
            ScopeForm::Colon => {
                let mut parts = scope.split(':');
                let all_words = parts.clone().all(is_word);
                all_words && parts.nth(1).is_some()
            }
        }
    }

    /// The part a person reads: what follows a URL prefix, else the whole scope.
    fn short<'a>(&self, scope: &'a str) -> &'a str {
        match self {
            ScopeForm::UrlPrefix(prefix) => scope.strip_prefix(prefix).unwrap_or(scope),
            _ => scope,
        }
    }

    /// One sentence on the expected form, for error details.
    fn hint(&self) -> String {
        match self {
            ScopeForm::None => "This connection type takes no scopes.".into(),
            ScopeForm::UrlPrefix(prefix) => format!("Scopes look like '{prefix}<name>'."),
            ScopeForm::Colon => "Scopes look like '<resource>:<action>', e.g. 'chat:write'.".into(),
        }
    }
}

impl ConnectionType {
    /// A scope the catalog knows, or any well-formed scope of the provider's form.
    pub(crate) fn accepts_scope(&self, scope: &str) -> bool {
        self.scope(scope).is_some() || self.scope_form.accepts(scope)
    }

    /// The catalog's description, or the scope's short name marked as undescribed, so the
    /// consent page never passes off a made-up description as the provider's.
    pub(crate) fn describe_scope(&self, scope: &str) -> String {
        match self.scope(scope) {
            Some(def) => def.name.to_owned(),
            None => format!(
                "{} (no description in the sandbox)",
                self.scope_form.short(scope)
            ),
        }
    }

    /// Error detail for a scope this type refuses.
    pub(crate) fn scope_error_detail(&self, scope: &str) -> String {
        format!(
            "Scope '{scope}' is not valid for connection type '{}'. {}",
            self.name,
            self.scope_form.hint()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::catalog::connection_type;

    #[test]
    fn google_accepts_any_well_formed_scope_and_refuses_others() {
        let g = connection_type("google").unwrap();
        for ok in [
            "https://www.googleapis.com/auth/calendar.readonly",
            "https://www.googleapis.com/auth/devstorage.read_only",
            "https://www.googleapis.com/auth/youtube.force-ssl",
            "https://www.googleapis.com/auth/spreadsheets",
            "https://www.googleapis.com/auth/a/b",
        ] {
            assert!(g.accepts_scope(ok), "{ok}");
        }
        for bad in [
            "",
            "https://evil.example.com/x",
            "https://www.googleapis.com/auth/",
            "https://www.googleapis.com/auth/cal endar",
            "https://www.googleapis.com/auth/a//b",
            "https://www.googleapis.com/auth/a/",
            "https://www.googleapis.com/auth/../x",
            "https://www.googleapis.com/auth/x?y=1",
            "http://www.googleapis.com/auth/drive",
            "chat:write",
            "bogus",
        ] {
            assert!(!g.accepts_scope(bad), "{bad:?}");
        }
        let long = format!("https://www.googleapis.com/auth/{}", "a".repeat(300));
        assert!(!g.accepts_scope(&long));
    }

    #[test]
    fn slack_accepts_colon_words_and_basic_types_take_none() {
        let s = connection_type("slack3").unwrap();
        for ok in [
            "chat:write",
            "users.profile:read",
            "chat:write:bot",
            "im:history",
        ] {
            assert!(s.accepts_scope(ok), "{ok}");
        }
        for bad in [
            "",
            "chat",
            "chat:",
            ":write",
            "chat write",
            "chat:wr ite",
            "a::b",
        ] {
            assert!(!s.accepts_scope(bad), "{bad:?}");
        }
        let airtable = connection_type("airtable2").unwrap();
        assert!(!airtable.accepts_scope("data.records:read"));
    }

    #[test]
    fn known_scopes_are_described_and_others_named_plainly() {
        let g = connection_type("google").unwrap();
        assert_eq!(
            g.describe_scope("https://www.googleapis.com/auth/drive"),
            "Access to Google Drive."
        );
        assert_eq!(
            g.describe_scope("https://www.googleapis.com/auth/calendar.readonly"),
            "calendar.readonly (no description in the sandbox)"
        );
        let s = connection_type("slack3").unwrap();
        assert_eq!(
            s.describe_scope("im:history"),
            "im:history (no description in the sandbox)"
        );
        assert!(
            g.scope_error_detail("x")
                .contains("https://www.googleapis.com/auth/<name>")
        );
    }
}
