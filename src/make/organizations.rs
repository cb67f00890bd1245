//! The organizations a person belongs to: which Make organization's request limit their
//! calls count against (see [`super::budget`]).

use serde::Deserialize;
use url::Url;

use super::{ApiRequest, MakeClient, MakeError};

/// An organization as `GET /organizations` lists it (only what this server uses).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct OrganizationItem {
    pub(crate) id: u64,
    /// The zone host the organization lives in, e.g. `eu1.make.com`.
    #[serde(default)]
    pub(crate) zone: Option<String>,
}

#[derive(Deserialize)]
struct OrganizationsEnvelope {
    organizations: Vec<OrganizationItem>,
}

/// `GET /organizations/{id}`'s answer, down to the plan's request limit.
#[derive(Deserialize)]
struct OrganizationEnvelope {
    organization: OrganizationDetail,
}

impl OrganizationEnvelope {
    /// `license.apiLimit`, when it is a positive whole number.
    fn api_limit(self) -> Option<u32> {
        self.organization
            .license
            .and_then(|l| l.api_limit)
            .and_then(|limit| limit.as_u64())
            .and_then(|limit| u32::try_from(limit).ok())
            .filter(|limit| *limit > 0)
    }
}

#[derive(Deserialize)]
struct OrganizationDetail {
    #[serde(default)]
    license: Option<License>,
}

#[derive(Deserialize)]
struct License {
    #[serde(default, rename = "apiLimit")]
    api_limit: Option<serde_json::Value>,
}

impl MakeClient {
    /// `GET /organizations`: the organizations the credential's user belongs to (needs the
    /// `organizations:read` scope).
    pub(crate) async fn organizations(&self) -> Result<Vec<OrganizationItem>, MakeError> {
        let request = ApiRequest::get(&["organizations"]);
        Ok(self
            .send::<OrganizationsEnvelope>(&request)
            .await?
            .organizations)
    }

    /// `GET /organizations/{id}`: the requests a minute the organization's plan allows
    /// (`license.apiLimit`), or `None` when Make does not say (or says something that is not
    /// a positive whole number).
    pub(crate) async fn organization_api_limit(&self, id: u64) -> Result<Option<u32>, MakeError> {
        let request = ApiRequest::get(&["organizations", &id.to_string()]);
        Ok(self
            .send::<OrganizationEnvelope>(&request)
            .await?
            .api_limit())
    }
}

/// The organization whose limit a person's calls through `api_base` count against: among
/// their organizations in that zone (every one when none names it), the lowest id. A
/// person in several organizations of one zone is counted under one of them: the server
/// cannot tell from a call which organization's team it is for.
pub(crate) fn counted_organization(items: &[OrganizationItem], api_base: &Url) -> Option<u64> {
    let host = api_base.host_str().map(|h| match api_base.port() {
        Some(port) => format!("{h}:{port}"),
        None => h.to_owned(),
    });
    let in_zone = |item: &&OrganizationItem| {
        item.zone
            .as_deref()
            .is_some_and(|zone| Some(zone.trim_end_matches('/')) == host.as_deref())
    };
    items
        .iter()
        .filter(in_zone)
        .map(|i| i.id)
        .min()
        .or_else(|| items.iter().map(|i| i.id).min())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: u64, zone: &str) -> OrganizationItem {
        OrganizationItem {
            id,
            zone: Some(zone.to_owned()),
        }
    }

    #[test]
    fn the_lowest_id_in_the_servers_zone_counts() {
        let eu1: Url = "https://eu1.make.com/api/v2".parse().unwrap();
        let items = [
            item(9, "eu1.make.com"),
            item(3, "us1.make.com"),
            item(5, "eu1.make.com"),
        ];
        assert_eq!(counted_organization(&items, &eu1), Some(5));
        let us2: Url = "https://us2.make.com/api/v2".parse().unwrap();
        assert_eq!(
            counted_organization(&items, &us2),
            Some(3),
            "none in the zone"
        );
        assert_eq!(counted_organization(&[], &eu1), None);
        let sandbox: Url = "http://127.0.0.1:3902/api/v2".parse().unwrap();
        assert_eq!(
            counted_organization(&[item(2, "x"), item(7, "127.0.0.1:3902")], &sandbox),
            Some(7)
        );
    }

    #[test]
    fn makes_list_shape_is_read() {
        let body = r#"{"organizations":[{"id":11,"name":"Acme","zone":"eu1.make.com","license":{}}],"pg":{"limit":10000,"offset":0}}"#;
        let parsed: OrganizationsEnvelope = serde_json::from_str(body).unwrap();
        assert_eq!(parsed.organizations, [item(11, "eu1.make.com")]);
    }

    #[test]
    fn the_plans_limit_is_read_when_make_gives_a_positive_number() {
        let limit = |body: &str| {
            serde_json::from_str::<OrganizationEnvelope>(body)
                .unwrap()
                .api_limit()
        };
        assert_eq!(
            limit(r#"{"organization":{"id":11,"license":{"apiLimit":240,"operations":10000}}}"#),
            Some(240)
        );
        for none in [
            r#"{"organization":{"id":11}}"#,
            r#"{"organization":{"id":11,"license":{}}}"#,
            r#"{"organization":{"id":11,"license":{"apiLimit":0}}}"#,
            r#"{"organization":{"id":11,"license":{"apiLimit":"lots"}}}"#,
            r#"{"organization":{"id":11,"license":{"apiLimit":1.5}}}"#,
        ] {
            assert_eq!(limit(none), None, "{none}");
        }
    }
}
