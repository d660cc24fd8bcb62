//! Colours that pass WCAG contrast, by construction.
//!
//! A persona's palette is a starting point, never trusted: WebMagic's tables
//! fail WCAG (NOTES-round2 §3.2). [`Palette::repaired`] moves each
//! foreground colour toward black or white in OKLab (lightness and chroma go
//! down together, hue is kept) just far enough to reach its target against
//! every background it is used on: 4.5:1 for text, 3:1 for UI parts. The
//! ratios are stored with the palette ([`ContrastCheck`]) so the quality gate
//! and a reviewer can read them.
//!
//! Contrast follows WCAG 2.x: relative luminance from linearised sRGB,
//! ratio `(L1 + 0.05) / (L2 + 0.05)`. OKLab follows Björn Ottosson's
//! published matrices.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Minimum contrast for body text (WCAG 1.4.3).
pub const TEXT_MIN: f64 = 4.5;
/// Minimum contrast for UI components and focus indicators (WCAG 1.4.11).
pub const UI_MIN: f64 = 3.0;

/// An sRGB colour, serialized as `#rrggbb`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rgb {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
}

/// A colour string that is not `#rgb` or `#rrggbb`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a #rrggbb colour")]
pub struct InvalidColour(String);

impl Rgb {
    /// Black.
    pub const BLACK: Rgb = Rgb { r: 0, g: 0, b: 0 };
    /// White.
    pub const WHITE: Rgb = Rgb {
        r: 255,
        g: 255,
        b: 255,
    };

    /// Parse `#rrggbb` or `#rgb` (case-insensitive).
    pub fn parse(hex: &str) -> Result<Rgb, InvalidColour> {
        let err = || InvalidColour(hex.chars().take(16).collect());
        let digits = hex.strip_prefix('#').ok_or_else(err)?;
        if !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(err());
        }
        let channel = |s: &str| u8::from_str_radix(s, 16).map_err(|_| err());
        match digits.len() {
            6 => Ok(Rgb {
                r: channel(&digits[0..2])?,
                g: channel(&digits[2..4])?,
                b: channel(&digits[4..6])?,
            }),
            3 => {
                let expand = |i: usize| channel(&digits[i..=i].repeat(2));
                Ok(Rgb {
                    r: expand(0)?,
                    g: expand(1)?,
                    b: expand(2)?,
                })
            }
            _ => Err(err()),
        }
    }

    /// WCAG relative luminance, 0 (black) to 1 (white).
    pub fn luminance(self) -> f64 {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(self.r) + 0.7152 * lin(self.g) + 0.0722 * lin(self.b)
    }

    fn to_oklab(self) -> [f64; 3] {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let (r, g, b) = (lin(self.r), lin(self.g), lin(self.b));
        let l = (0.412_221_470_8 * r + 0.536_332_536_3 * g + 0.051_445_992_9 * b).cbrt();
        let m = (0.211_903_498_2 * r + 0.680_699_545_1 * g + 0.107_396_956_6 * b).cbrt();
        let s = (0.088_302_461_9 * r + 0.281_718_837_6 * g + 0.629_978_700_5 * b).cbrt();
        [
            0.210_454_255_3 * l + 0.793_617_785_0 * m - 0.004_072_046_8 * s,
            1.977_998_495_1 * l - 2.428_592_205_0 * m + 0.450_593_709_9 * s,
            0.025_904_037_1 * l + 0.782_771_766_2 * m - 0.808_675_766_0 * s,
        ]
    }

    fn from_oklab([ll, a, b]: [f64; 3]) -> Rgb {
        let l = (ll + 0.396_337_777_4 * a + 0.215_803_757_3 * b).powi(3);
        let m = (ll - 0.105_561_345_8 * a - 0.063_854_172_8 * b).powi(3);
        let s = (ll - 0.089_484_177_5 * a - 1.291_485_548_0 * b).powi(3);
        let r = 4.076_741_662_1 * l - 3.307_711_591_3 * m + 0.230_969_929_2 * s;
        let g = -1.268_438_004_6 * l + 2.609_757_401_1 * m - 0.341_319_396_5 * s;
        let bl = -0.004_196_086_3 * l - 0.703_418_614_7 * m + 1.707_614_701_0 * s;
        let encode = |c: f64| {
            let c = c.clamp(0.0, 1.0);
            let c = if c <= 0.003_130_8 {
                12.92 * c
            } else {
                1.055 * c.powf(1.0 / 2.4) - 0.055
            };
            (c * 255.0).round().clamp(0.0, 255.0) as u8
        };
        Rgb {
            r: encode(r),
            g: encode(g),
            b: encode(bl),
        }
    }

    /// OKLCH lightness, 0–1 (for ordering, not for contrast).
    pub fn oklch_lightness(self) -> f64 {
        self.to_oklab()[0]
    }

    /// Mix toward `end` in OKLab, `t` from 0 (self) to 1 (end): the way
    /// lightness is moved while the hue is kept.
    pub fn mix(self, end: Rgb, t: f64) -> Rgb {
        let (a, b) = (self.to_oklab(), end.to_oklab());
        Rgb::from_oklab([
            a[0] + (b[0] - a[0]) * t,
            a[1] + (b[1] - a[1]) * t,
            a[2] + (b[2] - a[2]) * t,
        ])
    }

    /// `#rrggbb`.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

