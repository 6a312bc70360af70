//! This machine's resolver path, read from its files: `/etc/resolv.conf`,
//! systemd-resolved's upstream list (when the stub 127.0.0.53 is
//! configured) and the `/etc/hosts` lines naming the host.
//!
//! The parsers are pure (text in, facts out); the paths are parameters, so
//! tests and `ip netns exec` (which mounts `/etc/netns/NAME/resolv.conf` and
//! `hosts` over the real ones) can point them anywhere. Nothing here sends a
//! packet.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use tidbpe_checks::probe_facts::{
    FileContent, FileFact, HostsEntry, ResolvConf, ResolverPath, SYSTEMD_RESOLVED_STUB,
};
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

/// Read at most this much of a file: a hosts file with a block list can be
/// large, but not this large.
const MAX_FILE: u64 = 8 * 1024 * 1024;

/// Where the resolver's files are.
#[derive(Debug, Clone)]
pub struct ResolverFiles {
    pub resolv_conf: PathBuf,
    /// systemd-resolved's list of upstream servers.
    pub systemd_resolved: PathBuf,
    pub hosts: PathBuf,
}

impl Default for ResolverFiles {
    fn default() -> Self {
        ResolverFiles {
            resolv_conf: PathBuf::from("/etc/resolv.conf"),
            systemd_resolved: PathBuf::from("/run/systemd/resolve/resolv.conf"),
            hosts: PathBuf::from("/etc/hosts"),
        }
    }
}

/// Read the resolver path for `host`; a file that cannot be read before the
/// deadline is `unreadable`.
pub async fn resolver_path(
    files: &ResolverFiles,
    host: &str,
    dns_server: Option<SocketAddr>,
    deadline: Instant,
) -> ResolverPath {
    let (resolv_conf, hosts) = tokio::join!(
        read_file(&files.resolv_conf, deadline, parse_resolv_conf),
        read_file(&files.hosts, deadline, |text| parse_hosts(text, host)),
    );
    let stub = matches!(&resolv_conf.content,
        FileContent::Read(conf) if conf.nameservers.contains(&SYSTEMD_RESOLVED_STUB));
    let systemd_resolved = if stub {
        Some(read_file(&files.systemd_resolved, deadline, parse_resolv_conf).await)
    } else {
        None
    };
    ResolverPath {
        resolv_conf,
        systemd_resolved,
        dns_server,
        hosts,
    }
}

/// Read a small text file and parse it.
pub async fn read_file<T>(
    path: &Path,
    deadline: Instant,
    parse: impl FnOnce(&str) -> T,
) -> FileFact<T> {
    let read = async {
        let file = tokio::fs::File::open(path).await?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE).read_to_end(&mut bytes).await?;
        Ok::<_, std::io::Error>(bytes)
    };
    let content = match tokio::time::timeout_at(deadline, read).await {
        Ok(Ok(bytes)) => FileContent::Read(parse(&String::from_utf8_lossy(&bytes))),
        Ok(Err(e)) if e.kind() == ErrorKind::NotFound => FileContent::Missing,
        Ok(Err(e)) => FileContent::Unreadable {
            error: e.to_string(),
        },
        Err(_) => FileContent::Unreadable {
            error: "not read before the deadline (--timeout)".to_string(),
        },
    };
    FileFact {
        path: path.display().to_string(),
        content,
    }
}

/// Parse a resolv.conf as the C library does: `nameserver`, the last of
/// `search`/`domain`, `options`; `#` and `;` start comments; an address that
/// does not parse is ignored.
pub fn parse_resolv_conf(text: &str) -> ResolvConf {
    let mut conf = ResolvConf::default();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                if let Some(ip) = words.next().and_then(parse_ip) {
                    conf.nameservers.push(ip);
                }
            }
            Some("search") | Some("domain") => {
                conf.search = words.map(str::to_string).collect();
            }
            Some("options") => conf.options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    conf
}

