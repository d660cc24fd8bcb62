//! DNS records that name a site's providers: NS (DNS host), MX and SPF
//! (e-mail provider), CNAME (hosting/CDN). Best effort: a failed lookup
//! leaves its list empty and is noted, never failing the scan.

use std::collections::BTreeMap;

use hickory_resolver::{
    net::{DnsError, NetError},
    proto::rr::{RData, RecordType},
};
use serde::{Deserialize, Serialize};

use super::resolver::GuardedResolver;

/// Records found for a domain (names lower-case, without the trailing dot).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecords {
    /// Name servers of the registrable domain.
    pub ns: Vec<String>,
    /// Mail exchangers, by preference.
    pub mx: Vec<String>,
    /// SPF policies (`v=spf1 …` TXT records) of the domain.
    pub spf: Vec<String>,
    /// CNAME targets of the domain and of `www.` + domain.
    pub cname: Vec<String>,
    /// Lookups that failed (type → reason), for the record.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, String>,
}

impl DnsRecords {
    /// The records as the fingerprint engine's `dns` input (type → values).
    pub fn by_type(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        out.extend(self.ns.iter().map(|v| ("NS", v.as_str())));
        out.extend(self.mx.iter().map(|v| ("MX", v.as_str())));
        out.extend(self.spf.iter().map(|v| ("TXT", v.as_str())));
        out.extend(self.cname.iter().map(|v| ("CNAME", v.as_str())));
        out
    }
}

/// Look up the provider records of `domain` (`zone` is its registrable
/// domain, where NS records live).
pub async fn lookup_records(resolver: &GuardedResolver, domain: &str, zone: &str) -> DnsRecords {
    let dns = resolver.dns();
    let name = |n: &str| format!("{}.", n.trim_end_matches('.'));
    let (zone, domain, www) = (name(zone), name(domain), name(&format!("www.{domain}")));
    let (ns, mx, txt, cname, cname_www) = tokio::join!(
        dns.lookup(zone.as_str(), RecordType::NS),
        dns.lookup(domain.as_str(), RecordType::MX),
        dns.lookup(domain.as_str(), RecordType::TXT),
        dns.lookup(domain.as_str(), RecordType::CNAME),
        dns.lookup(www.as_str(), RecordType::CNAME),
    );
    let mut records = DnsRecords::default();
    let mut errors = BTreeMap::new();
    match ns {
        Ok(lookup) => {
            for r in lookup.answers() {
                if let RData::NS(ns) = &r.data {
                    records.ns.push(clean(&ns.0.to_ascii()));
                }
            }
        }
        Err(e) => errors.extend(note("NS", &e)),
    }
    match mx {
        Ok(lookup) => {
            let mut mx: Vec<(u16, String)> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::MX(mx) => Some((mx.preference, clean(&mx.exchange.to_ascii()))),
                    _ => None,
                })
                .collect();
            mx.sort();
            records.mx = mx.into_iter().map(|(_, host)| host).collect();
        }
        Err(e) => errors.extend(note("MX", &e)),
    }
    match txt {
        Ok(lookup) => {
            for r in lookup.answers() {
                if let RData::TXT(txt) = &r.data {
                    let text: String = txt
                        .txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect();
                    if text.trim_start().to_ascii_lowercase().starts_with("v=spf1") {
                        records.spf.push(text.chars().take(500).collect());
                    }
                }
            }
        }
        Err(e) => errors.extend(note("TXT", &e)),
    }
    for (kind, result) in [("CNAME", cname), ("CNAME www", cname_www)] {
        match result {
            Ok(lookup) => {
                for r in lookup.answers() {
                    if let RData::CNAME(target) = &r.data {
                        let target = clean(&target.0.to_ascii());
                        if !records.cname.contains(&target) {
                            records.cname.push(target);
                        }
                    }
                }
            }
            Err(e) => errors.extend(note(kind, &e)),
        }
    }
    records.ns.sort();
    records.ns.dedup();
    records.errors = errors;
    records
}

/// A failed lookup worth noting (an empty answer is not a failure).
fn note(kind: &str, error: &NetError) -> Option<(String, String)> {
    match error {
        NetError::Dns(DnsError::NoRecordsFound(_)) => None,
        other => Some((kind.to_owned(), other.to_string())),
    }
}

fn clean(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}
