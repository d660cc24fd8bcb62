//! The SSRF guard: which addresses the fetcher may connect to.
//!
//! Every address a name resolves to, and every IP literal in a URL, is
//! checked before a connection is made, on every redirect hop. Addresses in
//! non-public ranges are refused unless a network in `allow` contains them
//! (tests and the demo allow loopback explicitly; production allows nothing).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Why an address is not public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// 127.0.0.0/8, ::1
    Loopback,
    /// RFC 1918, fc00::/7
    Private,
    /// 169.254.0.0/16, fe80::/10
    LinkLocal,
    /// 100.64.0.0/10 (carrier-grade NAT)
    SharedCgnat,
    /// 169.254.169.254, 100.100.100.200, fd00:ec2::254 and friends
    CloudMetadata,
    /// 0.0.0.0/8, ::, multicast, broadcast, documentation and reserved ranges
    Reserved,
}

impl AddressClass {
    /// A short name for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private-network address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::SharedCgnat => "a carrier-grade NAT address",
            AddressClass::CloudMetadata => "a cloud metadata address",
            AddressClass::Reserved => "a reserved or non-routable address",
        }
    }
}

/// The class of a non-public address, or `None` for a public one.
pub fn classify(ip: IpAddr) -> Option<AddressClass> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => {
            // IPv4-mapped and IPv4-compatible forms are checked as IPv4.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return classify_v4(v4);
            }
            classify_v6(v6)
        }
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    let [a, b, c, _] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254)
        || ip == Ipv4Addr::new(169, 254, 170, 2)
        || ip == Ipv4Addr::new(100, 100, 100, 200)
        || ip == Ipv4Addr::new(192, 0, 0, 192)
    {
        return Some(AddressClass::CloudMetadata);
    }
    if ip.is_loopback() {
        return Some(AddressClass::Loopback);
    }
    if ip.is_private() {
        return Some(AddressClass::Private);
    }
    if ip.is_link_local() {
        return Some(AddressClass::LinkLocal);
    }
    if a == 100 && (64..=127).contains(&b) {
        return Some(AddressClass::SharedCgnat);
    }
    let reserved = a == 0
        || a >= 224 // multicast, 240/4 reserved, broadcast
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 192 && b == 88 && c == 99); // 6to4 relay anycast
    reserved.then_some(AddressClass::Reserved)
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    let segments = ip.segments();
    if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
        return Some(AddressClass::CloudMetadata);
    }
    if ip.is_loopback() {
        return Some(AddressClass::Loopback);
    }
    if ip.is_unspecified() || ip.is_multicast() {
        return Some(AddressClass::Reserved);
    }
    match segments[0] {
        s if s & 0xfe00 == 0xfc00 => Some(AddressClass::Private), // fc00::/7
        s if s & 0xffc0 == 0xfe80 => Some(AddressClass::LinkLocal), // fe80::/10
        s if s & 0xffc0 == 0xfec0 => Some(AddressClass::Private), // deprecated site-local
        0x2001 if segments[1] == 0x0db8 => Some(AddressClass::Reserved), // documentation
        0x0100 if segments[1..4] == [0, 0, 0] => Some(AddressClass::Reserved), // discard
        0x0064 if segments[1] == 0xff9b => {
            // NAT64: the embedded IPv4 address decides.
            let v4 = Ipv4Addr::new(
                (segments[6] >> 8) as u8,
                segments[6] as u8,
                (segments[7] >> 8) as u8,
                segments[7] as u8,
            );
            classify_v4(v4)
        }
        0x2002 => {
            // 6to4: the embedded IPv4 address decides.
            let v4 = Ipv4Addr::new(
                (segments[1] >> 8) as u8,
                segments[1] as u8,
                (segments[2] >> 8) as u8,
                segments[2] as u8,
            );
            classify_v4(v4)
        }
        0 if segments[1..6] == [0, 0, 0, 0, 0] => Some(AddressClass::Reserved), // IPv4-compatible
        _ => None,
    }
}

