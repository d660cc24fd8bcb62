//! The `[screenshot]` configuration section.
//!
//! Every key has a default, so an empty section is a working setup; an
//! unknown key is an error (a typo must not silently fall back to a
//! default). Durations are written like `"15s"` or `"500ms"`.

use std::{path::PathBuf, time::Duration};

use ipnet::IpNet;
use serde::Deserialize;

use crate::audit::FormFactor;

/// Everything the capture engine, the analysis and the media store read.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScreenshotSettings {
    /// The Chromium executable (Debian's wrapper script execs the real
    /// binary, so its pid is the browser's).
    pub chromium_path: PathBuf,
    /// Chromium's flags. The engine adds `--user-data-dir` (a fresh
    /// directory per browser) and `--remote-debugging-port=0` itself.
    pub flags: Vec<String>,
    /// Appended to `flags`, so a deployment can add one without restating
    /// the list.
    pub extra_flags: Vec<String>,
    /// Where each browser's fresh profile directory is made (the system
    /// temporary directory when unset).
    pub work_dir: Option<PathBuf>,
    /// A launched browser must publish its DevTools endpoint within this.
    #[serde(with = "humantime_serde")]
    pub launch_timeout: Duration,
    /// A browser is replaced by a fresh one after this many captures, which
    /// bounds what a leak in a long-lived Chromium can cost.
    pub recycle_after: u32,
    /// Per-capture limits.
    pub limits: CaptureLimits,
    /// The desktop capture: 1366×768 at DPR 1.
    pub desktop: Viewport,
    /// The mobile capture: 390×844 at DPR 3, a phone's user agent, touch.
    pub mobile: Viewport,
    /// Output pixels: CSS pixels (default) or device pixels.
    pub scale: ScreenshotScale,
    /// Thumbnail and perceptual hash.
    pub analysis: AnalysisSettings,
    /// Which private networks captures may reach.
    pub network: NetworkSettings,
    /// Where PNGs and thumbnails are stored.
    pub store: MediaStoreConfig,
}

impl Default for ScreenshotSettings {
    fn default() -> Self {
        Self {
            chromium_path: PathBuf::from("/usr/bin/chromium"),
            flags: default_flags(),
            extra_flags: Vec::new(),
            work_dir: None,
            launch_timeout: Duration::from_secs(15),
            recycle_after: 200,
            limits: CaptureLimits::default(),
            desktop: Viewport::desktop(),
            mobile: Viewport::mobile(),
            scale: ScreenshotScale::Css,
            analysis: AnalysisSettings::default(),
            network: NetworkSettings::default(),
            store: MediaStoreConfig::default(),
        }
    }
}

impl ScreenshotSettings {
    /// The viewport of a form factor.
    pub fn viewport(&self, form_factor: FormFactor) -> &Viewport {
        match form_factor {
            FormFactor::Desktop => &self.desktop,
            FormFactor::Mobile => &self.mobile,
        }
    }

    /// `flags` then `extra_flags`.
    pub fn all_flags(&self) -> impl Iterator<Item = &str> {
        self.flags.iter().chain(&self.extra_flags).map(String::as_str)
    }
}

