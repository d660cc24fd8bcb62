//! A tiny authoritative DNS server on loopback, answering from a function:
//! the simulated internet's name servers (benchmarks and tests).

use std::{net::SocketAddr, str::FromStr, sync::Arc, time::Duration};

use hickory_proto::{
    op::{Message, MessageType, OpCode, ResponseCode},
    rr::{Name, RData, Record, RecordType},
};
use tokio::net::UdpSocket;

/// What the zone says about a name and type.
#[derive(Debug, Clone)]
pub enum Answer {
    /// These records (possibly none: the name exists without that type).
    Records(Vec<RData>),
    /// The name does not exist.
    NxDomain,
}

/// The zone: (lower-case name without the trailing dot, type) → answer.
pub type Zone = Arc<dyn Fn(&str, RecordType) -> Answer + Send + Sync>;

/// Serve `zone` on a fresh UDP port of 127.0.0.1, each answer after
/// `latency(name)`. Runs until the runtime stops.
pub async fn serve(
    zone: Zone,
    latency: Arc<dyn Fn(&str) -> Duration + Send + Sync>,
) -> std::io::Result<SocketAddr> {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
    let addr = socket.local_addr()?;
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(request) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            let (socket, zone, latency) = (Arc::clone(&socket), Arc::clone(&zone), Arc::clone(&latency));
            tokio::spawn(async move {
                let response = answer(&request, &zone);
                let name = request
                    .queries
                    .first()
                    .map(|q| q.name().to_ascii())
                    .unwrap_or_default();
                tokio::time::sleep(latency(&name)).await;
                if let Ok(bytes) = response.to_vec() {
                    let _ = socket.send_to(&bytes, peer).await;
                }
            });
        }
    });
    Ok(addr)
}

fn answer(request: &Message, zone: &Zone) -> Message {
    let mut response = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
    response.metadata.authoritative = true;
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    for query in &request.queries {
        response.add_query(query.clone());
        let name = query.name().to_ascii().trim_end_matches('.').to_ascii_lowercase();
        match zone(&name, query.query_type()) {
            Answer::NxDomain => response.metadata.response_code = ResponseCode::NXDomain,
            Answer::Records(records) => {
                let owner = Name::from_str(&format!("{name}.")).unwrap_or_else(|_| query.name().clone());
                for rdata in records {
                    response.add_answer(Record::from_rdata(owner.clone(), 300, rdata));
                }
            }
        }
    }
    response
}
