//! Which network addresses are on the public internet: the rule against
//! server-side request forgery that a webhook or gate URL must pass when it
//! is registered, and every address the sender connects to must pass again.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where partner URLs may point. The operator allows private targets for
/// development and for partners inside its own network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetPolicy {
    pub allow_private: bool,
}

impl TargetPolicy {
    /// Only public addresses: the production default.
    pub const PUBLIC_ONLY: Self = Self {
        allow_private: false,
    };

    /// Whether a request may go to `ip`.
    pub fn permits(self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip)
    }
}

/// The address a URL host spells literally, in any spelling the WHATWG URL
/// parser accepts (`127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1` all
/// come out as 127.0.0.1); `None` for a name, which only DNS can answer.
pub fn literal_address(host: &url::Host<&str>) -> Option<IpAddr> {
    match host {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(*ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(*ip)),
        url::Host::Domain(_) => None,
    }
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(mapped) => is_public_v4(mapped),
            None => is_public_v6(ip),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, where cloud metadata services answer
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let first = segments[0];
    // 6to4 (2002::/16) carries an IPv4 address that a relay may reach.
    let six_to_four = (first == 0x2002).then(|| {
        let [high, low] = [segments[1], segments[2]].map(u16::to_be_bytes);
        Ipv4Addr::new(high[0], high[1], low[0], low[1])
    });
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || segments[..6].iter().all(|segment| *segment == 0) // ::/96, IPv4-compatible (deprecated)
        || (first & 0xfe00) == 0xfc00 // unique local, e.g. fd00:ec2::254
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (first == 0x2001 && segments[1] == 0x0db8) // documentation
        || (first == 0x0064 && segments[1] == 0xff9b) // NAT64 of any IPv4
        || six_to_four.is_some_and(|v4| !is_public_v4(v4)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "100.127.255.254",
            "255.255.255.255",
            "::1",
            "::",
            "::127.0.0.1",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "224.0.0.1",
            "ff02::1",
        ] {
            assert!(!is_public(internal.parse().unwrap()), "{internal}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "2002:808:808::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn every_spelling_of_an_address_is_read_as_that_address() {
        for (url, ip) in [
            ("http://127.1/", "127.0.0.1"),
            ("http://2130706433/", "127.0.0.1"),
            ("http://0x7f000001/", "127.0.0.1"),
            ("http://0177.0.0.1/", "127.0.0.1"),
            ("http://127.0.0.1./", "127.0.0.1"),
            ("http://\u{ff11}\u{ff12}\u{ff17}.0.0.1/", "127.0.0.1"),
            ("http://0/", "0.0.0.0"),
            ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
            ("http://[0:0:0:0:0:ffff:7f00:1]/", "::ffff:127.0.0.1"),
            ("http://[::]/", "::"),
        ] {
            let parsed = url::Url::parse(url).unwrap();
            let host = parsed.host().unwrap();
            assert_eq!(literal_address(&host), Some(ip.parse().unwrap()), "{url}");
        }
        let named = url::Url::parse("http://localhost:8080/").unwrap();
        assert_eq!(literal_address(&named.host().unwrap()), None);
    }

    #[test]
    fn the_policy_permits_private_addresses_only_when_allowed() {
        let loopback = "127.0.0.1".parse().unwrap();
        assert!(!TargetPolicy::PUBLIC_ONLY.permits(loopback));
        assert!(
            TargetPolicy {
                allow_private: true
            }
            .permits(loopback)
        );
        assert!(TargetPolicy::PUBLIC_ONLY.permits("8.8.8.8".parse().unwrap()));
    }
}
