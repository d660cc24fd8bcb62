//! What a capture shows: refuse it when it shows nothing (blank, one
//! colour) or Chromium's own error page; otherwise make a thumbnail and a
//! perceptual hash of its first screen.
//!
//! CPU-bound (a full-page PNG can be 1366 × 16 000 pixels): call
//! [`analyse`] from `spawn_blocking`, or [`analyse_blocking_task`].

use std::{collections::HashMap, io::Cursor};

use image::{
    DynamicImage, GenericImageView, ImageFormat, Rgba, codecs::jpeg::JpegEncoder, imageops::FilterType,
};
use image_hasher::{HashAlg, HasherConfig, ImageHash};

use super::{
    error::{CaptureError, Refusal},
    page::Capture,
    settings::AnalysisSettings,
};

/// The perceptual hash: a 16 × 16 gradient hash (256 bits) of the first
/// screen, as 64 lower-case hex digits.
const HASH_SIDE: u32 = 16;

/// The result of a capture worth keeping.
#[derive(Clone)]
pub struct Analysis {
    /// JPEG of the first screen, `thumbnail_width` wide.
    pub thumbnail_jpeg: Vec<u8>,
    /// Thumbnail width in pixels.
    pub thumbnail_width: u32,
    /// Thumbnail height in pixels.
    pub thumbnail_height: u32,
    /// Perceptual hash of the first screen (hex); compare with
    /// [`phash_distance`]. Look-alike pages (parked domains, one template
    /// across many sites) are a few bits apart.
    pub phash: String,
    /// The most common colour of the first screen.
    pub dominant_rgb: [u8; 3],
    /// Share of the sampled first-screen pixels near that colour (0–1).
    pub dominant_fraction: f64,
}

impl std::fmt::Debug for Analysis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analysis")
            .field("thumbnail_bytes", &self.thumbnail_jpeg.len())
            .field("thumbnail_width", &self.thumbnail_width)
            .field("thumbnail_height", &self.thumbnail_height)
            .field("phash", &self.phash)
            .field("dominant_rgb", &self.dominant_rgb)
            .field("dominant_fraction", &self.dominant_fraction)
            .finish()
    }
}

/// Why two hashes cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhashError {
    /// Not hex digits.
    #[error("`{0}` is not a hex perceptual hash")]
    NotHex(String),
    /// Hashes of different sizes.
    #[error("the hashes have different lengths ({0} and {1} bits)")]
    LengthsDiffer(usize, usize),
}

/// The number of differing bits between two [`Analysis::phash`] values
/// (0 = identical; for 256-bit hashes, under ~20 is "the same page").
pub fn phash_distance(a: &str, b: &str) -> Result<u32, PhashError> {
    let decode =
        |h: &str| hex::decode(h.trim()).map_err(|_| PhashError::NotHex(h.chars().take(80).collect()));
    let (a, b) = (decode(a)?, decode(b)?);
    if a.len() != b.len() {
        return Err(PhashError::LengthsDiffer(a.len() * 8, b.len() * 8));
    }
    Ok(a.iter().zip(&b).map(|(x, y)| (x ^ y).count_ones()).sum())
}

/// Analyse a capture: refuse error pages, blank and one-colour pages;
/// thumbnail and hash the rest.
pub fn analyse(capture: &Capture, settings: &AnalysisSettings) -> Result<Analysis, CaptureError> {
    if capture.final_url.scheme() == "chrome-error" {
        return Err(CaptureError::Refused(Refusal::BrowserErrorPage {
            url: capture.requested_url.to_string(),
            code: "Chromium's error page".to_owned(),
            http_status: capture.http_status,
        }));
    }
    let image = image::load_from_memory_with_format(&capture.png, ImageFormat::Png)
        .map_err(|e| CaptureError::Image(format!("cannot decode the screenshot: {e}")))?;
    let (width, height) = image.dimensions();
    if width == 0 || height == 0 {
        return Err(CaptureError::Image("the screenshot is empty".to_owned()));
    }
    // The first screen, in image pixels, keeps the viewport's proportions.
    let viewport = &capture.viewport;
    let screen = (f64::from(width) * f64::from(viewport.height) / f64::from(viewport.width.max(1)))
        .round()
        .clamp(1.0, f64::from(height)) as u32;
    let first = image.crop_imm(0, 0, width, screen);

    let (dominant_rgb, dominant_fraction) = dominant_colour(&first, settings);
    if dominant_fraction >= settings.uniform_fraction {
        let percent = dominant_fraction * 100.0;
        return Err(CaptureError::Refused(if dominant_rgb.iter().all(|c| *c >= 245) {
            Refusal::Blank { percent }
        } else {
            Refusal::OneColour {
                rgb: dominant_rgb,
                percent,
            }
        }));
    }

    let thumbnail_width = settings.thumbnail_width.clamp(16, width.max(16));
    let thumbnail_height =
        ((f64::from(screen) * f64::from(thumbnail_width) / f64::from(width)).round() as u32).max(1);
    let thumbnail = first.resize_exact(thumbnail_width, thumbnail_height, FilterType::Triangle);
    let mut thumbnail_jpeg = Vec::new();
    JpegEncoder::new_with_quality(
        &mut Cursor::new(&mut thumbnail_jpeg),
        settings.thumbnail_quality.clamp(1, 100),
    )
    .encode_image(&DynamicImage::ImageRgb8(thumbnail.to_rgb8()))
    .map_err(|e| CaptureError::Image(format!("cannot encode the thumbnail: {e}")))?;

    let hasher = HasherConfig::new()
        .hash_alg(HashAlg::Gradient)
        .hash_size(HASH_SIDE, HASH_SIDE)
        .to_hasher();
    let hash: ImageHash = hasher.hash_image(&first);
    Ok(Analysis {
        thumbnail_jpeg,
        thumbnail_width,
        thumbnail_height,
        phash: hex::encode(hash.as_bytes()),
        dominant_rgb,
        dominant_fraction,
    })
}