impl fmt::Debug for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Display for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl TryFrom<String> for Rgb {
    type Error = InvalidColour;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Rgb::parse(&value)
    }
}

impl From<Rgb> for String {
    fn from(value: Rgb) -> Self {
        value.hex()
    }
}

/// WCAG 2.x contrast ratio, 1 to 21, symmetric.
pub fn contrast_ratio(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (a.luminance(), b.luminance());
    let (hi, lo) = if la >= lb { (la, lb) } else { (lb, la) };
    (hi + 0.05) / (lo + 0.05)
}

/// The ratio rounded down to two decimals, as stored and shown: rounding
/// down means a stored 4.50 is never a real 4.499.
fn floor2(ratio: f64) -> f64 {
    (ratio * 100.0).floor() / 100.0
}

/// Move `fg` toward black or white until it reaches `target` against every
/// colour in `backgrounds`, changing it as little as possible. When no shade
/// of its hue reaches the target, the result is black or white, whichever
/// contrasts more (always ≥ 4.58:1 against any single colour).
pub fn repair(fg: Rgb, backgrounds: &[Rgb], target: f64) -> Rgb {
    let worst = |c: Rgb| {
        backgrounds
            .iter()
            .map(|b| contrast_ratio(c, *b))
            .fold(f64::INFINITY, f64::min)
    };
    if worst(fg) >= target {
        return fg;
    }
    let mut best: Option<(f64, Rgb)> = None;
    for end in [Rgb::BLACK, Rgb::WHITE] {
        if worst(end) < target {
            continue;
        }
        // Smallest t with worst(mix(t)) >= target; contrast grows with t
        // toward the end that works, so bisection finds it.
        let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
        for _ in 0..32 {
            let mid = (lo + hi) / 2.0;
            if worst(fg.mix(end, mid)) >= target {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        let candidate = if worst(fg.mix(end, hi)) >= target {
            fg.mix(end, hi)
        } else {
            end
        };
        if best.is_none_or(|(t, _)| hi < t) {
            best = Some((hi, candidate));
        }
    }
    match best {
        Some((_, colour)) => colour,
        None => {
            if worst(Rgb::BLACK) >= worst(Rgb::WHITE) {
                Rgb::BLACK
            } else {
                Rgb::WHITE
            }
        }
    }
}

/// Every colour role a theme uses. Each role that carries text or UI has its
/// backgrounds listed in [`Palette::pairs`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Palette {
    /// Page background.
    pub background: Rgb,
    /// Cards and alternate sections.
    pub surface: Rgb,
    /// Body text.
    pub text: Rgb,
    /// Secondary text (captions, dates).
    pub muted: Rgb,
    /// Brand colour: links, buttons.
    pub primary: Rgb,
    /// Text on primary buttons and bands.
    pub on_primary: Rgb,
    /// Second brand colour: buttons and marks on dark sections.
    pub accent: Rgb,
    /// Text on accent buttons.
    pub on_accent: Rgb,
    /// Dark sections (hero of some themes, footer).
    pub dark: Rgb,
    /// Text on dark sections.
    pub on_dark: Rgb,
    /// Hairlines and card borders (decorative, no contrast target).
    pub border: Rgb,
}

/// One checked foreground/background pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContrastCheck {
    /// `"text/background"` and so on.
    pub pair: String,
    /// Foreground colour.
    pub foreground: Rgb,
    /// Background colour.
    pub background: Rgb,
    /// Ratio, rounded down to two decimals.
    pub ratio: f64,
    /// Target for this pair.
    pub required: f64,
    /// `ratio >= required`.
    pub passes: bool,
}

