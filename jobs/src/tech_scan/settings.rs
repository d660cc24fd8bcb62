//! The stage's settings: `[tech_scan]` in the configuration.

use std::{
    collections::BTreeMap,
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    time::Duration,
};

use bytesize::ByteSize;
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, de::Error as _};
use url::Url;

use super::{
    fetch::{DnsSettings, ResolveOverride},
    fingerprint::DefinitionsSource,
};
use crate::stage::{CheckContext, InvalidSetting, StageConfig};

/// Everything `tech_scan` needs from the configuration. The audit and
/// screenshot stages reuse its address guard settings (`allow_networks`,
/// `resolve`, DNS).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TechScanSettings {
    /// Product token and version (`ProspectorBot/0.1`); the token (before
    /// the `/`) is what robots.txt groups are matched against.
    pub user_agent: String,
    /// A page where site owners can read about the crawler.
    pub contact_url: Url,
    /// TCP + TLS connect timeout.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// One request, headers and body.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Redirect hops followed at most.
    pub max_redirects: usize,
    /// Wire bytes read at most per response.
    pub max_body_bytes: ByteSize,
    /// Bytes after decompression at most.
    pub max_decompressed_bytes: ByteSize,
    /// Response bytes (bodies and their decoded text) one worker process
    /// holds at once, over all its scans; a fetch waits for room (at most
    /// `request_timeout`, then it is retried as a local failure).
    pub memory_budget: ByteSize,
    /// Deeper HTML is cut before parsing.
    pub max_html_depth: usize,
    /// Pause between two requests to one host.
    #[serde(with = "humantime_serde")]
    pub per_host_delay: Duration,
    /// Non-public networks the fetcher may connect to anyway.
    #[serde(default, deserialize_with = "networks")]
    pub allow_networks: Vec<IpNet>,
    /// Where technology definitions come from (`""`/`builtin` or a path).
    #[serde(default, deserialize_with = "definitions")]
    pub definitions: DefinitionsSource,
    /// Pages fetched for contacts besides the home page.
    pub contact_pages: usize,
    /// Name servers; empty means the system's.
    #[serde(default, deserialize_with = "name_servers")]
    pub dns_servers: Vec<SocketAddr>,
    /// Per DNS query.
    #[serde(with = "humantime_serde")]
    pub dns_timeout: Duration,
    /// Also look up NS, MX, TXT and CNAME records to name providers.
    pub dns_records: bool,
    /// Fixed name → address mappings (tests, demo, benchmarks).
    #[serde(default, deserialize_with = "overrides")]
    pub resolve: Vec<ResolveOverride>,
    /// Extra trusted root certificates (a PEM file).
    #[serde(default, deserialize_with = "optional_path")]
    pub extra_root_certificates: Option<PathBuf>,
}

impl TechScanSettings {
    /// The full User-Agent: token/version plus the contact URL.
    pub fn user_agent_header(&self) -> String {
        format!("{} (+{})", self.user_agent.trim(), self.contact_url)
    }

    /// The product token robots.txt groups are matched against.
    pub fn robots_token(&self) -> &str {
        self.user_agent.split('/').next().unwrap_or("").trim()
    }

    /// The resolver's settings.
    pub fn dns(&self) -> DnsSettings {
        DnsSettings {
            servers: self.dns_servers.clone(),
            timeout: self.dns_timeout,
            records: self.dns_records,
        }
    }

    /// [`max_body_bytes`](Self::max_body_bytes) as a length.
    pub fn body_limit(&self) -> usize {
        usize::try_from(self.max_body_bytes.as_u64()).unwrap_or(usize::MAX)
    }

    /// [`max_decompressed_bytes`](Self::max_decompressed_bytes) as a length.
    pub fn decompressed_limit(&self) -> usize {
        usize::try_from(self.max_decompressed_bytes.as_u64()).unwrap_or(usize::MAX)
    }
}