/// [`analyse`] on the blocking pool, so a large PNG does not stall the
/// runtime.
pub async fn analyse_blocking_task(
    capture: std::sync::Arc<Capture>,
    settings: AnalysisSettings,
) -> Result<Analysis, CaptureError> {
    tokio::task::spawn_blocking(move || analyse(&capture, &settings))
        .await
        .map_err(|e| CaptureError::Image(format!("the analysis task failed: {e}")))?
}

/// The most common colour on a sampling grid (5 bits per channel), and the
/// share of samples within `colour_tolerance` of it.
fn dominant_colour(image: &DynamicImage, settings: &AnalysisSettings) -> ([u8; 3], f64) {
    let (width, height) = image.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    let wanted = u64::from(settings.max_samples.max(100));
    let step = ((pixels as f64 / wanted as f64).sqrt().floor() as u32).max(1);
    let mut samples = Vec::new();
    let mut y = step / 2;
    while y < height {
        let mut x = step / 2;
        while x < width {
            samples.push(opaque(image.get_pixel(x, y)));
            x += step;
        }
        y += step;
    }
    if samples.is_empty() {
        return ([255, 255, 255], 1.0);
    }
    let mut bins: HashMap<u16, (u32, [u64; 3])> = HashMap::new();
    for [r, g, b] in &samples {
        let key = (u16::from(r >> 3) << 10) | (u16::from(g >> 3) << 5) | u16::from(b >> 3);
        let bin = bins.entry(key).or_insert((0, [0; 3]));
        bin.0 += 1;
        bin.1[0] += u64::from(*r);
        bin.1[1] += u64::from(*g);
        bin.1[2] += u64::from(*b);
    }
    let Some((count, sums)) = bins.values().max_by_key(|(count, _)| *count) else {
        return ([255, 255, 255], 1.0);
    };
    let n = u64::from(*count).max(1);
    let colour = [(sums[0] / n) as u8, (sums[1] / n) as u8, (sums[2] / n) as u8];
    let tolerance = settings.colour_tolerance;
    let near = samples
        .iter()
        .filter(|p| p.iter().zip(&colour).all(|(a, b)| a.abs_diff(*b) <= tolerance))
        .count();
    (colour, near as f64 / samples.len() as f64)
}

/// A pixel composited over white (a transparent screenshot reads as
/// blank).
fn opaque(Rgba([r, g, b, a]): Rgba<u8>) -> [u8; 3] {
    let blend = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
    [blend(r), blend(g), blend(b)]
}

#[cfg(test)]
mod tests {
    use image::{ImageBuffer, RgbImage};
    use url::Url;

    use super::*;
    use crate::{
        audit::FormFactor,
        screenshot::settings::{ScreenshotScale, Viewport},
    };

    fn capture_of(image: RgbImage) -> Capture {
        let mut png = Vec::new();
        DynamicImage::ImageRgb8(image.clone())
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let url = Url::parse("https://shop.example/").unwrap();
        Capture {
            png,
            width: image.width(),
            height: image.height(),
            css_width: image.width(),
            css_height: image.height(),
            truncated: false,
            form_factor: FormFactor::Desktop,
            viewport: Viewport {
                width: 400,
                height: 300,
                ..Viewport::desktop()
            },
            scale: ScreenshotScale::Css,
            requested_url: url.clone(),
            final_url: url,
            title: String::new(),
            http_status: Some(200),
            load_complete: true,
            navigated_after_load: false,
            left_origin: false,
            dialogs_dismissed: 0,
            downloads_denied: 0,
            blocked_requests: Vec::new(),
            blocked_total: 0,
            duration: std::time::Duration::ZERO,
        }
    }