impl Palette {
    /// The pairs a theme may put on screen, with their targets.
    pub fn pairs(&self) -> Vec<(&'static str, Rgb, Rgb, f64)> {
        vec![
            ("text/background", self.text, self.background, TEXT_MIN),
            ("text/surface", self.text, self.surface, TEXT_MIN),
            ("muted/background", self.muted, self.background, TEXT_MIN),
            ("muted/surface", self.muted, self.surface, TEXT_MIN),
            ("primary/background", self.primary, self.background, TEXT_MIN),
            ("primary/surface", self.primary, self.surface, TEXT_MIN),
            ("on_primary/primary", self.on_primary, self.primary, TEXT_MIN),
            ("on_accent/accent", self.on_accent, self.accent, TEXT_MIN),
            ("on_dark/dark", self.on_dark, self.dark, TEXT_MIN),
            ("accent/dark", self.accent, self.dark, UI_MIN),
            ("background/primary", self.background, self.primary, TEXT_MIN),
        ]
    }

    /// Check every pair.
    pub fn checks(&self) -> Vec<ContrastCheck> {
        self.pairs()
            .into_iter()
            .map(|(pair, fg, bg, required)| {
                let ratio = floor2(contrast_ratio(fg, bg));
                ContrastCheck {
                    pair: pair.to_owned(),
                    foreground: fg,
                    background: bg,
                    ratio,
                    required,
                    passes: ratio >= required,
                }
            })
            .collect()
    }