/// The lines of a hosts file that name `host` (any case, with or without
/// the final dot), with their line numbers.
pub fn parse_hosts(text: &str, host: &str) -> Vec<HostsEntry> {
    let want = host.trim_end_matches('.');
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(address) = words.next().and_then(parse_ip) else {
            continue;
        };
        let names: Vec<String> = words.map(str::to_string).collect();
        if names
            .iter()
            .any(|name| name.trim_end_matches('.').eq_ignore_ascii_case(want))
        {
            out.push(HostsEntry {
                line: u32::try_from(n + 1).unwrap_or(u32::MAX),
                address,
                names,
            });
        }
    }
    out
}

/// An address, without an IPv6 zone (`fe80::1%eth0`).
fn parse_ip(word: &str) -> Option<IpAddr> {
    word.split('%').next().and_then(|ip| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn resolv_conf_keeps_order_last_search_and_options() {
        let conf = parse_resolv_conf(
            "# generated by dhclient\n\
             domain ec2.internal\n\
             search us-east-1.compute.internal ec2.internal ; trailing comment\n\
             nameserver 10.0.0.2\n\
             nameserver   fe80::1%eth0   # link-local\n\
             nameserver not-an-address\n\
             ;nameserver 8.8.8.8\n\
             options timeout:2 attempts:5\n\
             options edns0\n",
        );
        assert_eq!(conf.nameservers, vec![ip("10.0.0.2"), ip("fe80::1")]);
        assert_eq!(
            conf.search,
            vec!["us-east-1.compute.internal", "ec2.internal"]
        );
        assert_eq!(conf.options, vec!["timeout:2", "attempts:5", "edns0"]);
        assert_eq!(parse_resolv_conf(""), ResolvConf::default());
    }

    #[test]
    fn hosts_lines_naming_the_host_any_case_with_line_numbers() {
        let text = "127.0.0.1 localhost\n\
                    # 10.0.9.9 gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com\n\
                    10.0.1.7\tdb GATEWAY01-PrivateLink.us-east-1.prod.aws.tidbcloud.com. # pinned\n\
                    garbage gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com\n\
                    fd00::7 gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com\n\
                    10.0.1.8 gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com.evil\n";
        let entries = parse_hosts(
            text,
            "gateway01-privatelink.us-east-1.prod.aws.tidbcloud.com",
        );
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!(entries[0].line, 3);
        assert_eq!(entries[0].address, ip("10.0.1.7"));
        assert_eq!(entries[0].names.len(), 2);
        assert_eq!(entries[1].line, 5);
        assert_eq!(entries[1].address, ip("fd00::7"));
        assert!(parse_hosts(text, "other.example").is_empty());
    }

    #[tokio::test]
    async fn files_are_read_missing_or_unreadable_and_the_stub_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let files = ResolverFiles {
            resolv_conf: dir.path().join("resolv.conf"),
            systemd_resolved: dir.path().join("upstream.conf"),
            hosts: dir.path().join("hosts"),
        };
        let deadline = Instant::now() + Duration::from_secs(5);

        let path = resolver_path(&files, "h.example", None, deadline).await;
        assert_eq!(path.resolv_conf.content, FileContent::Missing);
        assert_eq!(path.hosts.content, FileContent::Missing);
        assert_eq!(path.systemd_resolved, None);

        std::fs::write(&files.resolv_conf, "nameserver 127.0.0.53\n").unwrap();
        std::fs::write(&files.systemd_resolved, "nameserver 10.0.0.2\n").unwrap();
        std::fs::write(&files.hosts, "10.0.1.9 h.example\n").unwrap();
        let dns_server: SocketAddr = "127.0.0.1:5353".parse().unwrap();
        let path = resolver_path(&files, "h.example", Some(dns_server), deadline).await;
        assert_eq!(path.system_servers(), vec![ip("10.0.0.2")]);
        assert_eq!(path.pinned(), vec![ip("10.0.1.9")]);
        assert_eq!(path.dns_server, Some(dns_server));
        assert_eq!(
            path.resolv_conf.path,
            files.resolv_conf.display().to_string()
        );

        // A directory cannot be read as a file.
        let unreadable = read_file(dir.path(), deadline, parse_resolv_conf).await;
        assert!(
            matches!(unreadable.content, FileContent::Unreadable { .. }),
            "{unreadable:?}"
        );
    }
}
