//! A local outbox for the demo: each message becomes an `.eml` file in a
//! directory, written atomically (a temporary file in the same directory,
//! synced, then renamed), so a reader never sees half a message. The file
//! is named after the `Message-ID`, so a retried send overwrites its own
//! file instead of adding a second one. Like a final-delivery server, it
//! prepends `Return-Path` (the VERP sender) and `Delivered-To`.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use futures::{FutureExt, future::BoxFuture};

use super::transport::{Accepted, OutgoingEmail, SendError, SendErrorKind, Transport};

/// Writes messages into a directory.
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
}

fn local_error(what: &str, error: &std::io::Error) -> SendError {
    SendError {
        kind: SendErrorKind::Local,
        code: None,
        message: format!("{what}: {error}"),
    }
}

/// The file name for a Message-ID: its safe characters, at most 200.
fn file_name(message_id: &str) -> String {
    let safe: String = message_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.@+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    let safe = safe.trim_start_matches('.');
    if safe.is_empty() {
        "message.eml".to_owned()
    } else {
        format!("{safe}.eml")
    }
}

impl Outbox {
    /// An outbox in `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn write(dir: &Path, email: &OutgoingEmail) -> Result<PathBuf, SendError> {
        let path = dir.join(file_name(&email.message_id));
        let mut file = tempfile::Builder::new()
            .prefix(".incoming-")
            .tempfile_in(dir)
            .map_err(|e| local_error("cannot create a file in the outbox", &e))?;
        let sender = email.envelope.from().map(ToString::to_string).unwrap_or_default();
        let mut head = format!("Return-Path: <{sender}>\r\n");
        for recipient in email.envelope.to() {
            head.push_str(&format!("Delivered-To: {recipient}\r\n"));
        }
        file.write_all(head.as_bytes())
            .and_then(|()| file.write_all(&email.raw))
            .and_then(|()| file.as_file().sync_all())
            .map_err(|e| local_error("cannot write to the outbox", &e))?;
        file.persist(&path)
            .map_err(|e| local_error("cannot move the message into the outbox", &e.error))?;
        Ok(path)
    }
}

impl Transport for Outbox {
    fn send<'a>(&'a self, email: &'a OutgoingEmail) -> BoxFuture<'a, Result<Accepted, SendError>> {
        async move {
            let dir = self.dir.clone();
            let email = email.clone();
            let path = tokio::task::spawn_blocking(move || Self::write(&dir, &email))
                .await
                .map_err(|e| SendError {
                    kind: SendErrorKind::Local,
                    code: None,
                    message: format!("the outbox writer stopped: {e}"),
                })??;
            Ok(Accepted {
                reply: format!("written to {}", path.display()),
            })
        }
        .boxed()
    }

    fn name(&self) -> &'static str {
        "outbox"
    }
}

#[cfg(test)]
mod tests {
    use lettre::{Address, address::Envelope};

    use super::*;

    fn email(id: &str, body: &str) -> OutgoingEmail {
        let from: Address = "b+token@bounce.example".parse().unwrap();
        let to: Address = "owner@cafe.example".parse().unwrap();
        OutgoingEmail {
            envelope: Envelope::new(Some(from), vec![to]).unwrap(),
            raw: format!("Message-ID: <{id}>\r\nSubject: hi\r\n\r\n{body}\r\n").into_bytes(),
            message_id: id.to_owned(),
        }
    }

    #[tokio::test]
    async fn writes_one_file_per_message_id_with_the_envelope_on_top() {
        // Arrange
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path().join("outbox")).unwrap();

        // Act: one message, the same one again (a retry), and another.
        outbox.send(&email("abc@agency.example", "first")).await.unwrap();
        let accepted = outbox
            .send(&email("abc@agency.example", "retried"))
            .await
            .unwrap();
        outbox
            .send(&email("../../etc/passwd", "hostile id"))
            .await
            .unwrap();

        // Assert
        let mut names: Vec<String> = std::fs::read_dir(outbox.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["_.._etc_passwd.eml", "abc@agency.example.eml"]);
        assert!(
            accepted.reply.ends_with("abc@agency.example.eml"),
            "{}",
            accepted.reply
        );
        let text = std::fs::read_to_string(outbox.dir().join("abc@agency.example.eml")).unwrap();
        assert_eq!(
            text,
            "Return-Path: <b+token@bounce.example>\r\nDelivered-To: owner@cafe.example\r\nMessage-ID: <abc@agency.example>\r\nSubject: hi\r\n\r\nretried\r\n"
        );
        assert_eq!(outbox.name(), "outbox");
    }

    #[tokio::test]
    async fn an_unwritable_outbox_is_a_local_error() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path().join("gone")).unwrap();
        std::fs::remove_dir(outbox.dir()).unwrap();
        let err = outbox.send(&email("x@y.example", "b")).await.unwrap_err();
        assert_eq!(err.kind, SendErrorKind::Local);
        assert!(!err.is_permanent());
    }
}
