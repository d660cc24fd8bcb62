//! A simulated fleet of small-business sites on loopback, for
//! `prospector bench scan`: one HTTPS server answering for every
//! `s<N>.fleet.test` (certificates from a private CA), with a realistic mix
//! of stacks, contact pages, parked domains and robots.txt files, and
//! response times drawn from a long-tailed distribution; plus a DNS server
//! answering NS/MX/TXT/CNAME (and NXDOMAIN for `*.gone.test`).

pub mod dns;
mod sites;

use std::{
    net::SocketAddr,
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use hickory_proto::rr::{
    Name, RData, RecordType,
    rdata::{CNAME, MX, NS, TXT},
};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::Rng;
use tokio::net::TcpListener;

use self::dns::Answer;

/// Response-time model: a log-normal with this median, capped.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    /// Median time to first byte.
    pub median: Duration,
    /// Spread (sigma of the underlying normal).
    pub sigma: f64,
    /// Cap.
    pub max: Duration,
}

impl Latency {
    fn sample(&self) -> Duration {
        let mut rng = rand::rng();
        // Box-Muller.
        let (u1, u2): (f64, f64) = (rng.random_range(1e-9..1.0), rng.random_range(0.0..1.0));
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        let secs = self.median.as_secs_f64() * (self.sigma * z).exp();
        Duration::from_secs_f64(secs).min(self.max)
    }
}

/// A running fleet.
pub struct Fleet {
    /// The HTTPS server.
    pub https: SocketAddr,
    /// The DNS server (UDP).
    pub dns: SocketAddr,
    /// The fleet's CA certificate (PEM), to trust.
    pub ca_pem: String,
    /// Requests served.
    pub requests: Arc<AtomicU64>,
}

impl Fleet {
    /// Requests served so far.
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// The host name of fleet site `n` (every 20th is a domain that does not resolve).
pub fn host(n: usize) -> String {
    if n % 20 == 19 {
        format!("s{n}.gone.test")
    } else {
        format!("s{n}.fleet.test")
    }
}

/// Start the fleet on loopback.
pub async fn start(latency: Latency, dns_latency: Latency, pad: usize) -> anyhow::Result<Fleet> {
    prospector::tls::init();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Fleet Test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate()?)?;
    let leaf_key = rcgen::KeyPair::generate()?;
    let leaf = rcgen::CertificateParams::new(vec!["*.fleet.test".to_owned()])?.signed_by(&leaf_key, &ca)?;
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let https = listener.local_addr()?;
    let requests = Arc::new(AtomicU64::new(0));
    let router = sites::router(latency, Arc::clone(&requests), pad);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let router = router.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let service = hyper_util::service::TowerToHyperService::new(router);
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                }
            });
        }
    });
    let zone: dns::Zone = Arc::new(zone);
    let dns = dns::serve(zone, Arc::new(move |_: &str| dns_latency.sample())).await?;
    Ok(Fleet {
        https,
        dns,
        ca_pem: ca.pem(),
        requests,
    })
}

fn name(s: &str) -> Name {
    Name::from_str(s).unwrap_or_else(|_| Name::root())
}

/// Provider records by site number.
fn zone(query: &str, kind: RecordType) -> Answer {
    if query.ends_with(".gone.test") || query == "gone.test" {
        return Answer::NxDomain;
    }
    let Some(n) = query
        .trim_start_matches("www.")
        .strip_prefix('s')
        .and_then(|rest| rest.split('.').next())
        .and_then(|d| d.parse::<usize>().ok())
    else {
        return Answer::Records(Vec::new());
    };
    let records = match kind {
        RecordType::NS => match n % 4 {
            0 => vec![
                RData::NS(NS(name("ada.ns.cloudflare.com."))),
                RData::NS(NS(name("bob.ns.cloudflare.com."))),
            ],
            1 => vec![
                RData::NS(NS(name("dns11.ovh.net."))),
                RData::NS(NS(name("ns11.ovh.net."))),
            ],
            2 => vec![
                RData::NS(NS(name("ns1045.ui-dns.de."))),
                RData::NS(NS(name("ns1045.ui-dns.com."))),
            ],
            _ => vec![
                RData::NS(NS(name("ns1.eurodns.com."))),
                RData::NS(NS(name("ns2.eurodns.com."))),
            ],
        },
        RecordType::MX => match n % 3 {
            0 => vec![RData::MX(MX::new(1, name("aspmx.l.google.com.")))],
            1 => vec![RData::MX(MX::new(
                0,
                name(&format!("s{n}-fleet-test.mail.protection.outlook.com.")),
            ))],
            _ => vec![RData::MX(MX::new(1, name("mx1.mail.ovh.net.")))],
        },
        RecordType::TXT => match n % 3 {
            0 => vec![RData::TXT(TXT::new(vec![
                "v=spf1 include:_spf.google.com ~all".into(),
            ]))],
            1 => vec![RData::TXT(TXT::new(vec![
                "v=spf1 include:spf.protection.outlook.com -all".into(),
            ]))],
            _ => vec![RData::TXT(TXT::new(vec!["google-site-verification=abc".into()]))],
        },
        RecordType::CNAME if query.starts_with("www.") && n % 5 == 0 => {
            vec![RData::CNAME(CNAME(name(&format!("s{n}.fleet.test."))))]
        }
        _ => Vec::new(),
    };
    Answer::Records(records)
}
