//! TCP connect to one address, bounded by the run's deadline, with the
//! outcome named the way the fix differs: connected, refused (a reset: no
//! listener, or a REJECT rule), no answer (dropped on the way: security
//! group, network ACL, host firewall), unreachable (no route, an ICMP
//! error), refused by this machine's own firewall.

use std::io;
use std::net::SocketAddr;

use tidbpe_checks::probe_facts::{TcpConnect, TcpOutcome};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::elapsed_ms;

/// Connect to `addr`; the stream, when connected, for reading the greeting.
pub async fn connect(addr: SocketAddr, deadline: Instant) -> (TcpConnect, Option<TcpStream>) {
    let start = Instant::now();
    let (outcome, stream) = match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await
    {
        Ok(Ok(stream)) => (TcpOutcome::Connected, Some(stream)),
        Ok(Err(e)) => (classify(&e), None),
        Err(_) => (TcpOutcome::NoAnswer, None),
    };
    let connect = TcpConnect {
        ms: elapsed_ms(start),
        outcome,
    };
    (connect, stream)
}

/// Name a failed connect by what it means for the path.
pub fn classify(e: &io::Error) -> TcpOutcome {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => TcpOutcome::Refused,
        // The kernel gave up retrying the SYN (only when the deadline is
        // longer than its retries).
        io::ErrorKind::TimedOut => TcpOutcome::NoAnswer,
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            TcpOutcome::Unreachable {
                error: e.to_string(),
            }
        }
        // An OUTPUT rule of this machine's firewall.
        io::ErrorKind::PermissionDenied => TcpOutcome::LocalFirewall {
            error: e.to_string(),
        },
        _ => TcpOutcome::Error {
            error: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn soon(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    #[tokio::test]
    async fn a_listener_connects_a_closed_port_is_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (c, stream) = connect(listener.local_addr().unwrap(), soon(2000)).await;
        assert_eq!(c.outcome, TcpOutcome::Connected);
        assert!(stream.is_some());

        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let (c, stream) = connect(closed, soon(2000)).await;
        assert_eq!(c.outcome, TcpOutcome::Refused);
        assert!(stream.is_none());
        assert!(c.ms < 1000);
    }

    /// A listener whose accept queue is full drops further SYNs, as a
    /// DROP rule does: the connect gets no answer until the deadline.
    #[tokio::test]
    async fn a_dropped_syn_is_no_answer_at_the_deadline() {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(0).unwrap();
        let addr = listener.local_addr().unwrap();
        // Fill the queue (never accepted).
        let mut fillers = Vec::new();
        for _ in 0..4 {
            if let Ok(Ok(s)) =
                tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await
            {
                fillers.push(s);
            }
        }
        let start = Instant::now();
        let (c, stream) = connect(addr, soon(600)).await;
        assert_eq!(c.outcome, TcpOutcome::NoAnswer, "{fillers:?}");
        assert!(stream.is_none());
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(550) && took < Duration::from_millis(1100),
            "{took:?}"
        );
        drop(listener);
    }

    #[test]
    fn errors_are_named_by_what_they_mean() {
        use io::ErrorKind::*;
        let e = |kind| io::Error::from(kind);
        assert_eq!(classify(&e(ConnectionRefused)), TcpOutcome::Refused);
        assert_eq!(classify(&e(TimedOut)), TcpOutcome::NoAnswer);
        assert!(matches!(
            classify(&io::Error::from_raw_os_error(113)),
            TcpOutcome::Unreachable { .. }
        ));
        assert!(matches!(
            classify(&io::Error::from_raw_os_error(101)),
            TcpOutcome::Unreachable { .. }
        ));
        assert!(matches!(
            classify(&io::Error::from_raw_os_error(1)),
            TcpOutcome::LocalFirewall { .. }
        ));
        assert!(matches!(
            classify(&e(AddrNotAvailable)),
            TcpOutcome::Error { .. }
        ));
    }
}