/// Chromium flags that work offline on this kind of machine (see
/// `NOTES-machine.md`), plus what stable screenshots need: hidden
/// scrollbars, an sRGB colour profile, no background throttling, no
/// permission prompts, and same-process iframes (so the request guard on
/// the page session sees every frame's requests).
pub fn default_flags() -> Vec<String> {
    [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--disable-default-apps",
        "--disable-breakpad",
        "--mute-audio",
        "--hide-scrollbars",
        "--force-color-profile=srgb",
        "--disable-background-timer-throttling",
        "--disable-backgrounding-occluded-windows",
        "--disable-renderer-backgrounding",
        "--deny-permission-prompts",
        "--password-store=basic",
        "--use-mock-keychain",
        "--noerrdialogs",
        "--disable-features=Translate,MediaRouter,OptimizationHints,DialMediaRouteProvider,IsolateOrigins,site-per-process",
        "--host-resolver-rules=MAP accounts.google.com ~NOTFOUND, MAP *.googleapis.com ~NOTFOUND, MAP clients2.google.com ~NOTFOUND",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// How long each step of one capture may take. The steps are nested in
/// `total`: when it runs out the browser is killed (its state is unknown)
/// and the capture fails with a transient timeout.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureLimits {
    /// Navigation until the `load` event. A page still loading then (a
    /// server that drip-feeds bytes) is captured as it is, marked
    /// `load_complete = false`; a page that sent no response by then is a
    /// navigation timeout.
    #[serde(with = "humantime_serde")]
    pub load_timeout: Duration,
    /// Waiting for `document.fonts.ready` and two animation frames.
    #[serde(with = "humantime_serde")]
    pub fonts_timeout: Duration,
    /// A fixed pause after fonts, for late layout (lazy hero images, web
    /// fonts swapping in). Animations and transitions are disabled first.
    #[serde(with = "humantime_serde")]
    pub settle: Duration,
    /// The whole capture, browser start included.
    #[serde(with = "humantime_serde")]
    pub total_timeout: Duration,
    /// Full-page captures stop at this many CSS pixels of page height.
    pub max_height_css: u32,
    /// Navigations after `load` (scripts or meta refresh that move the page)
    /// followed at most before capturing what is there.
    pub max_late_navigations: u32,
}

impl Default for CaptureLimits {
    fn default() -> Self {
        Self {
            load_timeout: Duration::from_secs(15),
            fonts_timeout: Duration::from_secs(3),
            settle: Duration::from_millis(250),
            total_timeout: Duration::from_secs(45),
            max_height_css: 16_000,
            max_late_navigations: 3,
        }
    }
}

/// One emulated screen.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Viewport {
    /// CSS pixels.
    pub width: u32,
    /// CSS pixels.
    pub height: u32,
    /// Device pixel ratio.
    pub device_scale_factor: f64,
    /// Chromium's mobile emulation: meta viewport honoured, overlay
    /// scrollbars, text autosizing, touch events.
    pub mobile: bool,
    /// `User-Agent`; `{chrome_major}` is replaced by the browser's major
    /// version so the string stays plausible as Chromium is upgraded.
    pub user_agent: String,
    /// `navigator.platform` and the `Sec-CH-UA-Platform` client hint.
    pub platform: String,
    /// The device model for `Sec-CH-UA-Model` (empty on desktop).
    #[serde(default)]
    pub model: String,
}

impl Viewport {
    /// A common laptop screen.
    pub fn desktop() -> Self {
        Self {
            width: 1366,
            height: 768,
            device_scale_factor: 1.0,
            mobile: false,
            user_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                         Chrome/{chrome_major}.0.0.0 Safari/537.36"
                .to_owned(),
            platform: "Linux".to_owned(),
            model: String::new(),
        }
    }

    /// A current phone (the iPhone 13–15 CSS size) with an Android Chrome
    /// user agent: the engine is Blink, so claiming Chrome on Android keeps
    /// browser sniffing consistent with what the page actually runs in.
    pub fn mobile() -> Self {
        Self {
            width: 390,
            height: 844,
            device_scale_factor: 3.0,
            mobile: true,
            user_agent: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
                         Chrome/{chrome_major}.0.0.0 Mobile Safari/537.36"
                .to_owned(),
            platform: "Android".to_owned(),
            model: "Pixel 8".to_owned(),
        }
    }

    /// The user agent for a browser of `chrome_major`.
    pub fn user_agent_for(&self, chrome_major: &str) -> String {
        self.user_agent.replace("{chrome_major}", chrome_major)
    }
}

/// The pixel size of the output image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScreenshotScale {
    /// One image pixel per CSS pixel (a 390-wide mobile capture is 390
    /// pixels wide; the page is still rendered at the emulated DPR, so
    /// `srcset` and resolution media queries behave as on the phone).
    Css,
    /// One image pixel per device pixel (390 × DPR 3 = 1170 wide).
    Device,
}

/// Thumbnail, perceptual hash and refusal thresholds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalysisSettings {
    /// Thumbnail width in pixels (of the first screen of the page).
    pub thumbnail_width: u32,
    /// JPEG quality of the thumbnail (1–100).
    pub thumbnail_quality: u8,
    /// A capture whose sampled pixels are at least this fraction within
    /// `colour_tolerance` of one colour is refused as blank / one colour.
    pub uniform_fraction: f64,
    /// Largest per-channel difference (0–255) still counted as the same
    /// colour.
    pub colour_tolerance: u8,
    /// Pixels sampled at most (on a grid) for the uniformity test.
    pub max_samples: u32,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        Self {
            thumbnail_width: 400,
            thumbnail_quality: 75,
            uniform_fraction: 0.99,
            colour_tolerance: 8,
            max_samples: 40_000,
        }
    }
}

