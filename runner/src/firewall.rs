//! The rules that keep tenants' code to itself: builds and apps run on one
//! bridge (`slipway0`) and may reach the internet, but not each other, not
//! this host's services and not any private, link-local (the cloud's
//! metadata service), loopback or multicast address, except the host's DNS
//! resolvers on port 53 (Docker's embedded DNS forwards from the
//! container's own namespace).
//!
//! The rules live in two chains of ours, replaced at once with
//! `iptables-restore --noflush`: one jumped to from `DOCKER-USER` (traffic
//! forwarded to another network), one from `INPUT` (traffic to this host's
//! own addresses, the bridge's gateway among them). Docker's options alone
//! cannot do this: `enable_icc=false` stops neighbours on the bridge, but
//! nothing of Docker's stops a container from reaching the host or the VPC.
//! Replies to connections the host made (the edge, the readiness probe) pass.

use std::net::Ipv4Addr;

use tokio::process::Command;

pub const FORWARD_CHAIN: &str = "SLIPWAY-FORWARD";
pub const INPUT_CHAIN: &str = "SLIPWAY-INPUT";

/// Where no tenant's packet may go (RFC 6890's special-purpose ranges that
/// are not the internet).
const CLOSED: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
];

/// A refused packet is answered at once ("host unreachable"), so an app
/// that tries fails fast instead of hanging on a timeout.
const REFUSE: &str = "REJECT --reject-with icmp-admin-prohibited";

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("running {0}: {1}")]
    Spawn(&'static str, std::io::Error),
    #[error("{0} failed: {1}")]
    Failed(&'static str, String),
}

/// Our two chains' whole content, in `iptables-restore` form: declaring a
/// chain empties it, so the file replaces what an earlier runner left.
pub fn chains(bridge: &str, resolvers: &[Ipv4Addr]) -> String {
    let mut out = format!("*filter\n:{FORWARD_CHAIN} - [0:0]\n:{INPUT_CHAIN} - [0:0]\n");
    let established = "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN";
    out += &format!("-A {INPUT_CHAIN} {established}\n");
    out += &format!("-A {INPUT_CHAIN} -j {REFUSE}\n");
    out += &format!("-A {FORWARD_CHAIN} {established}\n");
    out += &format!("-A {FORWARD_CHAIN} -o {bridge} -j {REFUSE}\n");
    for resolver in resolvers {
        for protocol in ["udp", "tcp"] {
            out += &format!(
                "-A {FORWARD_CHAIN} -d {resolver}/32 -p {protocol} --dport 53 -j RETURN\n"
            );
        }
    }
    for range in CLOSED {
        out += &format!("-A {FORWARD_CHAIN} -d {range} -j {REFUSE}\n");
    }
    out += "COMMIT\n";
    out
}

/// The jumps into our chains, as `iptables` arguments after `-C`/`-I`.
fn jumps(bridge: &str) -> [[&str; 5]; 2] {
    [
        ["DOCKER-USER", "-i", bridge, "-j", FORWARD_CHAIN],
        ["INPUT", "-i", bridge, "-j", INPUT_CHAIN],
    ]
}

/// Writes our chains and puts the jumps to them first in their parent
/// chains (where no rule of Docker's or the host's can accept first).
pub async fn install(bridge: &str, resolvers: &[Ipv4Addr]) -> Result<(), FirewallError> {
    let mut restore = Command::new("iptables-restore")
        .args(["--noflush", "--wait"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| FirewallError::Spawn("iptables-restore", e))?;
    if let Some(mut stdin) = restore.stdin.take() {
        use tokio::io::AsyncWriteExt;
        stdin
            .write_all(chains(bridge, resolvers).as_bytes())
            .await
            .map_err(|e| FirewallError::Spawn("iptables-restore", e))?;
    }
    let done = restore
        .wait_with_output()
        .await
        .map_err(|e| FirewallError::Spawn("iptables-restore", e))?;
    if !done.status.success() {
        return Err(FirewallError::Failed(
            "iptables-restore",
            String::from_utf8_lossy(&done.stderr).trim().to_owned(),
        ));
    }
    for jump in jumps(bridge) {
        if !iptables("-C", &jump).await? {
            let mut first = vec![jump[0], "1"];
            first.extend_from_slice(&jump[1..]);
            if !iptables("-I", &first).await? {
                return Err(FirewallError::Failed(
                    "iptables",
                    format!("could not insert the jump to {} in {}", jump[4], jump[0]),
                ));
            }
        }
    }
    Ok(())
}

/// Whether the jumps and our chains' last rule are still there (a restarted
/// engine or a host's firewall service may have rewritten the tables).
pub async fn in_place(bridge: &str) -> Result<bool, FirewallError> {
    for jump in jumps(bridge) {
        if !iptables("-C", &jump).await? {
            return Ok(false);
        }
    }
    let mut last = vec![INPUT_CHAIN, "-j"];
    last.extend(REFUSE.split(' '));
    iptables("-C", &last).await
}

async fn iptables(action: &str, rule: &[&str]) -> Result<bool, FirewallError> {
    let status = Command::new("iptables")
        .arg("--wait")
        .arg(action)
        .args(rule)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .map_err(|e| FirewallError::Spawn("iptables", e))?;
    Ok(status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(resolvers: &[Ipv4Addr]) -> Vec<String> {
        chains("slipway0", resolvers)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn host_traffic_from_the_bridge_is_refused_but_replies_to_the_host() {
        let r = rules(&[]);
        let input: Vec<_> = r
            .iter()
            .filter(|l| l.starts_with("-A SLIPWAY-INPUT"))
            .collect();
        assert_eq!(
            input,
            [
                "-A SLIPWAY-INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
                "-A SLIPWAY-INPUT -j REJECT --reject-with icmp-admin-prohibited",
            ]
        );
    }

    #[test]
    fn neighbours_metadata_and_private_ranges_are_refused_after_replies() {
        let r = rules(&[]);
        let forward: Vec<_> = r
            .iter()
            .filter(|l| l.starts_with("-A SLIPWAY-FORWARD"))
            .collect();
        assert_eq!(
            forward[0],
            "-A SLIPWAY-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"
        );
        assert_eq!(
            forward[1],
            "-A SLIPWAY-FORWARD -o slipway0 -j REJECT --reject-with icmp-admin-prohibited"
        );
        for range in [
            "169.254.0.0/16",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "100.64.0.0/10",
            "127.0.0.0/8",
        ] {
            let rule = format!(
                "-A SLIPWAY-FORWARD -d {range} -j REJECT --reject-with icmp-admin-prohibited"
            );
            assert!(forward.iter().any(|l| **l == rule), "{rule} missing");
        }
        assert_eq!(r.first().map(String::as_str), Some("*filter"));
        assert_eq!(r.last().map(String::as_str), Some("COMMIT"));
    }

    #[test]
    fn the_hosts_resolvers_answer_dns_and_nothing_else_before_the_closed_ranges() {
        let r = rules(&[Ipv4Addr::new(10, 0, 0, 2)]);
        let at = |rule: &str| r.iter().position(|l| l == rule).unwrap();
        let udp = at("-A SLIPWAY-FORWARD -d 10.0.0.2/32 -p udp --dport 53 -j RETURN");
        let tcp = at("-A SLIPWAY-FORWARD -d 10.0.0.2/32 -p tcp --dport 53 -j RETURN");
        let closed =
            at("-A SLIPWAY-FORWARD -d 10.0.0.0/8 -j REJECT --reject-with icmp-admin-prohibited");
        assert!(udp < closed && tcp < closed);
        assert_eq!(r.iter().filter(|l| l.contains("10.0.0.2")).count(), 2);
    }

    #[test]
    fn the_jumps_name_the_bridge_and_our_chains() {
        assert_eq!(
            jumps("slipway0"),
            [
                ["DOCKER-USER", "-i", "slipway0", "-j", "SLIPWAY-FORWARD"],
                ["INPUT", "-i", "slipway0", "-j", "SLIPWAY-INPUT"],
            ]
        );
    }
}