impl StageConfig for TechScanSettings {
    fn check(&mut self, _: &CheckContext<'_>) -> Result<(), InvalidSetting> {
        let token = self.robots_token();
        if token.is_empty()
            || !token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(InvalidSetting::new(
                "user_agent",
                "must start with a product token like \"ProspectorBot/1.0\" (letters, digits, - and _)",
            ));
        }
        if !matches!(self.contact_url.scheme(), "http" | "https") || self.contact_url.host_str().is_none() {
            return Err(InvalidSetting::new(
                "contact_url",
                "must be an http(s) URL where site owners can read about the crawler",
            ));
        }
        for (key, value) in [
            ("connect_timeout", self.connect_timeout),
            ("request_timeout", self.request_timeout),
            ("dns_timeout", self.dns_timeout),
        ] {
            if value.is_zero() {
                return Err(InvalidSetting::new(key, "must be longer than zero"));
            }
        }
        if self.max_redirects > 30 {
            return Err(InvalidSetting::new("max_redirects", "must be at most 30"));
        }
        for (key, size) in [
            ("max_body_bytes", self.max_body_bytes),
            ("max_decompressed_bytes", self.max_decompressed_bytes),
        ] {
            if !(ByteSize::kib(1)..=ByteSize::gib(1)).contains(&size) {
                return Err(InvalidSetting::new(
                    key,
                    format!("`{size}` is not a size between 1KiB and 1GiB like \"3MiB\""),
                ));
            }
        }
        if self.max_decompressed_bytes < self.max_body_bytes {
            return Err(InvalidSetting::new(
                "max_decompressed_bytes",
                "must not be smaller than max_body_bytes",
            ));
        }
        let worst = self.max_body_bytes.as_u64() + 2 * self.max_decompressed_bytes.as_u64();
        if self.memory_budget.as_u64() < worst {
            return Err(InvalidSetting::new(
                "memory_budget",
                format!(
                    "`{}` cannot hold one response at its limits (max_body_bytes + 2 x max_decompressed_bytes = {})",
                    self.memory_budget,
                    ByteSize::b(worst)
                ),
            ));
        }
        if !(16..=10_000).contains(&self.max_html_depth) {
            return Err(InvalidSetting::new(
                "max_html_depth",
                "must be between 16 and 10000",
            ));
        }
        if self.contact_pages > 20 {
            return Err(InvalidSetting::new("contact_pages", "must be at most 20"));
        }
        if let DefinitionsSource::Path(path) = &self.definitions
            && !path.exists()
        {
            return Err(InvalidSetting::new(
                "definitions",
                format!(
                    "{} does not exist (a definitions file or directory)",
                    path.display()
                ),
            ));
        }
        if let Some(path) = &self.extra_root_certificates
            && !path.is_file()
        {
            return Err(InvalidSetting::new(
                "extra_root_certificates",
                format!("{} is not a file", path.display()),
            ));
        }
        Ok(())
    }
}

fn networks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|n| {
            let n = n.trim();
            n.parse::<IpNet>()
                .or_else(|_| n.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| D::Error::custom(format!("`{n}` is not a network like 127.0.0.0/8")))
        })
        .collect()
}

fn name_servers<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| {
            let s = s.trim();
            s.parse::<SocketAddr>()
                .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                .map_err(|_| {
                    D::Error::custom(format!("`{s}` is not an address like 9.9.9.9 or 127.0.0.1:5353"))
                })
        })
        .collect()
}

fn overrides<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ResolveOverride>, D::Error> {
    BTreeMap::<String, String>::deserialize(d)?
        .into_iter()
        .map(|(host, addr)| {
            let addr = addr
                .trim()
                .parse::<SocketAddr>()
                .map_err(|_| D::Error::custom(format!("`{addr}` (for {host}) is not an ip:port address")))?;
            Ok(ResolveOverride {
                host: host.trim().trim_end_matches('.').to_ascii_lowercase(),
                addr,
            })
        })
        .collect()
}

fn definitions<'de, D: Deserializer<'de>>(d: D) -> Result<DefinitionsSource, D::Error> {
    Ok(match String::deserialize(d)?.trim() {
        "" | "builtin" => DefinitionsSource::Builtin,
        path => DefinitionsSource::Path(PathBuf::from(path)),
    })
}

fn optional_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    Ok(Some(String::deserialize(d)?.trim().to_owned())
        .filter(|p| !p.is_empty())
        .map(PathBuf::from))
}
