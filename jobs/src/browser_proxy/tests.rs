//! The proxy against servers on 127.0.0.1 (allowed) and 127.0.0.2
//! (loopback, but outside the allow-list), with raw requests on sockets.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

use super::*;
use crate::tech_scan::fetch::{AddressGuard, DnsSettings, ResolveOverride};

/// A server that counts connections and answers every request with its
/// request line and Host header.
struct Origin {
    address: SocketAddr,
    connections: Arc<AtomicUsize>,
    _task: JoinHandle<()>,
}

impl Drop for Origin {
    fn drop(&mut self) {
        self._task.abort();
    }
}

async fn origin(ip: &str) -> Origin {
    let listener = TcpListener::bind(format!("{ip}:0")).await.unwrap();
    let address = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let head = read_head(&mut stream).await;
                let line = head.lines().next().unwrap_or_default().to_owned();
                let host = head
                    .lines()
                    .find_map(|l| l.strip_prefix("host: ").or_else(|| l.strip_prefix("Host: ")))
                    .unwrap_or_default()
                    .to_owned();
                let body = format!("{line}\n{host}\n");
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    Origin {
        address,
        connections,
        _task: task,
    }
}

/// Read up to the end of a head (or the end of the stream).
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte)).await {
            Ok(Ok(1)) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

async fn read_all(stream: &mut TcpStream) -> String {
    let mut all = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut all)).await;
    String::from_utf8_lossy(&all).into_owned()
}

fn proxy_with(allow: &[&str], pins: Vec<ResolveOverride>, limits: ProxyLimits) -> BrowserProxy {
    let dns = DnsSettings {
        // Nothing answers there: only pins and literals resolve.
        servers: vec!["127.0.0.1:9".parse().unwrap()],
        timeout: Duration::from_millis(300),
        records: false,
    };
    let guard = AddressGuard::new(allow.iter().map(|n| n.parse().unwrap()).collect());
    let resolver = GuardedResolver::new(&dns, pins, guard).unwrap();
    let proxy = BrowserProxy::bind(resolver, limits).unwrap();
    proxy.serve().unwrap();
    proxy
}

fn proxy(allow: &[&str]) -> BrowserProxy {
    proxy_with(allow, Vec::new(), ProxyLimits::default())
}

/// Send `request` to the proxy; the stream and the response head.
async fn ask(proxy: &BrowserProxy, request: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(proxy.address()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let head = read_head(&mut stream).await;
    (stream, head)
}

#[tokio::test]
async fn connect_to_an_allowed_address_tunnels_bytes_both_ways() {
    let inside = origin("127.0.0.1").await;
    let proxy = proxy(&["127.0.0.1/32"]);

    let target = inside.address;
    let (mut tunnel, head) = ask(
        &proxy,
        &format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    tunnel
        .write_all(b"GET /through HTTP/1.1\r\nHost: tunnelled.test\r\n\r\n")
        .await
        .unwrap();
    let answer = read_all(&mut tunnel).await;

    assert!(
        answer.contains("GET /through HTTP/1.1\ntunnelled.test"),
        "{answer}"
    );
    assert_eq!(inside.connections.load(Ordering::SeqCst), 1);
    assert_eq!(proxy.denied_total(), 0);
}

#[tokio::test]
async fn connect_and_plain_http_to_a_refused_address_are_403_and_never_connect() {
    let outside = origin("127.0.0.2").await;
    let proxy = proxy(&["127.0.0.1/32"]);
    let target = outside.address;

    let (_, connect) = ask(
        &proxy,
        &format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"),
    )
    .await;
    let (mut plain, get) = ask(
        &proxy,
        &format!("GET http://{target}/secret?q=1 HTTP/1.1\r\nHost: {target}\r\n\r\n"),
    )
    .await;
    let (_, ws) = ask(
        &proxy,
        &format!("CONNECT [::ffff:127.0.0.2]:{} HTTP/1.1\r\n\r\n", target.port()),
    )
    .await;

    for head in [&connect, &get, &ws] {
        assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    }
    let body = read_body(&mut plain, &get).await;
    assert!(body.contains("127.0.0.2, a loopback address"), "{body}");
    assert_eq!(outside.connections.load(Ordering::SeqCst), 0);
    let denials = proxy.denials();
    assert_eq!(denials.len(), 3);
    assert!(
        denials.iter().all(|d| d.kind == DenialKind::Refused),
        "{denials:?}"
    );
    assert_eq!(denials[0].host, "127.0.0.2");
    assert_eq!(denials[0].port, target.port());
    // No path or query in what is kept.
    assert!(
        denials.iter().all(|d| !d.reason.contains("secret")),
        "{denials:?}"
    );
}

async fn read_body(stream: &mut TcpStream, head: &str) -> String {
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut body))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8(body).unwrap()
}

