//! The network probes: NET001 tcp-connect, NET002 mysql-handshake. Not
//! implemented yet (reported as `skip`); the probes land here.

use crate::check::{explain, Check};

pub(crate) const TCP_CONNECT: Check = Check {
    id: "NET001",
    slug: "tcp-connect",
    title: "TCP connects to the port on every resolved address",
    needs: &[],
    explain: explain!("NET001"),
    judge: None,
};

pub(crate) const MYSQL_HANDSHAKE: Check = Check {
    id: "NET002",
    slug: "mysql-handshake",
    title: "The server greets with the MySQL protocol as TiDB",
    needs: &[],
    explain: explain!("NET002"),
    judge: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;
    use crate::testing::healthy;

    #[test]
    fn net001_is_not_implemented_yet_so_it_skips() {
        assert!(TCP_CONNECT.judge.is_none());
        assert_eq!(TCP_CONNECT.run(&healthy()).status, Status::Skip);
    }

    #[test]
    fn net002_is_not_implemented_yet_so_it_skips() {
        assert!(MYSQL_HANDSHAKE.judge.is_none());
        assert_eq!(MYSQL_HANDSHAKE.run(&healthy()).status, Status::Skip);
    }
}
