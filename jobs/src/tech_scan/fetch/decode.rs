//! Bodies to text: bounded decompression, then charset decoding.

use std::{io::Read, sync::LazyLock};

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Decompression would exceed the cap: a decompression bomb or a huge page.
    #[error(
        "the {encoding}-compressed body ({compressed} bytes) expands beyond the {limit}-byte decompression limit"
    )]
    TooLarge {
        /// Content-Encoding.
        encoding: String,
        /// Bytes on the wire.
        compressed: usize,
        /// `tech_scan.max_decompressed_bytes`.
        limit: usize,
    },
    /// The body is not valid for its Content-Encoding.
    #[error("the body is not valid {encoding} data: {detail}")]
    Corrupt {
        /// Content-Encoding.
        encoding: String,
        /// Decoder message.
        detail: String,
    },
    /// A Content-Encoding we did not ask for.
    #[error("unsupported Content-Encoding `{0}`")]
    Unsupported(String),
}

/// Undo `Content-Encoding` (gzip, deflate, br; several in order), never
/// producing more than `limit` bytes.
pub fn decompress(
    content_encoding: Option<&str>,
    body: Vec<u8>,
    limit: usize,
) -> Result<Vec<u8>, DecodeError> {
    let Some(header) = content_encoding else {
        return Ok(body);
    };
    let codings: Vec<String> = header
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect();
    let mut data = body;
    // Codings are listed in the order they were applied: undo from the end.
    for coding in codings.iter().rev() {
        let compressed = data.len();
        let reader: Box<dyn Read + '_> = match coding.as_str() {
            "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(&data[..])),
            "deflate" => {
                // "deflate" is meant to be zlib-wrapped; some servers send raw.
                if data.len() >= 2
                    && (u16::from(data[0]) << 8 | u16::from(data[1])) % 31 == 0
                    && data[0] & 0x0f == 8
                {
                    Box::new(flate2::read::ZlibDecoder::new(&data[..]))
                } else {
                    Box::new(flate2::read::DeflateDecoder::new(&data[..]))
                }
            }
            "br" => Box::new(brotli_decompressor::Decompressor::new(&data[..], 4096)),
            other => return Err(DecodeError::Unsupported(other.chars().take(40).collect())),
        };
        let mut out = Vec::with_capacity(compressed.saturating_mul(4).min(limit));
        let read = reader
            .take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| DecodeError::Corrupt {
                encoding: coding.clone(),
                detail: e.to_string(),
            })?;
        if read > limit {
            return Err(DecodeError::TooLarge {
                encoding: coding.clone(),
                compressed,
                limit,
            });
        }
        data = out;
    }
    Ok(data)
}

static META_CHARSET: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
    // Invariant: a constant, valid pattern.
    #[allow(clippy::unwrap_used)]
    regex::bytes::Regex::new(r#"(?i)<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_:.\-]+)"#).unwrap()
});

/// Decode `body` to text: BOM, then the Content-Type charset, then a
/// `<meta charset>` in the first 1024 bytes, then UTF-8 if valid, else
/// windows-1252. Returns the text and the encoding's name.
pub fn decode_text(body: &[u8], content_type: Option<&str>) -> (String, &'static str) {
    let encoding = Encoding::for_bom(body)
        .map(|(e, _)| e)
        .or_else(|| {
            content_type
                .and_then(charset_param)
                .and_then(|label| Encoding::for_label(label.as_bytes()))
        })
        .or_else(|| {
            let head = &body[..body.len().min(1024)];
            META_CHARSET
                .captures(head)
                .and_then(|c| c.get(1))
                .and_then(|m| Encoding::for_label(m.as_bytes()))
                // A page cannot declare itself UTF-16 in its own markup.
                .map(|e| if e.name().starts_with("UTF-16") { UTF_8 } else { e })
        })
        .unwrap_or_else(|| {
            if std::str::from_utf8(body).is_ok() {
                UTF_8
            } else {
                WINDOWS_1252
            }
        });
    let (text, used, _had_errors) = encoding.decode(body);
    (text.into_owned(), used.name())
}

fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        (name.trim().eq_ignore_ascii_case("charset"))
            .then(|| value.trim().trim_matches(['"', '\'']).to_owned())
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_and_deflate_bodies_are_decompressed() {
        let page = b"<html>hello</html>".repeat(10);
        assert_eq!(decompress(Some("gzip"), gzip(&page), 1 << 20).unwrap(), page);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&page).unwrap();
        assert_eq!(
            decompress(Some("deflate"), z.finish().unwrap(), 1 << 20).unwrap(),
            page
        );
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(&page).unwrap();
        assert_eq!(
            decompress(Some("deflate"), raw.finish().unwrap(), 1 << 20).unwrap(),
            page
        );
        assert_eq!(decompress(None, page.clone(), 1).unwrap(), page);
    }

    #[test]
    fn a_decompression_bomb_stops_at_the_limit() {
        let bomb = gzip(&vec![0u8; 50 << 20]);
        assert!(bomb.len() < 100 << 10);
        let err = decompress(Some("gzip"), bomb, 4 << 20).unwrap_err();
        assert!(
            matches!(err, DecodeError::TooLarge { limit, .. } if limit == 4 << 20),
            "{err}"
        );
    }

    #[test]
    fn corrupt_and_unknown_encodings_are_errors() {
        assert!(matches!(
            decompress(Some("gzip"), b"not gzip".to_vec(), 100),
            Err(DecodeError::Corrupt { .. })
        ));
        assert!(matches!(
            decompress(Some("zstd"), b"x".to_vec(), 100),
            Err(DecodeError::Unsupported(_))
        ));
    }

    #[test]
    fn charsets_come_from_header_meta_or_content() {
        // "Café" in windows-1252, declared in the header.
        let latin = b"<p>Caf\xe9</p>";
        assert_eq!(
            decode_text(latin, Some("text/html; charset=ISO-8859-1")),
            ("<p>Café</p>".to_owned(), "windows-1252")
        );
        // Declared in a meta tag.
        let meta = b"<meta charset=\"iso-8859-15\"><p>\xa4</p>";
        assert_eq!(
            decode_text(meta, Some("text/html")).0,
            "<meta charset=\"iso-8859-15\"><p>€</p>"
        );
        let http_equiv =
            b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=Shift_JIS\">\x93\xfa";
        assert!(decode_text(http_equiv, None).0.ends_with('日'));
        // Undeclared: UTF-8 when valid, else windows-1252.
        assert_eq!(
            decode_text("Grüße".as_bytes(), None),
            ("Grüße".to_owned(), "UTF-8")
        );
        assert_eq!(
            decode_text(b"Gr\xfc\xdfe", None),
            ("Grüße".to_owned(), "windows-1252")
        );
        // A BOM wins.
        assert_eq!(
            decode_text(b"\xef\xbb\xbfok", Some("text/html; charset=latin1")).0,
            "ok"
        );
    }
}
