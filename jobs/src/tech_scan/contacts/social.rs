//! Links to the business's own profiles on social networks (not share
//! buttons, pixels or policy pages).

use url::Url;

/// Networks we recognise: (host suffix, label).
const NETWORKS: &[(&str, &str)] = &[
    ("facebook.com", "Facebook"),
    ("fb.com", "Facebook"),
    ("instagram.com", "Instagram"),
    ("linkedin.com", "LinkedIn"),
    ("twitter.com", "X"),
    ("x.com", "X"),
    ("youtube.com", "YouTube"),
    ("tiktok.com", "TikTok"),
    ("pinterest.com", "Pinterest"),
    ("xing.com", "XING"),
    ("threads.net", "Threads"),
    ("vimeo.com", "Vimeo"),
    ("linktr.ee", "Linktree"),
];

/// Path segments of pages that are not a profile.
const NOT_PROFILES: &[&str] = &[
    "sharer",
    "sharer.php",
    "share",
    "share.php",
    "sharearticle",
    "intent",
    "dialog",
    "plugins",
    "tr",
    "policy",
    "policies",
    "privacy",
    "legal",
    "terms",
    "login",
    "signup",
    "home.php",
    "hashtag",
    "search",
    "watch",
    "embed",
    "explore",
    "help",
    "about",
    "settings",
    "i",
    "p",
    "reel",
    "status",
    "events",
    "groups",
    "photo",
    "photo.php",
    "story.php",
    "permalink.php",
    "legal_notice",
    "cookies",
];

/// The network's name, when `url` is a profile on one.
pub fn network(url: &Url) -> Option<&'static str> {
    let host = url.host_str()?.to_ascii_lowercase();
    NETWORKS
        .iter()
        .find(|(suffix, _)| host == *suffix || host.ends_with(&format!(".{suffix}")))
        .map(|(_, label)| *label)
}

/// Longest profile URL kept (`prospect_contacts.value` is VARCHAR(500)).
const MAX_PROFILE_URL: usize = 500;

/// The normalised profile URL and its network, if `url` is a profile link.
pub fn profile(url: &Url) -> Option<(String, &'static str)> {
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let label = network(url)?;
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    let first = segments.first()?.to_ascii_lowercase();
    if NOT_PROFILES.contains(&first.as_str()) {
        return None;
    }
    let host = url.host_str()?.to_ascii_lowercase();
    let host = ["www.", "m.", "mobile.", "web."]
        .iter()
        .find_map(|p| host.strip_prefix(p))
        .map_or(host.clone(), str::to_owned);
    if label == "Facebook" && first == "profile.php" {
        let id = url.query_pairs().find(|(k, _)| k == "id")?.1.into_owned();
        return bounded(format!("https://{host}/profile.php?id={id}"), label);
    }
    // How many path segments name the profile.
    let keep = match label {
        "LinkedIn" if ["company", "in", "school", "showcase"].contains(&first.as_str()) => 2,
        "LinkedIn" => return None,
        "YouTube" if first.starts_with('@') => 1,
        "YouTube" if ["channel", "c", "user"].contains(&first.as_str()) => 2,
        "YouTube" => return None,
        "Facebook" if first == "pages" => 3,
        _ => 1,
    };
    if segments.len() < keep {
        return None;
    }
    bounded(format!("https://{host}/{}", segments[..keep].join("/")), label)
}

/// The profile, unless it is too long to store.
fn bounded(profile: String, label: &'static str) -> Option<(String, &'static str)> {
    (profile.chars().count() <= MAX_PROFILE_URL).then_some((profile, label))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<String> {
        profile(&Url::parse(s).unwrap()).map(|(u, _)| u)
    }

    #[test]
    fn profiles_are_kept_and_normalised() {
        assert_eq!(
            p("https://m.facebook.com/BoulangerieDupont/?ref=page").as_deref(),
            Some("https://facebook.com/BoulangerieDupont")
        );
        assert_eq!(
            p("https://www.instagram.com/dupont.lu/").as_deref(),
            Some("https://instagram.com/dupont.lu")
        );
        assert_eq!(
            p("https://www.linkedin.com/company/dupont-sarl/").as_deref(),
            Some("https://linkedin.com/company/dupont-sarl")
        );
        assert_eq!(
            p("https://www.facebook.com/profile.php?id=1000123").as_deref(),
            Some("https://facebook.com/profile.php?id=1000123")
        );
        assert_eq!(network(&Url::parse("https://x.com/dupont").unwrap()), Some("X"));
    }

    #[test]
    fn share_buttons_and_pixels_are_not_profiles() {
        for link in [
            "https://www.facebook.com/sharer/sharer.php?u=https://dupont.lu",
            "https://twitter.com/intent/tweet?text=hi",
            "https://www.linkedin.com/shareArticle?url=x",
            "https://www.facebook.com/tr?id=123&ev=PageView",
            "https://www.youtube.com/watch?v=abc",
            "https://www.facebook.com/",
            "https://www.instagram.com/p/Cabc123/",
            "https://www.linkedin.com/feed/",
            "https://example.lu/facebook.com/x",
        ] {
            assert_eq!(p(link), None, "{link}");
        }
    }
}
