//! Vetting of the `publicUri` links Make returns: they are handed to a person, so only
//! links on a Make host (or on the configured API host) are passed on.

use url::Url;

use crate::make::{is_loopback_url, is_make_host};

/// A link that may be shown, or why it may not.
pub(crate) struct Vetted {
    pub(crate) uri: Option<String>,
    pub(crate) problem: Option<String>,
}

/// Passes `uri` on when it is `https` on a Make host or on the API's own host; a plain
/// `http` loopback link only when the API itself is on loopback (the sandbox, tests).
pub(crate) fn vet(uri: Option<String>, api_base: Option<&Url>) -> Vetted {
    let Some(text) = uri.filter(|u| !u.trim().is_empty()) else {
        return Vetted {
            uri: None,
            problem: None,
        };
    };
    let verdict = match Url::parse(&text) {
        Err(_) => Err("it is not a valid URL".to_string()),
        Ok(url) => check(&url, api_base),
    };
    match verdict {
        Ok(()) => Vetted {
            uri: Some(text),
            problem: None,
        },
        Err(problem) => {
            tracing::warn!(problem = %crate::logging::quote(&problem), "withholding a credential-request link");
            Vetted {
                uri: None,
                problem: Some(problem),
            }
        }
    }
}

fn check(url: &Url, api_base: Option<&Url>) -> Result<(), String> {
    let host = url.host_str().unwrap_or_default();
    let api_host = api_base.and_then(Url::host_str);
    let api_is_loopback = api_base.is_some_and(is_loopback_url);
    match url.scheme() {
        "https" if is_make_host(host) || api_host == Some(host) => Ok(()),
        "http" | "https" if api_is_loopback && is_loopback_url(url) => Ok(()),
        "https" => Err(format!("its host {host:?} is not a Make host")),
        scheme => Err(format!("it uses {scheme:?} instead of https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn make_links_pass_and_foreign_ones_are_withheld() {
        let api = base("https://eu1.make.com/api/v2");
        let ok = vet(
            Some("https://eu1.make.com/credential-requests/abc/authorize".into()),
            Some(&api),
        );
        assert!(ok.uri.is_some() && ok.problem.is_none());
        let bad = vet(Some("https://evil.example/phish".into()), Some(&api));
        assert!(bad.uri.is_none() && bad.problem.unwrap().contains("evil.example"));
        let http = vet(Some("http://eu1.make.com/x".into()), Some(&api));
        assert!(http.uri.is_none());
        let js = vet(Some("javascript:alert(1)".into()), Some(&api));
        assert!(js.uri.is_none());
    }

    #[test]
    fn private_instance_and_loopback_sandbox_links_pass() {
        let private = base("https://make.corp.example/api/v2");
        assert!(
            vet(Some("https://make.corp.example/r/1".into()), Some(&private))
                .uri
                .is_some()
        );
        let sandbox = base("http://127.0.0.1:4000/api/v2");
        assert!(
            vet(
                Some("http://127.0.0.1:4000/credential-requests/x/authorize".into()),
                Some(&sandbox)
            )
            .uri
            .is_some()
        );
        let api = base("https://eu1.make.com/api/v2");
        assert!(
            vet(Some("http://127.0.0.1:4000/x".into()), Some(&api))
                .uri
                .is_none()
        );
    }
}
