//! The account page's session: a random id in an `HttpOnly`, `SameSite=Lax` cookie, found in
//! the database by its hash (so any replica knows it), for [`SESSION_TTL`]. Its forms carry
//! a token derived from the session id, which a page of another site cannot know.
//!
//! On an https public URL the cookies are `Secure` and named with the `__Host-` prefix (the
//! browser then refuses them from any other host or path); on plain http (loopback only)
//! they are neither, or the browser would drop them.
//!
//! A second, short cookie binds a sign-in to the browser that started it: its nonce's hash
//! travels with the pending sign-in, and Make's answer is only accepted with the cookie.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};

use super::AuthServer;
use super::secrets::{self, Kind};
use crate::store::{PersonId, StoreError};

/// How long an account session lasts after sign-in.
pub(super) const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// A signed-in browser.
pub(super) struct Session {
    /// The id from the cookie; never stored.
    id: String,
    pub(super) person: PersonId,
}

impl Session {
    /// The token the session's forms carry.
    pub(super) fn form_token(&self) -> String {
        form_token(&self.id)
    }

    /// True when `presented` is the session's form token (compared in constant time).
    pub(super) fn accepts(&self, presented: &str) -> bool {
        crate::transport::http::security::constant_time_eq(
            presented.as_bytes(),
            self.form_token().as_bytes(),
        )
    }
}

/// The form token of session `id`: a hash of it under its own label, so it differs from the
/// stored hash and reveals nothing of the id.
fn form_token(id: &str) -> String {
    secrets::hash(&format!("make-credentials-mcp account form\n{id}"))
}

/// Which cookie.
#[derive(Debug, Clone, Copy)]
pub(super) enum Cookie {
    /// The account session.
    Session,
    /// The browser binding of a sign-in in progress.
    SignIn,
}

impl Cookie {
    /// The cookie's name: `__Host-` prefixed when `secure`.
    fn name(self, secure: bool) -> &'static str {
        match (self, secure) {
            (Cookie::Session, true) => "__Host-mcp-account",
            (Cookie::Session, false) => "mcp-account",
            (Cookie::SignIn, true) => "__Host-mcp-account-sign-in",
            (Cookie::SignIn, false) => "mcp-account-sign-in",
        }
    }

    /// A `Set-Cookie` value that sets the cookie to `value` for `max_age`.
    fn set(self, value: &str, max_age: Duration, secure: bool) -> HeaderValue {
        let flag = if secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{flag}",
            self.name(secure),
            max_age.as_secs()
        ))
        .expect("cookie names and random ids are header-safe")
    }
}

impl AuthServer {
    fn cookie_name(&self, cookie: Cookie) -> &'static str {
        cookie.name(self.inner.secure_cookies)
    }

    /// A `Set-Cookie` value that sets `cookie` to `value` for `max_age`.
    pub(super) fn set_cookie(&self, cookie: Cookie, value: &str, max_age: Duration) -> HeaderValue {
        cookie.set(value, max_age, self.inner.secure_cookies)
    }

    /// A `Set-Cookie` value that removes `cookie`.
    pub(super) fn clear_cookie(&self, cookie: Cookie) -> HeaderValue {
        self.set_cookie(cookie, "", Duration::ZERO)
    }

    /// The value of `cookie` in the request, if it came.
    pub(super) fn cookie<'a>(&self, headers: &'a HeaderMap, cookie: Cookie) -> Option<&'a str> {
        let name = self.cookie_name(cookie);
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, v)| *n == name && !v.is_empty())
            .map(|(_, v)| v)
    }

    /// The request's unexpired account session.
    pub(super) async fn session(&self, headers: &HeaderMap) -> Result<Option<Session>, StoreError> {
        let Some(id) = self.cookie(headers, Cookie::Session) else {
            return Ok(None);
        };
        let person = self.inner.store.account_session(&secrets::hash(id)).await?;
        Ok(person.map(|person| Session {
            id: id.to_string(),
            person,
        }))
    }

    /// Starts a session for `person`: the `Set-Cookie` value that carries it.
    pub(super) async fn start_session(&self, person: &PersonId) -> Result<HeaderValue, StoreError> {
        let id = secrets::random(Kind::AccountSession);
        self.inner
            .store
            .put_account_session(&secrets::hash(&id), person, SESSION_TTL)
            .await?;
        Ok(self.set_cookie(Cookie::Session, &id, SESSION_TTL))
    }

    /// Ends the request's session, if it has one.
    pub(super) async fn end_session(&self, headers: &HeaderMap) -> Result<(), StoreError> {
        if let Some(id) = self.cookie(headers, Cookie::Session) {
            self.inner
                .store
                .delete_account_session(&secrets::hash(id))
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_token_is_bound_to_the_session_and_is_not_its_stored_hash() {
        let id = secrets::random(Kind::AccountSession);
        let session = Session {
            id: id.clone(),
            person: PersonId("p".into()),
        };
        let token = session.form_token();
        assert!(session.accepts(&token));
        assert!(!session.accepts(""));
        assert!(!session.accepts(&secrets::hash(&id)));
        let other = Session {
            id: secrets::random(Kind::AccountSession),
            person: PersonId("p".into()),
        };
        assert!(!other.accepts(&token));
        assert!(!token.contains(&id));
    }

    #[test]
    fn cookies_are_host_only_and_secure_on_https_and_plain_on_loopback_http() {
        let https = Cookie::Session.set("abc", SESSION_TTL, true);
        assert_eq!(
            https.to_str().unwrap(),
            "__Host-mcp-account=abc; Path=/; Max-Age=43200; HttpOnly; SameSite=Lax; Secure"
        );
        let http = Cookie::SignIn.set("", Duration::ZERO, false);
        assert_eq!(
            http.to_str().unwrap(),
            "mcp-account-sign-in=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
        );
    }
}