/// Which addresses pages (and their sub-requests) may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSettings {
    /// Let captures reach any address, private ones included (a trusted
    /// local demo only).
    pub allow_private: bool,
    /// Non-public networks captures may reach anyway (tests: loopback).
    pub allow_networks: Vec<IpNet>,
}

/// The media store backend.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum MediaStoreConfig {
    /// Files under a local directory.
    Local {
        /// The root directory (created when missing).
        dir: PathBuf,
    },
    /// An S3-compatible bucket. Credentials come from the standard AWS
    /// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`), never from the configuration file.
    S3 {
        /// The bucket.
        bucket: String,
        /// The region (`us-east-1`, or what the provider expects).
        #[serde(default = "default_region")]
        region: String,
        /// A custom endpoint (MinIO, R2, Ceph…); AWS when unset.
        #[serde(default)]
        endpoint: Option<String>,
        /// A key prefix inside the bucket (`screenshots/`).
        #[serde(default)]
        prefix: String,
        /// Allow a plain-http endpoint (a local MinIO).
        #[serde(default)]
        allow_http: bool,
        /// Path-style requests (`endpoint/bucket/key`), which most
        /// S3-compatible servers need.
        #[serde(default = "default_true")]
        path_style: bool,
    },
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

fn default_true() -> bool {
    true
}

impl Default for MediaStoreConfig {
    fn default() -> Self {
        MediaStoreConfig::Local {
            dir: PathBuf::from("media"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_section_is_the_default() {
        let settings: ScreenshotSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(settings, ScreenshotSettings::default());
        assert_eq!(settings.desktop.width, 1366);
        assert_eq!(settings.mobile.device_scale_factor, 3.0);
        assert!(settings.mobile.mobile);
        assert_eq!(settings.limits.max_height_css, 16_000);
    }

    #[test]
    fn durations_networks_and_the_store_parse_from_their_written_form() {
        let settings: ScreenshotSettings = serde_json::from_value(serde_json::json!({
            "limits": {"load_timeout": "5s", "settle": "100ms", "max_height_css": 9000},
            "network": {"allow_networks": ["127.0.0.0/8", "::1/128"]},
            "store": {"kind": "s3", "bucket": "shots", "endpoint": "http://127.0.0.1:9000",
                      "allow_http": true, "prefix": "screenshots/"},
            "scale": "device",
        }))
        .unwrap();
        assert_eq!(settings.limits.load_timeout, Duration::from_secs(5));
        assert_eq!(settings.limits.settle, Duration::from_millis(100));
        assert_eq!(settings.limits.max_height_css, 9000);
        // Unset keys of a partly given section keep their defaults.
        assert_eq!(settings.limits.total_timeout, Duration::from_secs(45));
        assert_eq!(settings.network.allow_networks.len(), 2);
        assert_eq!(settings.scale, ScreenshotScale::Device);
        assert_eq!(
            settings.store,
            MediaStoreConfig::S3 {
                bucket: "shots".into(),
                region: "us-east-1".into(),
                endpoint: Some("http://127.0.0.1:9000".into()),
                prefix: "screenshots/".into(),
                allow_http: true,
                path_style: true,
            }
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_their_name() {
        for (json, needle) in [
            (r#"{"chromium": "/bin/x"}"#, "chromium"),
            (r#"{"limits": {"load_timout": "5s"}}"#, "load_timout"),
            (r#"{"limits": {"load_timeout": "soon"}}"#, "soon"),
            (r#"{"network": {"allow_networks": ["10.0.0.0/33"]}}"#, "invalid"),
            (r#"{"store": {"kind": "ftp"}}"#, "ftp"),
            (r#"{"store": {"kind": "s3"}}"#, "bucket"),
            (r#"{"scale": "huge"}"#, "huge"),
        ] {
            let error = serde_json::from_str::<ScreenshotSettings>(json).unwrap_err();
            assert!(error.to_string().contains(needle), "{json}: {error}");
        }
    }

    #[test]
    fn the_user_agent_names_the_running_chrome() {
        let ua = Viewport::mobile().user_agent_for("156");
        assert!(ua.contains("Chrome/156.0.0.0 Mobile"), "{ua}");
        assert!(!ua.contains('{'));
    }
}
