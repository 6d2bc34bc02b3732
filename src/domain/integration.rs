//! Release-approval integrations: partner systems that are told about
//! release events by signed webhooks and answer through the API.

use chrono::{DateTime, Utc};

use super::address::{TargetPolicy, literal_address};
use super::{DeliveryStatus, EventType, RuleViolation};

/// An integration of a workspace. Its signing secret is not part of it: it
/// is shown once, when created or rotated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseIntegration {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub url: String,
    pub events: Vec<EventType>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub const MAX_URL_CHARS: usize = 2000;

/// Accepts absolute http and https URLs with a host and no credentials, for
/// webhooks and gates alike. A host that is a literal address must be one
/// `policy` permits; where a host name points is checked at each connection,
/// since DNS answers change.
pub fn validate_webhook_url(text: &str, policy: TargetPolicy) -> Result<String, RuleViolation> {
    let invalid = |why: &str| RuleViolation::invalid_input("url", why.to_owned());
    let text = text.trim();
    if text.chars().count() > MAX_URL_CHARS {
        return Err(invalid("is too long"));
    }
    let url = url::Url::parse(text).map_err(|_| invalid("is not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must use http or https"));
    }
    let Some(host) = url.host() else {
        return Err(invalid("must name a host"));
    };
    if let Some(ip) = literal_address(&host).filter(|ip| !policy.permits(*ip)) {
        return Err(invalid(&format!(
            "must not point at a private, loopback, link-local or otherwise non-public address ({ip})"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry credentials"));
    }
    Ok(url.to_string())
}

/// At least one event, each once, in a stable order.
pub fn validate_event_selection(events: &[EventType]) -> Result<Vec<EventType>, RuleViolation> {
    let mut events = events.to_vec();
    events.sort();
    events.dedup();
    if events.is_empty() {
        return Err(RuleViolation::invalid_input(
            "events",
            "must name at least one event type",
        ));
    }
    Ok(events)
}

/// A line of an integration's delivery log.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub event_id: String,
    pub event_type: EventType,
    pub event_sequence: i64,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRODUCTION: TargetPolicy = TargetPolicy::PUBLIC_ONLY;
    const DEVELOPMENT: TargetPolicy = TargetPolicy {
        allow_private: true,
    };

    #[test]
    fn only_http_urls_with_a_host_are_accepted() {
        assert_eq!(
            validate_webhook_url(" https://partner.example/hooks?x=1 ", PRODUCTION).unwrap(),
            "https://partner.example/hooks?x=1"
        );
        assert!(validate_webhook_url("http://127.0.0.1:9000/", DEVELOPMENT).is_ok());
        for bad in [
            "",
            "partner.example/hooks",
            "ftp://partner.example/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "https://user:pw@partner.example/",
            "http://",
        ] {
            assert!(validate_webhook_url(bad, DEVELOPMENT).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn in_production_a_literal_non_public_host_is_refused_in_every_spelling() {
        for url in [
            "http://127.0.0.1:9000/hooks",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://127.0.0.1./",
            "http://[::ffff:127.0.0.1]/",
            "http://[::1]/",
            "http://[::]/",
            "http://0.0.0.0/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://100.64.0.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://10.0.0.1/",
        ] {
            let refusal = validate_webhook_url(url, PRODUCTION).unwrap_err();
            let RuleViolation::InvalidInput { field, message } = &refusal else {
                panic!("{url}: {refusal:?}");
            };
            assert_eq!(*field, "url", "{url}");
            assert!(message.contains("non-public address"), "{url}: {message}");
            assert!(validate_webhook_url(url, DEVELOPMENT).is_ok(), "{url}");
        }
        // Names are resolved, and checked, when the sender connects.
        for url in [
            "http://localhost:9000/",
            "https://partner.example/",
            "https://8.8.8.8/",
        ] {
            assert!(validate_webhook_url(url, PRODUCTION).is_ok(), "{url}");
        }
    }

    #[test]
    fn event_selections_are_deduplicated_and_not_empty() {
        assert!(validate_event_selection(&[]).is_err());
        assert_eq!(
            validate_event_selection(&[
                EventType::VersionReleased,
                EventType::UpdateModeChanged,
                EventType::VersionReleased
            ])
            .unwrap(),
            vec![EventType::UpdateModeChanged, EventType::VersionReleased]
        );
    }
}
