//! The listening socket: dual-stack where the host has IPv6.

use std::{
    io,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;

/// Binds `[::]:port` with IPV6_V6ONLY off, so IPv4 and IPv6 clients both connect
/// (dual-stack Services need it; docs/behaviour.md#ports-and-binding);
/// on a host with IPv6 disabled, `0.0.0.0:port`.
pub fn bind_dual_stack(port: u16) -> io::Result<TcpListener> {
    match bind(
        Domain::IPV6,
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
    ) {
        Err(err) if ipv6_unavailable(&err) => {
            tracing::warn!(%err, "no IPv6 on this host; listening on IPv4 only");
            bind(
                Domain::IPV4,
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
            )
        }
        bound => bound,
    }
}

/// EAFNOSUPPORT (IPv6 disabled in the kernel) or EADDRNOTAVAIL (no IPv6 address).
fn ipv6_unavailable(err: &io::Error) -> bool {
    const EAFNOSUPPORT: i32 = 97;
    err.kind() == io::ErrorKind::AddrNotAvailable || err.raw_os_error() == Some(EAFNOSUPPORT)
}

fn bind(domain: Domain, addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    if domain == Domain::IPV6 {
        socket.set_only_v6(false)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}
