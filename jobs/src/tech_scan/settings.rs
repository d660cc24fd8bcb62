//! The stage's settings (`[tech_scan]` in the configuration), parsed.

use std::{path::PathBuf, time::Duration};

use ipnet::IpNet;

use super::{
    fetch::{DnsSettings, ResolveOverride},
    fingerprint::DefinitionsSource,
};

/// Everything `tech_scan` needs from the configuration.
#[derive(Debug, Clone)]
pub struct TechScanSettings {
    /// Product token for robots.txt groups (`ProspectorBot`).
    pub robots_token: String,
    /// The full User-Agent: token/version plus the contact URL.
    pub user_agent: String,
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// One request, headers and body.
    pub request_timeout: Duration,
    /// Redirect hops followed at most.
    pub max_redirects: usize,
    /// Wire bytes read at most per response.
    pub max_body_bytes: usize,
    /// Bytes after decompression at most.
    pub max_decompressed_bytes: usize,
    /// Deeper HTML is cut before parsing.
    pub max_html_depth: usize,
    /// Pause between two requests to one host.
    pub per_host_delay: Duration,
    /// Non-public networks the fetcher may connect to anyway.
    pub allow_networks: Vec<IpNet>,
    /// Where technology definitions come from.
    pub definitions: DefinitionsSource,
    /// Pages fetched for contacts besides the home page.
    pub contact_pages: usize,
    /// DNS settings.
    pub dns: DnsSettings,
    /// Fixed name → address mappings (tests, demo, benchmarks).
    pub resolve: Vec<ResolveOverride>,
    /// Extra trusted root certificates (a PEM file).
    pub extra_root_certificates: Option<PathBuf>,
}