#[tokio::test]
async fn plain_http_is_forwarded_in_origin_form_with_its_host() {
    let inside = origin("127.0.0.1").await;
    let proxy = proxy(&["127.0.0.1/32"]);
    let target = inside.address;

    let (mut stream, head) = ask(
        &proxy,
        &format!(
            "GET http://{target}/page?x=1 HTTP/1.1\r\nHost: {target}\r\nProxy-Connection: keep-alive\r\n\r\n"
        ),
    )
    .await;

    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let body = read_body(&mut stream, &head).await;
    assert_eq!(body, format!("GET /page?x=1 HTTP/1.1\n{target}\n"));
}

#[tokio::test]
async fn a_pinned_host_goes_to_its_pin_and_a_pin_outside_the_allow_list_is_refused() {
    let inside = origin("127.0.0.1").await;
    let outside = origin("127.0.0.2").await;
    let pins = vec![
        ResolveOverride {
            host: "shop.test".into(),
            addr: inside.address,
        },
        ResolveOverride {
            host: "rebound.test".into(),
            addr: outside.address,
        },
    ];
    let proxy = proxy_with(&["127.0.0.1/32"], pins, ProxyLimits::default());

    // The pin's port replaces the requested one, for CONNECT and plain HTTP.
    let (mut tunnel, head) = ask(
        &proxy,
        "CONNECT shop.test:443 HTTP/1.1\r\nHost: shop.test:443\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    tunnel
        .write_all(b"GET / HTTP/1.1\r\nHost: shop.test\r\n\r\n")
        .await
        .unwrap();
    assert!(read_all(&mut tunnel).await.contains("GET / HTTP/1.1\nshop.test"));
    let (mut plain, head) = ask(
        &proxy,
        "GET http://shop.test/a HTTP/1.1\r\nHost: shop.test\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(read_body(&mut plain, &head).await, "GET /a HTTP/1.1\nshop.test\n");

    let (_, refused) = ask(&proxy, "CONNECT rebound.test:443 HTTP/1.1\r\n\r\n").await;
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    // A name nobody knows: no answer from DNS, never a connection.
    let (_, unknown) = ask(&proxy, "CONNECT nowhere.test:443 HTTP/1.1\r\n\r\n").await;
    assert!(unknown.starts_with("HTTP/1.1 502"), "{unknown}");
    let (mut closed, nothing) = ask(
        &proxy,
        "GET http://nowhere.test/ HTTP/1.1\r\nHost: nowhere.test\r\n\r\n",
    )
    .await;
    assert_eq!(nothing, "", "plain HTTP to an unresolvable host is hung up");
    assert_eq!(read_all(&mut closed).await, "");

    assert_eq!(inside.connections.load(Ordering::SeqCst), 2);
    assert_eq!(outside.connections.load(Ordering::SeqCst), 0);
    let kinds: Vec<DenialKind> = proxy.denials().iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds,
        [
            DenialKind::Refused,
            DenialKind::Unresolvable,
            DenialKind::Unresolvable
        ]
    );
}

#[tokio::test]
async fn a_local_page_is_admitted_by_exact_address_while_its_admission_lives() {
    let page = origin("127.0.0.2").await;
    let proxy = proxy(&[]);
    let target = page.address;
    let get = format!("GET http://{target}/ HTTP/1.1\r\nHost: {target}\r\n\r\n");

    let admission = proxy.admit_local(target);
    let (_, admitted) = ask(&proxy, &get).await;
    let other_port = format!(
        "CONNECT 127.0.0.2:{} HTTP/1.1\r\n\r\n",
        target.port().wrapping_add(1)
    );
    let (_, neighbour) = ask(&proxy, &other_port).await;
    drop(admission);
    let (_, after) = ask(&proxy, &get).await;

    assert!(admitted.starts_with("HTTP/1.1 200"), "{admitted}");
    assert!(neighbour.starts_with("HTTP/1.1 403"), "{neighbour}");
    assert!(after.starts_with("HTTP/1.1 403"), "{after}");
    assert_eq!(page.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn garbage_origin_form_and_other_schemes_are_refused_and_the_proxy_keeps_serving() {
    let inside = origin("127.0.0.1").await;
    let proxy = proxy(&["127.0.0.1/32"]);

    let (mut garbage, head) = ask(&proxy, "\u{1}\u{2} nonsense \r\n\r\n").await;
    assert!(head.is_empty() || head.starts_with("HTTP/1.1 400"), "{head}");
    let _ = read_all(&mut garbage).await;
    let (_, origin_form) = ask(&proxy, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n").await;
    assert!(origin_form.starts_with("HTTP/1.1 400"), "{origin_form}");
    let (_, ftp) = ask(
        &proxy,
        "GET ftp://127.0.0.1/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    )
    .await;
    assert!(ftp.starts_with("HTTP/1.1 403"), "{ftp}");
    let (_, no_port) = ask(&proxy, "CONNECT 127.0.0.1 HTTP/1.1\r\n\r\n").await;
    assert!(no_port.starts_with("HTTP/1.1 4"), "{no_port}");
    // Half a head, then silence: closed after the header timeout (not
    // waited for here); the next client is served meanwhile.
    let mut slow = TcpStream::connect(proxy.address()).await.unwrap();
    slow.write_all(b"GET http://127.0.0.1/").await.unwrap();

    let target = inside.address;
    let (_, fine) = ask(&proxy, &format!("CONNECT {target} HTTP/1.1\r\n\r\n")).await;
    assert!(fine.starts_with("HTTP/1.1 200"), "{fine}");
}

#[tokio::test]
async fn tunnels_beyond_the_cap_are_503_and_a_dropped_proxy_closes_its_tunnels() {
    let inside = origin("127.0.0.1").await;
    let limits = ProxyLimits {
        max_tunnels: 1,
        ..ProxyLimits::default()
    };
    let proxy = proxy_with(&["127.0.0.1/32"], Vec::new(), limits);
    let address = proxy.address();
    let target = inside.address;
    let connect = format!("CONNECT {target} HTTP/1.1\r\n\r\n");

    let (mut first, head) = ask(&proxy, &connect).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (_, second) = ask(&proxy, &connect).await;
    assert!(second.starts_with("HTTP/1.1 503"), "{second}");

    drop(proxy);
    // The open tunnel ends, and nothing listens any more.
    assert_eq!(read_all(&mut first).await, "");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(TcpStream::connect(address).await.is_err());
}

#[test]
fn the_flags_send_everything_to_the_proxy() {
    let flags = chromium_flags("127.0.0.1:4321".parse().unwrap());
    assert_eq!(
        flags,
        [
            "--proxy-server=http://127.0.0.1:4321",
            "--proxy-bypass-list=<-loopback>",
            "--disable-quic",
            "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
            "--webrtc-ip-handling-policy=disable_non_proxied_udp",
        ]
    );
}

#[test]
fn binding_outside_a_runtime_works_and_serving_needs_one() {
    let dns = DnsSettings {
        servers: vec!["127.0.0.1:9".parse().unwrap()],
        timeout: Duration::from_millis(300),
        records: false,
    };
    let resolver = GuardedResolver::new(&dns, Vec::new(), AddressGuard::default()).unwrap();
    let proxy = BrowserProxy::bind(resolver, ProxyLimits::default()).unwrap();
    assert!(proxy.address().ip().is_loopback());
    assert!(matches!(proxy.chromium_flags(), Err(ProxyError::NoRuntime)));
}
