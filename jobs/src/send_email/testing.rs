//! Real mail servers on loopback for tests (ours and the integrator's):
//! [`SmtpSink`] is an aiosmtpd that stores every message in a Maildir we
//! read back, [`Dovecot`] an IMAP server with one user and its own config
//! in a temporary directory. Each test starts its own on a free port; they
//! are stopped when dropped. Built with `cfg(test)` or the `testing`
//! feature.
//!
//! `scripts/lib/mail.sh` (`ensure_mail_servers`) installs both and exports
//! `PROSPECTOR_TEST_AIOSMTPD_PYTHON` (a python that has aiosmtpd) and
//! `PROSPECTOR_TEST_DOVECOT` (the dovecot binary). Without them the
//! defaults are `.local/mail/venv/bin/python` in the workspace and
//! `/usr/sbin/dovecot`.

use std::{
    net::{Ipv4Addr, SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use secrecy::SecretString;
use tokio::{
    io::AsyncReadExt,
    net::TcpStream,
    process::{Child, Command},
};

use super::{imap::ImapConfig, smtp::Security};

/// A test server that could not be started or used.
#[derive(Debug, thiserror::Error)]
pub enum TestServerError {
    /// The program is missing.
    #[error(
        "{what} not found at {path}: run `. scripts/lib/debian.sh; . scripts/lib/mail.sh; ensure_mail_servers` (or set {env})"
    )]
    Missing {
        /// Which server.
        what: &'static str,
        /// Where it was looked for.
        path: String,
        /// The variable that overrides it.
        env: &'static str,
    },
    /// It did not come up in time, or exited.
    #[error("{what} did not start: {detail}")]
    NotStarted {
        /// Which server.
        what: &'static str,
        /// What happened, with the end of its log.
        detail: String,
    },
    /// Files or processes.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Talking IMAP to it.
    #[error("IMAP: {0}")]
    Imap(String),
}

