//! The built-in plugin: release-approval integrations receive events as
//! Standard Webhooks (signed JSON POSTs), retried until they answer 2xx.

mod signature;
mod target;

use std::sync::Arc;
use std::time::Duration;

pub use signature::new_secret;

use super::HookEvent;
use crate::domain::{TargetPolicy, literal_address};

/// Sends webhooks; one client (and connection pool) for the whole process.
#[derive(Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
    policy: TargetPolicy,
}

impl WebhookSender {
    pub fn new(timeout: Duration, policy: TargetPolicy) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirect could point anywhere, past the address check.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(target::GuardedResolver { policy }))
            .user_agent(concat!("update-mode-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, policy })
    }

    /// One attempt to deliver `event` to `url`; the error says why it failed.
    pub async fn send(&self, url: &str, secret: &str, event: &HookEvent) -> Result<(), String> {
        let response = self
            .post_signed(url, secret, &event.id, event.body())
            .await?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered HTTP {}", status.as_u16()))
        }
    }

    /// POSTs `body` to `url` signed as a Standard Webhook with `secret`,
    /// unless the URL names an address that is not public.
    pub async fn post_signed(
        &self,
        url: &str,
        secret: &str,
        id: &str,
        body: String,
    ) -> Result<reqwest::Response, String> {
        let url = url::Url::parse(url).map_err(|_| "the receiver's URL is invalid".to_owned())?;
        // The resolver only sees host names; literal addresses are checked
        // here too, for targets stored before registration checked them.
        if let Some(ip) = url
            .host()
            .and_then(|host| literal_address(&host))
            .filter(|ip| !self.policy.permits(*ip))
        {
            return Err(target::refusal(ip));
        }
        let timestamp = chrono::Utc::now().timestamp();
        let signature = signature::sign(secret, id, timestamp, &body)?;
        self.client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(describe)
    }
}

/// The cause of a failed request, innermost first, without the request.
pub(super) fn describe(error: reqwest::Error) -> String {
    if error.is_timeout() {
        return "the receiver did not answer in time".into();
    }
    let mut cause: &dyn std::error::Error = &error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    format!("could not reach the receiver: {cause}")
}
