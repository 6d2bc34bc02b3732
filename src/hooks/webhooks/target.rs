//! Where webhooks may go: against server-side request forgery, addresses
//! inside the operator's network are refused unless explicitly allowed (the
//! rule is `domain::address`). The check runs on the very addresses a request
//! connects to, so a DNS answer that changes between checks (rebinding)
//! cannot slip through.

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::TargetPolicy;

/// The refusal of an address, as the delivery log shows it.
pub fn refusal(ip: IpAddr) -> String {
    format!(
        "the target address {ip} is not public (set WEBHOOK_ALLOW_PRIVATE_TARGETS=true to allow it)"
    )
}

/// The HTTP client's resolver: the system's, keeping only allowed addresses.
pub struct GuardedResolver {
    pub policy: TargetPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if let Some(refused) = addresses.iter().find(|a| !policy.permits(a.ip())) {
                return Err(refusal(refused.ip()).into());
            }
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}