fn free_port() -> Result<u16, std::io::Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Wait until `port` accepts and, if `banner` is given, sends a line
/// starting with it.
async fn wait_ready(
    what: &'static str,
    child: &mut Child,
    port: u16,
    banner: Option<&[u8]>,
    log: &Path,
) -> Result<(), TestServerError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait()? {
            return Err(TestServerError::NotStarted {
                what,
                detail: format!("exited with {status}\n{}", log_tail(log)),
            });
        }
        if let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await {
            let Some(banner) = banner else {
                return Ok(());
            };
            let mut buf = vec![0u8; 256];
            if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await
                && buf[..n].starts_with(banner)
            {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(TestServerError::NotStarted {
                what,
                detail: format!("port {port} not ready after 30 s\n{}", log_tail(log)),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn aiosmtpd_python() -> Result<PathBuf, TestServerError> {
    let path = std::env::var_os("PROSPECTOR_TEST_AIOSMTPD_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".local/mail/venv/bin/python"));
    if path.exists() {
        Ok(path)
    } else {
        Err(TestServerError::Missing {
            what: "aiosmtpd's python",
            path: path.display().to_string(),
            env: "PROSPECTOR_TEST_AIOSMTPD_PYTHON",
        })
    }
}

/// How an [`SmtpSink`] does TLS.
#[derive(Debug, Clone)]
pub enum SinkTls {
    /// Plain SMTP.
    None,
    /// STARTTLS, required before MAIL FROM.
    Starttls {
        /// Certificate chain (PEM).
        cert: PathBuf,
        /// Private key (PEM).
        key: PathBuf,
    },
    /// TLS from the first byte (SMTPS).
    Implicit {
        /// Certificate chain (PEM).
        cert: PathBuf,
        /// Private key (PEM).
        key: PathBuf,
    },
}

/// An aiosmtpd handler: the Maildir handler, refusing two local parts.
const RULES_HANDLER: &str = r#"from aiosmtpd.handlers import Mailbox


class Rules(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local == "reject":
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if local == "defer":
            return "451 4.7.1 <%s>: Recipient address rejected: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"
"#;

/// aiosmtpd with AUTH required (over plain SMTP: loopback tests only).
const AUTH_SERVER: &str = r#"import sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

user, password, port, maildir = sys.argv[1:5]


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == user
        and auth_data.password.decode() == password
    )
    return AuthResult(success=ok, handled=False)


controller = Controller(
    Mailbox(maildir),
    hostname="127.0.0.1",
    port=int(port),
    authenticator=authenticator,
    auth_required=True,
    auth_require_tls=False,
)
controller.start()
while True:
    time.sleep(3600)
"#;

/// aiosmtpd storing every message it accepts in a Maildir.
pub struct SmtpSink {
    child: Child,
    addr: SocketAddr,
    maildir: PathBuf,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for SmtpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSink")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SmtpSink {
    /// A plain SMTP sink.
    pub async fn start() -> Result<Self, TestServerError> {
        Self::start_with(SinkTls::None).await
    }

    /// A sink with the given TLS mode.
    pub async fn start_with(tls: SinkTls) -> Result<Self, TestServerError> {
        Self::spawn(tls, false).await
    }

    /// A plain sink that answers `RCPT TO:<reject@…>` with `550 5.1.1`
    /// and `<defer@…>` with `451 4.7.1`, and stores the rest.
    pub async fn start_rejecting() -> Result<Self, TestServerError> {
        Self::spawn(SinkTls::None, true).await
    }

    /// A plain sink that requires `AUTH` (PLAIN or LOGIN) as `user` /
    /// `password` before it takes a message (aiosmtpd's `authenticator`,
    /// which its command line cannot set, hence a small script).
    pub async fn start_with_auth(user: &str, password: &str) -> Result<Self, TestServerError> {
        let python = aiosmtpd_python()?;
        let dir = tempfile::tempdir()?;
        let maildir = dir.path().join("maildir");
        let port = free_port()?;
        let log = dir.path().join("aiosmtpd.log");
        let log_file = std::fs::File::create(&log)?;
        let mut child = Command::new(python)
            .arg("-c")
            .arg(AUTH_SERVER)
            .arg(user)
            .arg(password)
            .arg(port.to_string())
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()?;
        wait_ready("aiosmtpd", &mut child, port, Some(b"220"), &log).await?;
        Ok(Self {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            maildir,
            dir,
        })
    }

    async fn spawn(tls: SinkTls, rules: bool) -> Result<Self, TestServerError> {
        let python = aiosmtpd_python()?;
        let dir = tempfile::tempdir()?;
        // aiosmtpd's Mailbox handler creates the Maildir: it must not exist.
        let maildir = dir.path().join("maildir");
        let port = free_port()?;
        let log = dir.path().join("aiosmtpd.log");
        let log_file = std::fs::File::create(&log)?;
        let mut command = Command::new(python);
        command.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")]);
        if rules {
            std::fs::write(dir.path().join("prospector_sink.py"), RULES_HANDLER)?;
            command
                .env("PYTHONPATH", dir.path())
                .args(["-c", "prospector_sink.Rules"]);
        } else {
            command.args(["-c", "aiosmtpd.handlers.Mailbox"]);
        }
        let banner: Option<&[u8]> = match &tls {
            SinkTls::None => Some(b"220"),
            SinkTls::Starttls { cert, key } => {
                command.arg("--tlscert").arg(cert).arg("--tlskey").arg(key);
                Some(b"220")
            }
            SinkTls::Implicit { cert, key } => {
                command.arg("--smtpscert").arg(cert).arg("--smtpskey").arg(key);
                None
            }
        };
        // Handler arguments come last (after the options).
        command.arg(&maildir);
        let mut child = command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()?;
        wait_ready("aiosmtpd", &mut child, port, banner, &log).await?;
        Ok(Self {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            maildir,
            dir,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Maildir it writes.
    pub fn maildir(&self) -> &Path {
        &self.maildir
    }

    /// Every message received so far, oldest first. aiosmtpd adds
    /// `X-Peer`, `X-MailFrom` and `X-RcptTo` headers with the envelope.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(self.maildir.join("new"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, path)| std::fs::read(path).ok())
            .collect()
    }

    /// Wait (up to `timeout`) until at least `n` messages arrived.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Result<Vec<Vec<u8>>, TestServerError> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return Ok(messages);
            }
            if Instant::now() > deadline {
                return Err(TestServerError::NotStarted {
                    what: "aiosmtpd",
                    detail: format!(
                        "{} of {n} messages after {timeout:?}\n{}",
                        messages.len(),
                        log_tail(&self.dir.path().join("aiosmtpd.log"))
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Stop it now (also done on drop).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The IMAP test user.
pub const DOVECOT_USER: &str = "prospector";
/// Its password.
pub const DOVECOT_PASSWORD: &str = "test-password";

/// A Dovecot IMAP server with one user, its own config and Maildir.
pub struct Dovecot {
    child: Child,
    imap_port: u16,
    imaps_port: Option<u16>,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for Dovecot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dovecot")
            .field("imap_port", &self.imap_port)
            .field("imaps_port", &self.imaps_port)
            .finish_non_exhaustive()
    }
}

/// System users a root-run Dovecot needs: it refuses to log in or to
/// touch mail as root.
struct Users {
    login: String,
    internal: String,
    mail_uid: u32,
    mail_gid: u32,
    first_valid: u32,
}

fn users() -> Users {
    use nix::unistd::{Uid, User};
    let me = Uid::effective();
    if !me.is_root() {
        let name = User::from_uid(me)
            .ok()
            .flatten()
            .map_or_else(|| me.to_string(), |u| u.name);
        let gid = nix::unistd::Gid::effective().as_raw();
        return Users {
            login: name.clone(),
            internal: name,
            mail_uid: me.as_raw(),
            mail_gid: gid,
            first_valid: me.as_raw().min(gid),
        };
    }
    let lookup = |name: &str| User::from_name(name).ok().flatten();
    let nobody = lookup("nobody");
    let (mail_uid, mail_gid) = nobody
        .as_ref()
        .map_or((65534, 65534), |u| (u.uid.as_raw(), u.gid.as_raw()));
    Users {
        login: lookup("dovenull").map_or_else(|| "nobody".to_owned(), |u| u.name),
        internal: lookup("dovecot").map_or_else(|| "nobody".to_owned(), |u| u.name),
        mail_uid,
        mail_gid,
        first_valid: 1,
    }
}

fn dovecot_binary() -> Result<PathBuf, TestServerError> {
    let path = std::env::var_os("PROSPECTOR_TEST_DOVECOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/dovecot"));
    if path.exists() {
        Ok(path)
    } else {
        Err(TestServerError::Missing {
            what: "dovecot",
            path: path.display().to_string(),
            env: "PROSPECTOR_TEST_DOVECOT",
        })
    }
}

impl Dovecot {
    /// Plain IMAP only.
    pub async fn start() -> Result<Self, TestServerError> {
        Self::start_with(None).await
    }

    /// With `Some((cert, key))`: STARTTLS on the IMAP port and an IMAPS
    /// port too.
    pub async fn start_with(tls: Option<(&Path, &Path)>) -> Result<Self, TestServerError> {
        use std::os::unix::fs::PermissionsExt;
        let binary = dovecot_binary()?;
        let dir = tempfile::tempdir()?;
        let root = dir.path();
        // The mail user (not root) must reach its Maildir below.
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755))?;
        let users = users();
        let mail = root.join("mail");
        std::fs::create_dir(&mail)?;
        std::os::unix::fs::chown(&mail, Some(users.mail_uid), Some(users.mail_gid))?;
        let imap_port = free_port()?;
        let imaps_port = tls.map(|_| free_port()).transpose()?;
        std::fs::write(
            root.join("passwd"),
            format!(
                "{DOVECOT_USER}:{{PLAIN}}{DOVECOT_PASSWORD}:{}:{}::{}\n",
                users.mail_uid,
                users.mail_gid,
                mail.display()
            ),
        )?;
        let ssl = match tls {
            None => "ssl = no\n".to_owned(),
            Some((cert, key)) => format!(
                "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n",
                cert.display(),
                key.display()
            ),
        };
        let config = format!(
            "protocols = imap\n\
             listen = 127.0.0.1\n\
             base_dir = {root}/run\n\
             state_dir = {root}/state\n\
             instance_name = prospector-test-{imap_port}\n\
             log_path = {root}/dovecot.log\n\
             info_log_path = {root}/dovecot.log\n\
             {ssl}\
             disable_plaintext_auth = no\n\
             auth_mechanisms = plain login\n\
             mail_location = maildir:{mail}/Maildir\n\
             default_login_user = {login}\n\
             default_internal_user = {internal}\n\
             default_internal_group = {internal}\n\
             first_valid_uid = {first}\n\
             first_valid_gid = {first}\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {root}/passwd\n}}\n\
             userdb {{\n  driver = passwd-file\n  args = username_format=%u {root}/passwd\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {imap_port}\n  }}\n  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {imaps}\n  }}\n  chroot =\n}}\n\
             service anvil {{\n  chroot =\n}}\n",
            root = root.display(),
            mail = mail.display(),
            login = users.login,
            internal = users.internal,
            first = users.first_valid,
            imaps = imaps_port.unwrap_or(0),
        );
        let config_path = root.join("dovecot.conf");
        std::fs::write(&config_path, config)?;
        let log = root.join("dovecot.log");
        let console = std::fs::File::create(root.join("console.log"))?;
        let mut child = Command::new(binary)
            .arg("-F")
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(console.try_clone()?)
            .stderr(console)
            .kill_on_drop(true)
            .spawn()?;
        if let Err(e) = wait_ready("dovecot", &mut child, imap_port, Some(b"* OK"), &log).await {
            let console = log_tail(&root.join("console.log"));
            return Err(match e {
                TestServerError::NotStarted { what, detail } => TestServerError::NotStarted {
                    what,
                    detail: format!("{detail}\n{console}"),
                },
                other => other,
            });
        }
        Ok(Self {
            child,
            imap_port,
            imaps_port,
            dir,
        })
    }

    /// The IMAP (plain / STARTTLS) port.
    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }

    /// The IMAPS port, when started with TLS.
    pub fn imaps_port(&self) -> Option<u16> {
        self.imaps_port
    }

    /// A reader's configuration for the test user (plain IMAP).
    pub fn config(&self) -> ImapConfig {
        ImapConfig {
            host: "127.0.0.1".into(),
            port: self.imap_port,
            security: Security::Plain,
            username: DOVECOT_USER.into(),
            password: SecretString::from(DOVECOT_PASSWORD),
            folder: "INBOX".into(),
            processed_folder: None,
            timeout: Duration::from_secs(10),
            extra_root_certificates: None,
        }
    }

    /// Put a message into a folder of the test user (IMAP APPEND, LF line
    /// ends made CRLF).
    pub async fn append(&self, folder: &str, raw: &[u8]) -> Result<(), TestServerError> {
        let imap = |e: async_imap::error::Error| TestServerError::Imap(e.to_string());
        let tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, self.imap_port)).await?;
        let mut client = async_imap::Client::new(tcp);
        client
            .read_response()
            .await
            .map_err(|e| TestServerError::Imap(e.to_string()))?;
        let mut session = client
            .login(DOVECOT_USER, DOVECOT_PASSWORD)
            .await
            .map_err(|(e, _)| imap(e))?;
        let text = String::from_utf8_lossy(raw)
            .replace("\r\n", "\n")
            .replace('\n', "\r\n");
        session
            .append(folder, None, None, text.as_bytes())
            .await
            .map_err(imap)?;
        session.logout().await.map_err(imap)?;
        Ok(())
    }

    /// The names of the messages in a folder's Maildir (`cur` and `new`),
    /// to check what the reader did without IMAP.
    pub fn maildir_files(&self, folder: &str) -> Vec<String> {
        let base = self.dir.path().join("mail/Maildir");
        let dir = if folder.eq_ignore_ascii_case("INBOX") {
            base
        } else {
            base.join(format!(".{folder}"))
        };
        let mut names: Vec<String> = ["cur", "new"]
            .iter()
            .flat_map(|sub| std::fs::read_dir(dir.join(sub)).into_iter().flatten().flatten())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Dovecot {
    /// SIGTERM, so the master stops its children, then wait briefly;
    /// `kill_on_drop` sends SIGKILL if it is still there.
    fn drop(&mut self) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}
