//! What a probe checks: the command, the TCP or HTTP(S) target, the listening socket, the
//! process name. Split from `values.rs` to keep each file to one subject; the serde and display
//! macros come from the parent module.

use super::*;

/// The status an http probe expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpStatus(u16);

impl HttpStatus {
    pub const OK: HttpStatus = HttpStatus(200);

    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<i64> for HttpStatus {
    type Error = String;
    fn try_from(n: i64) -> Result<Self, String> {
        match n {
            100..=599 => Ok(HttpStatus(n as u16)),
            _ => Err("expected an HTTP status, 100 to 599".to_string()),
        }
    }
}

serde_via_int!(Dcid, Ttl, Count, HttpStatus);

/// A probe's TCP target: `IP:PORT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpTarget(SocketAddr);

impl TcpTarget {
    pub fn get(self) -> SocketAddr {
        self.0
    }
}

impl FromStr for TcpTarget {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        text.parse::<SocketAddr>()
            .map(TcpTarget)
            .map_err(|_| "expected IP:PORT, e.g. 127.0.0.1:80 or [::1]:80".to_string())
    }
}

/// A `listen` probe's socket: `IP:PORT`, `[IPv6]:PORT` or `*:PORT` (any address), with `/udp`
/// for a bound UDP socket (`/tcp`, the default, for a listening TCP socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenTarget {
    /// `None` for `*`.
    pub ip: Option<IpAddr>,
    pub port: u16,
    pub udp: bool,
}

impl FromStr for ListenTarget {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let usage = "expected IP:PORT, [IPv6]:PORT or *:PORT, optionally with /udp or /tcp, \
                     e.g. 127.0.0.1:8080, [::]:443 or *:53/udp";
        let (socket, udp) = match text.rsplit_once('/') {
            Some((socket, "udp")) => (socket, true),
            Some((socket, "tcp")) => (socket, false),
            Some(_) => return Err(usage.to_string()),
            None => (text, false),
        };
        let (ip, port) = match socket.strip_prefix("*:") {
            Some(port) => (None, port),
            None => {
                let address: SocketAddr = socket.parse().map_err(|_| usage.to_string())?;
                return match address.port() {
                    0 => Err("port 0 is not a port a service listens on".to_string()),
                    port => Ok(ListenTarget {
                        ip: Some(address.ip()),
                        port,
                        udp,
                    }),
                };
            }
        };
        match port.parse::<u16>() {
            Ok(0) => Err("port 0 is not a port a service listens on".to_string()),
            Ok(port) => Ok(ListenTarget { ip, port, udp }),
            Err(_) => Err(usage.to_string()),
        }
    }
}

impl fmt::Display for ListenTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            None => write!(f, "*:{}", self.port)?,
            Some(ip) => SocketAddr::new(ip, self.port).fmt(f)?,
        }
        if self.udp {
            f.write_str("/udp")?;
        }
        Ok(())
    }
}

/// A `process` probe's process name, as the kernel keeps it in `comm`: 1 to 15 bytes (the
/// kernel cuts longer names), no `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessName(String);

impl ProcessName {
    pub fn into_string(self) -> String {
        self.0
    }
}

impl FromStr for ProcessName {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        if text.is_empty() || text.chars().any(|c| c == '/' || c.is_control()) {
            return Err(
                "a process name (comm) is 1 to 15 bytes without '/' or control characters"
                    .to_string(),
            );
        }
        if text.len() > 15 {
            return Err(format!(
                "the kernel keeps at most 15 bytes of a process name: write {:?}",
                &text[..text.floor_char_boundary(15)]
            ));
        }
        Ok(ProcessName(text.to_string()))
    }
}

/// The name an https probe checks the certificate against: a DNS name or an IP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsName(String);

impl TlsName {
    pub fn into_string(self) -> String {
        self.0
    }
}

impl FromStr for TlsName {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match ServerName::try_from(text) {
            Ok(_) => Ok(TlsName(text.to_string())),
            Err(_) => Err(format!("{text:?} is neither a DNS name nor an IP address")),
        }
    }
}

/// An `http://` or `https://` URL, split for the hand-written client in `probe.rs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    pub text: String,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with '/'.
    pub path: String,
}

impl HttpUrl {
    pub fn is_https(&self) -> bool {
        self.text.starts_with("https://")
    }
}

impl FromStr for HttpUrl {
    type Err = String;
    /// `http://HOST[:PORT]/PATH` or `https://…`.
    fn from_str(text: &str) -> Result<Self, String> {
        let (rest, default_port) = if let Some(rest) = text.strip_prefix("http://") {
            (rest, 80)
        } else if let Some(rest) = text.strip_prefix("https://") {
            (rest, 443)
        } else {
            return Err("expected a URL starting with http:// or https://".to_string());
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err("expected http[s]://HOST[:PORT]/PATH".to_string());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(':') && !port.contains(']') => {
                let port: u16 = port
                    .parse()
                    .map_err(|_| format!("bad port {port:?} in the URL"))?;
                (host, port)
            }
            _ => (authority, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let valid_host = host.parse::<IpAddr>().is_ok()
            || (!host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.')));
        if !valid_host {
            return Err(format!("bad host {host:?} in the URL"));
        }
        if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("the path must not contain spaces or control characters".to_string());
        }
        Ok(HttpUrl {
            text: text.to_string(),
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

display_inner!(
    ProcessName,
    NeighborPattern,
    RouterId,
    Address,
    Listen,
    TcpTarget,
    GroupName,
    Name,
    TlsName,
    PasswordFile,
);
display_path!(SocketPath, AbsolutePath);

serde_via_str!(
    ListenTarget,
    ProcessName,
    NeighborPattern,
    Community,
    RouterId,
    Address,
    Listen,
    ApiListen,
    TcpTarget,
    SocketPath,
    GroupName,
    Name,
    TlsName,
    AbsolutePath,
    PasswordFile,
    HttpUrl,
);

/// A command: one program path (a string) or an argv list. Never run through a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argv(Vec<String>);

impl Argv {
    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

impl TryFrom<Vec<String>> for Argv {
    type Error = String;
    fn try_from(argv: Vec<String>) -> Result<Self, String> {
        match argv.first().map(String::as_str) {
            None => Err("the command is empty: give [program, args…]".to_string()),
            Some("") => Err("the program name is empty".to_string()),
            Some(program) if !program.starts_with('/') && program.contains('/') => Err(format!(
                "invalid value {program:?}: give an absolute path, or a bare name looked up in PATH"
            )),
            Some(_) => Ok(Argv(argv)),
        }
    }
}

impl<'de> Deserialize<'de> for Argv {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ArgvVisitor;
        impl<'de> Visitor<'de> for ArgvVisitor {
            type Value = Argv;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a program path or a list [program, args…]")
            }
            fn visit_str<E: de::Error>(self, program: &str) -> Result<Argv, E> {
                Argv::try_from(vec![program.to_string()]).map_err(E::custom)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Argv, A::Error> {
                let mut argv = Vec::new();
                while let Some(arg) = seq.next_element::<String>()? {
                    argv.push(arg);
                }
                Argv::try_from(argv).map_err(de::Error::custom)
            }
        }
        d.deserialize_any(ArgvVisitor)
    }
}

impl Serialize for Argv {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for arg in &self.0 {
            seq.serialize_element(arg)?;
        }
        seq.end()
    }
}
