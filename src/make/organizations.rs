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
}
