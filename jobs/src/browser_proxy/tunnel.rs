//! `CONNECT host:port`: check the host, connect to a checked address, answer
//! `200`, then copy bytes both ways until either side closes, the proxy
//! stops, or the tunnel's lifetime ends. TLS stays end to end between the
//! browser and the site.

use std::sync::Arc;

use hyper::{Request, Response, body::Incoming};
use hyper_util::rt::TokioIo;

use super::{
    Hangup, ProxyBody, State,
    admission::{Denial, DenialKind, connect},
    empty_body,
};

pub(super) async fn open(
    state: &Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<ProxyBody>, Hangup> {
    let Some(authority) = request.uri().authority().cloned() else {
        return Ok(state.refuse(Denial::new(
            "",
            0,
            DenialKind::Malformed,
            "CONNECT needs host:port",
        )));
    };
    let host = authority.host();
    let Some(port) = authority.port_u16() else {
        return Ok(state.refuse(Denial::new(
            host,
            0,
            DenialKind::Malformed,
            format!("CONNECT {host} names no port"),
        )));
    };
    let Ok(permit) = Arc::clone(&state.tunnels).try_acquire_owned() else {
        return Ok(state.refuse(Denial::new(
            host,
            port,
            DenialKind::Busy,
            format!("too many tunnels are open ({})", state.limits.max_tunnels),
        )));
    };
    let addrs = match state.admission.admit(host, port).await {
        Ok(addrs) => addrs,
        Err(denial) => return Ok(state.refuse(denial)),
    };
    let mut upstream = match connect(host, port, &addrs, state.limits.connect_timeout).await {
        Ok(stream) => stream,
        Err(denial) => return Ok(state.refuse(denial)),
    };
    let upgrade = hyper::upgrade::on(request);
    let stop = state.stop.clone();
    let lifetime = state.limits.lifetime;
    tokio::spawn(async move {
        let _permit = permit;
        let mut browser = match upgrade.await {
            Ok(upgraded) => TokioIo::new(upgraded),
            Err(e) => {
                tracing::debug!(error = %e, "a CONNECT was not upgraded");
                return;
            }
        };
        tokio::select! {
            () = stop.cancelled() => {}
            copied = tokio::time::timeout(lifetime, tokio::io::copy_bidirectional(&mut browser, &mut upstream)) => {
                match copied {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::debug!(error = %e, "a tunnel ended with an error"),
                    Err(_) => tracing::debug!(?lifetime, "a tunnel outlived its lifetime and was closed"),
                }
            }
        }
    });
    Ok(Response::new(empty_body()))
}