/// An address the guard refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host} resolves to {ip}, {what}, which tech_scan.allow_networks does not allow", what = class.describe())]
pub struct Refused {
    /// The host name (or literal) that was asked for.
    pub host: String,
    /// The refused address.
    pub ip: IpAddr,
    /// Why it is not public.
    pub class: AddressClass,
}

/// Which addresses may be connected to.
#[derive(Debug, Clone, Default)]
pub struct AddressGuard {
    allow: Vec<IpNet>,
}

impl AddressGuard {
    /// A guard that also allows the given networks.
    pub fn new(allow: Vec<IpNet>) -> Self {
        Self { allow }
    }

    /// Ok when `ip` is public or in an allowed network.
    pub fn check(&self, host: &str, ip: IpAddr) -> Result<(), Refused> {
        let Some(class) = classify(ip) else {
            return Ok(());
        };
        let canonical = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        if self
            .allow
            .iter()
            .any(|net| net.contains(&ip) || net.contains(&canonical))
        {
            return Ok(());
        }
        Err(Refused {
            host: host.to_owned(),
            ip,
            class,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn non_public_addresses_are_classified() {
        let cases = [
            ("127.0.0.1", AddressClass::Loopback),
            ("127.255.0.7", AddressClass::Loopback),
            ("::1", AddressClass::Loopback),
            ("10.1.2.3", AddressClass::Private),
            ("172.16.0.1", AddressClass::Private),
            ("172.31.255.255", AddressClass::Private),
            ("192.168.1.1", AddressClass::Private),
            ("fd12:3456::1", AddressClass::Private),
            ("169.254.1.1", AddressClass::LinkLocal),
            ("fe80::1", AddressClass::LinkLocal),
            ("100.64.0.1", AddressClass::SharedCgnat),
            ("100.127.255.254", AddressClass::SharedCgnat),
            ("169.254.169.254", AddressClass::CloudMetadata),
            ("100.100.100.200", AddressClass::CloudMetadata),
            ("fd00:ec2::254", AddressClass::CloudMetadata),
            ("0.0.0.0", AddressClass::Reserved),
            ("::", AddressClass::Reserved),
            ("224.0.0.1", AddressClass::Reserved),
            ("255.255.255.255", AddressClass::Reserved),
            ("192.0.2.10", AddressClass::Reserved),
            ("2001:db8::1", AddressClass::Reserved),
            // Embedded IPv4 forms cannot smuggle a private address.
            ("::ffff:127.0.0.1", AddressClass::Loopback),
            ("::ffff:169.254.169.254", AddressClass::CloudMetadata),
            ("64:ff9b::a00:1", AddressClass::Private),
            ("2002:7f00:1::", AddressClass::Loopback),
        ];
        for (addr, class) in cases {
            assert_eq!(classify(ip(addr)), Some(class), "{addr}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for addr in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
        ] {
            assert_eq!(classify(ip(addr)), None, "{addr}");
            assert!(AddressGuard::default().check("x", ip(addr)).is_ok());
        }
    }

    #[test]
    fn the_allowlist_opens_only_its_networks() {
        let guard = AddressGuard::new(vec!["127.0.0.2/32".parse().unwrap()]);
        assert!(guard.check("a.test", ip("127.0.0.2")).is_ok());
        assert!(guard.check("a.test", ip("::ffff:127.0.0.2")).is_ok());
        let refused = guard.check("a.test", ip("127.0.0.1")).unwrap_err();
        assert_eq!(refused.class, AddressClass::Loopback);
        assert_eq!(
            refused.to_string(),
            "a.test resolves to 127.0.0.1, a loopback address, which tech_scan.allow_networks does not allow"
        );
        assert!(guard.check("meta", ip("169.254.169.254")).is_err());
    }
}
