//! The Make client acting as one person: their OAuth access token instead of the
//! operator's key, on the same pooled HTTP client.
//!
//! In team mode every request to the server comes from a person who signed in with Make;
//! their tool calls must reach Make with their own grant, never the operator's key. One
//! such client is derived per call, so deriving it must be cheap: it shares the pool (and
//! with it the TLS setup and open connections), and only the credential and perhaps the
//! base URL (the person's zone) differ.

use reqwest::header::HeaderValue;
use url::Url;

use super::MakeClient;

impl MakeClient {
    /// A client that sends `Authorization: Bearer <bearer_access_token>` (a Make OAuth
    /// access token), to `base` when given (the person's zone, `https://{zone}/api/v2`),
    /// else to this client's base URL. Timeouts and retries are this client's; so is the
    /// HTTP pool, unless `base` needs another kind of pool (loopback or plain `http` where
    /// this one is for a Make zone, or the reverse; see `LazyHttp::for_base`).
    ///
    /// The budget stays shared; whose part the requests spend is set with
    /// [`MakeClient::spending_as`] (until then they are not budgeted).
    ///
    /// A token that cannot be a header value (control characters) is sent as
    /// `Bearer invalid`, which Make refuses with 401 like any other bad token.
    pub fn acting_as(&self, bearer_access_token: &str, base: Option<Url>) -> MakeClient {
        let base = base.or_else(|| self.base.clone());
        MakeClient {
            http: self.http.for_base(base.as_ref()),
            base,
            auth: Some(bearer_header(bearer_access_token)),
            oauth: true,
            timeout_secs: self.timeout_secs,
            retry: self.retry.clone(),
            metrics: self.metrics.clone(),
            budget: self.budget.clone(),
            spender: None,
        }
    }
}

/// `Bearer <token>`, marked sensitive so that HTTP-level debug output hides it.
fn bearer_header(token: &str) -> HeaderValue {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid"));
    value.set_sensitive(true);
    value
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::make::{ApiKey, ApiRequest, ClientSettings, RetryPolicy};

    const OPERATOR_KEY: &str = "5c4e2a1b-0d3f-4a6b-8c9d-112233445566";
    const TOKEN: &str = "mk_at.person-a.9f8e7d6c5b4a";

    fn operator(base: &str) -> MakeClient {
        MakeClient::new(&ClientSettings {
            base_url: Some(base.parse().unwrap()),
            api_key: ApiKey::new(OPERATOR_KEY),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            retry: RetryPolicy {
                max_retries: 0,
                ..RetryPolicy::default()
            },
        })
        .unwrap()
    }

    async fn make_expecting(authorization: &str) -> MockServer {
        let make = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/v2/users/me"))
            .and(header("authorization", authorization))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
            .mount(&make)
            .await;
        make
    }

    fn authorizations(requests: &[wiremock::Request]) -> Vec<String> {
        requests
            .iter()
            .map(|r| r.headers["authorization"].to_str().unwrap().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn sends_the_persons_bearer_token_not_the_operators_key() {
        let make = make_expecting(&format!("Bearer {TOKEN}")).await;
        let operator = operator(&format!("{}/api/v2", make.uri()));
        let person = operator.acting_as(TOKEN, None);
        assert!(person.uses_oauth_token());
        assert!(!operator.uses_oauth_token());
        assert_eq!(person.base_url(), operator.base_url());
        let _: serde_json::Value = person
            .send(&ApiRequest::get(&["users", "me"]))
            .await
            .unwrap();
        assert_eq!(
            authorizations(&make.received_requests().await.unwrap()),
            [format!("Bearer {TOKEN}")]
        );
        assert_ne!(person.credential_digest(), operator.credential_digest());
    }

    #[tokio::test]
    async fn a_given_base_replaces_the_operators_and_the_pool_is_shared() {
        let zone = make_expecting(&format!("Bearer {TOKEN}")).await;
        let elsewhere = MockServer::start().await;
        let operator = operator(&format!("{}/api/v2", elsewhere.uri()));
        let base: Url = format!("{}/api/v2", zone.uri()).parse().unwrap();
        let person = operator.acting_as(TOKEN, Some(base.clone()));
        assert_eq!(person.base_url(), Some(&base));
        assert!(
            person.http.same_pool(&operator.http),
            "a new pool per person"
        );
        let _: serde_json::Value = person
            .send(&ApiRequest::get(&["users", "me"]))
            .await
            .unwrap();
        assert_eq!(zone.received_requests().await.unwrap().len(), 1);
        assert!(elsewhere.received_requests().await.unwrap().is_empty());
    }

    #[test]
    fn a_base_of_another_kind_gets_a_pool_of_its_own() {
        let operator = operator("https://eu1.make.com/api/v2");
        let zone = operator.acting_as(TOKEN, Some("https://us1.make.com/api/v2".parse().unwrap()));
        assert!(zone.http.same_pool(&operator.http));
        // A loopback base must never go through a pool that honours proxies.
        let loopback =
            operator.acting_as(TOKEN, Some("http://127.0.0.1:9/api/v2".parse().unwrap()));
        assert!(!loopback.http.same_pool(&operator.http));
    }

    #[test]
    fn the_token_never_shows_in_debug() {
        let operator = operator("https://eu1.make.com/api/v2");
        let person = operator.acting_as(TOKEN, None);
        let shown = format!("{person:?} {:?}", person.auth);
        assert!(!shown.contains("person-a"), "{shown}");
        assert!(shown.contains("authenticated: true"), "{shown}");
    }

    #[test]
    fn a_token_that_is_no_header_value_is_sent_as_invalid() {
        let person = operator("https://eu1.make.com/api/v2").acting_as("a\nb", None);
        assert_eq!(person.auth.unwrap(), "Bearer invalid");
    }
}