    /// A page-like image: a dark header, a hero with a gradient, text-like
    /// stripes on white.
    fn page_like(width: u32, height: u32, hue: u8) -> RgbImage {
        ImageBuffer::from_fn(width, height, |x, y| {
            if y < 60 {
                image::Rgb([20, 30, hue])
            } else if y < 250 {
                image::Rgb([(x * 255 / width) as u8, hue, 200])
            } else if (y / 12) % 2 == 0 && x % 97 < 80 {
                image::Rgb([40, 40, 40])
            } else {
                image::Rgb([255, 255, 255])
            }
        })
    }

    #[test]
    fn a_white_page_is_blank_and_a_flat_colour_is_one_colour() {
        let settings = AnalysisSettings::default();
        let white = capture_of(ImageBuffer::from_pixel(400, 900, image::Rgb([255, 255, 255])));
        match analyse(&white, &settings).unwrap_err() {
            CaptureError::Refused(Refusal::Blank { percent }) => assert!(percent > 99.0),
            other => panic!("{other}"),
        }
        // Nearly flat: a little noise within the tolerance is still one colour.
        let green = capture_of(ImageBuffer::from_fn(400, 300, |x, y| {
            image::Rgb([((x + y) % 3) as u8, 128, 0])
        }));
        match analyse(&green, &settings).unwrap_err() {
            CaptureError::Refused(Refusal::OneColour { rgb, .. }) => {
                assert!(rgb[0] <= 2 && rgb[1] == 128 && rgb[2] == 0, "{rgb:?}")
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_page_gets_a_thumbnail_of_its_first_screen_and_a_hash() {
        // Arrange: a 400-wide page, 3 screens tall (screen = 300 px).
        let capture = capture_of(page_like(400, 900, 90));

        // Act
        let analysis = analyse(&capture, &AnalysisSettings::default()).unwrap();

        // Assert
        assert_eq!(analysis.thumbnail_width, 400);
        assert_eq!(analysis.thumbnail_height, 300);
        let thumb = image::load_from_memory_with_format(&analysis.thumbnail_jpeg, ImageFormat::Jpeg).unwrap();
        assert_eq!(thumb.dimensions(), (400, 300));
        assert_eq!(analysis.phash.len(), 64);
        assert!(analysis.dominant_fraction < 0.99);
    }

    #[test]
    fn the_thumbnail_is_scaled_to_its_configured_width() {
        let capture = capture_of(page_like(1366, 2000, 90));
        let mut viewport = Viewport::desktop();
        viewport.width = 1366;
        viewport.height = 768;
        let capture = Capture { viewport, ..capture };
        let analysis = analyse(&capture, &AnalysisSettings::default()).unwrap();
        assert_eq!((analysis.thumbnail_width, analysis.thumbnail_height), (400, 225));
    }

    #[test]
    fn look_alike_pages_hash_close_and_different_pages_far() {
        let settings = AnalysisSettings::default();
        let a = analyse(&capture_of(page_like(400, 300, 90)), &settings).unwrap();
        let b = analyse(&capture_of(page_like(400, 300, 100)), &settings).unwrap();
        // A different layout: vertical bands instead of a header and text.
        let other = capture_of(ImageBuffer::from_fn(400, 300, |x, y| {
            if (x / 50) % 2 == 0 {
                image::Rgb([200, (y % 256) as u8, 30])
            } else {
                image::Rgb([10, 10, 10])
            }
        }));
        let c = analyse(&other, &settings).unwrap();
        assert_eq!(phash_distance(&a.phash, &a.phash).unwrap(), 0);
        let close = phash_distance(&a.phash, &b.phash).unwrap();
        let far = phash_distance(&a.phash, &c.phash).unwrap();
        assert!(close < 20, "look-alikes {close}");
        assert!(far > 60, "different pages {far}");
    }

    #[test]
    fn bad_hashes_are_typed_errors() {
        assert!(matches!(phash_distance("zz", "00"), Err(PhashError::NotHex(_))));
        assert_eq!(
            phash_distance("00ff", "00"),
            Err(PhashError::LengthsDiffer(16, 8))
        );
        assert_eq!(phash_distance("0f", "ff").unwrap(), 4);
    }

    #[test]
    fn a_corrupt_png_is_an_image_error_not_a_panic() {
        let mut capture = capture_of(page_like(400, 300, 90));
        capture.png.truncate(100);
        assert!(matches!(
            analyse(&capture, &AnalysisSettings::default()),
            Err(CaptureError::Image(_))
        ));
        capture.png = b"not a png at all".to_vec();
        assert!(matches!(
            analyse(&capture, &AnalysisSettings::default()),
            Err(CaptureError::Image(_))
        ));
    }
}
