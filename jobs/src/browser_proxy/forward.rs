//! Absolute-form plain-HTTP requests (`GET http://host:port/path`): check
//! the host, connect to a checked address, send the request in origin form
//! on that connection, and stream the response back.
//!
//! A refused host is answered `403` with the reason. A host that does not
//! resolve, or whose server does not accept the connection or answer, gets
//! no response at all (the browser's connection is closed): the browser then
//! reports a failed load, as it would without a proxy, instead of a page
//! with a status the proxy made up.

use std::sync::Arc;

use http_body_util::BodyExt;
use hyper::{
    HeaderMap, Request, Response, Uri,
    body::Incoming,
    header::{self, HeaderName, HeaderValue},
};
use hyper_util::rt::TokioIo;

use super::{
    Hangup, ProxyBody, State,
    admission::{Denial, DenialKind, connect},
};

pub(super) async fn send(
    state: &Arc<State>,
    mut request: Request<Incoming>,
) -> Result<Response<ProxyBody>, Hangup> {
    let uri = request.uri().clone();
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Ok(state.refuse(Denial::new(
            "",
            0,
            DenialKind::Malformed,
            "only CONNECT and absolute-form http:// requests are served",
        )));
    };
    let host = authority.host();
    if scheme != "http" {
        return Ok(state.refuse(Denial::new(
            host,
            0,
            DenialKind::Refused,
            format!("the {scheme}: scheme is not served (https goes through CONNECT)"),
        )));
    }
    let port = authority.port_u16().unwrap_or(80);
    let addrs = match state.admission.admit(host, port).await {
        Ok(addrs) => addrs,
        Err(denial) if denial.kind == DenialKind::Unresolvable => {
            state.note(&denial);
            return Err(Hangup(denial.reason));
        }
        Err(denial) => return Ok(state.refuse(denial)),
    };
    let stream = match connect(host, port, &addrs, state.limits.connect_timeout).await {
        Ok(stream) => stream,
        Err(denial) => {
            state.note(&denial);
            return Err(Hangup(denial.reason));
        }
    };
    let unanswered = |detail: String| {
        let denial = Denial::new(
            host,
            port,
            DenialKind::Unreachable,
            format!("{host}:{port} {detail}"),
        );
        state.note(&denial);
        Hangup(denial.reason)
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unanswered(format!("could not start HTTP: {e}")))?;
    let stop = state.stop.clone();
    let lifetime = state.limits.lifetime;
    tokio::spawn(async move {
        tokio::select! {
            () = stop.cancelled() => {}
            done = tokio::time::timeout(lifetime, connection) => {
                if let Ok(Err(e)) = done {
                    tracing::debug!(error = %e, "a forwarded exchange ended with an error");
                }
            }
        }
    });

    let origin_form = uri.path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = origin_form
        .parse::<Uri>()
        .map_err(|e| unanswered(format!("has an unusable path: {e}")))?;
    let host_header = HeaderValue::from_str(authority.as_str())
        .map_err(|e| unanswered(format!("has an unusable authority: {e}")))?;
    let headers = request.headers_mut();
    strip_hop_by_hop(headers);
    headers.entry(header::HOST).or_insert(host_header);

    let response = tokio::time::timeout(state.limits.response_timeout, sender.send_request(request))
        .await
        .map_err(|_| {
            unanswered(format!(
                "did not answer within {:?}",
                state.limits.response_timeout
            ))
        })?
        .map_err(|e| unanswered(format!("failed: {e}")))?;
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Ok(Response::from_parts(parts, body.boxed()))
}

/// Headers for one hop only (RFC 9110 §7.6.1), and those `Connection`
/// names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}