    /// Repair the palette so that every pair in [`Palette::pairs`] passes.
    ///
    /// Backgrounds (`background`, `surface`, `dark`) stay as designed;
    /// foregrounds move. Order matters: `primary` is fixed against the light
    /// backgrounds before `on_primary` is chosen against it, and likewise for
    /// `accent` against `dark`.
    pub fn repaired(&self) -> Palette {
        // Targets a hair above the minimum so that 8-bit rounding and the
        // two-decimal floor never turn a pass into a fail.
        let text_target = TEXT_MIN + 0.02;
        let ui_target = UI_MIN + 0.02;
        let light = [self.background, self.surface];
        let mut p = self.clone();
        p.text = repair(p.text, &light, text_target.max(7.0));
        p.muted = repair(p.muted, &light, text_target);
        p.primary = repair(p.primary, &light, text_target);
        p.on_primary = repair(p.on_primary, &[p.primary], text_target);
        p.on_dark = repair(p.on_dark, &[p.dark], text_target);
        p.accent = repair(p.accent, &[p.dark], ui_target);
        p.on_accent = repair(p.on_accent, &[p.accent], text_target);
        // A last resort that cannot fail: black or white on each background.
        for (fg, bg) in [
            (&mut p.text, self.background),
            (&mut p.muted, self.background),
            (&mut p.on_primary, p.primary),
            (&mut p.on_dark, p.dark),
            (&mut p.on_accent, p.accent),
        ] {
            if floor2(contrast_ratio(*fg, bg)) < TEXT_MIN {
                *fg = repair(*fg, &[bg], TEXT_MIN + 0.02);
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn c(hex: &str) -> Rgb {
        Rgb::parse(hex).unwrap()
    }

    #[test]
    fn known_contrast_ratios() {
        assert!((contrast_ratio(Rgb::WHITE, Rgb::BLACK) - 21.0).abs() < 1e-9);
        assert!((contrast_ratio(c("#777777"), Rgb::WHITE) - 4.478).abs() < 0.01);
        assert!((contrast_ratio(c("#767676"), Rgb::WHITE) - 4.54).abs() < 0.01);
        assert!((contrast_ratio(c("#0000ff"), Rgb::WHITE) - 8.59).abs() < 0.01);
        assert!((contrast_ratio(c("#ff0000"), Rgb::WHITE) - 4.0).abs() < 0.01);
        assert_eq!(contrast_ratio(c("#123456"), c("#123456")), 1.0);
        assert_eq!(
            contrast_ratio(c("#abc"), c("#000")),
            contrast_ratio(c("#000"), c("#aabbcc"))
        );
    }

    #[test]
    fn luminance_endpoints() {
        assert_eq!(Rgb::BLACK.luminance(), 0.0);
        assert!((Rgb::WHITE.luminance() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn hex_round_trip_and_errors() {
        assert_eq!(c("#A1b2C3").hex(), "#a1b2c3");
        assert_eq!(c("#fff"), Rgb::WHITE);
        for bad in ["fff", "#ffff", "#gggggg", "#", "", "#ffffff00", "#é12345"] {
            assert!(Rgb::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn oklab_round_trip_is_close() {
        for hex in ["#000000", "#ffffff", "#c0392b", "#2e86de", "#10ac84", "#f6e58d"] {
            let x = c(hex);
            let back = Rgb::from_oklab(x.to_oklab());
            assert!(
                (i16::from(x.r) - i16::from(back.r)).abs() <= 1
                    && (i16::from(x.g) - i16::from(back.g)).abs() <= 1
                    && (i16::from(x.b) - i16::from(back.b)).abs() <= 1,
                "{hex} -> {back}"
            );
        }
    }

    #[test]
    fn webmagic_accent_on_white_is_repaired_and_keeps_its_hue_family() {
        // Rapid Response's accent: 1.41:1 on white in WebMagic's table.
        let accent = c("#ffc312");
        assert!(contrast_ratio(accent, Rgb::WHITE) < 1.8);
        let fixed = repair(accent, &[Rgb::WHITE], TEXT_MIN);
        assert!(contrast_ratio(fixed, Rgb::WHITE) >= TEXT_MIN);
        assert!(fixed.r > fixed.b, "still a warm colour: {fixed}");
        // A passing colour is left alone.
        assert_eq!(repair(c("#1e3a5f"), &[Rgb::WHITE], TEXT_MIN), c("#1e3a5f"));
    }

    #[test]
    fn repair_against_a_mid_grey_falls_back_to_black_or_white() {
        let grey = c("#777777");
        let fixed = repair(grey, &[grey], TEXT_MIN);
        assert!(contrast_ratio(fixed, grey) >= TEXT_MIN, "{fixed}");
    }

    fn any_rgb() -> impl Strategy<Value = Rgb> {
        (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(r, g, b)| Rgb { r, g, b })
    }

    fn light_rgb() -> impl Strategy<Value = Rgb> {
        (200u8..=255, 200u8..=255, 200u8..=255).prop_map(|(r, g, b)| Rgb { r, g, b })
    }

    fn dark_rgb() -> impl Strategy<Value = Rgb> {
        (0u8..=60, 0u8..=60, 0u8..=60).prop_map(|(r, g, b)| Rgb { r, g, b })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn every_repaired_palette_passes_every_pair(
            background in light_rgb(), surface in light_rgb(), dark in dark_rgb(),
            text in any_rgb(), muted in any_rgb(), primary in any_rgb(), on_primary in any_rgb(),
            accent in any_rgb(), on_accent in any_rgb(), on_dark in any_rgb(), border in any_rgb(),
        ) {
            let p = Palette { background, surface, text, muted, primary, on_primary, accent, on_accent, dark, on_dark, border }
                .repaired();
            for check in p.checks() {
                prop_assert!(check.passes, "{} {} on {}: {}", check.pair, check.foreground, check.background, check.ratio);
            }
        }

        #[test]
        fn repair_always_reaches_text_contrast_against_one_background(fg in any_rgb(), bg in any_rgb()) {
            let fixed = repair(fg, &[bg], TEXT_MIN);
            prop_assert!(contrast_ratio(fixed, bg) >= TEXT_MIN);
        }
    }
}
