//! Whether a lead may get a cold e-mail, by the recipient's country.
//!
//! Each country with a profile says one of: cold e-mail to a business is
//! allowed on an opt-out basis (US CAN-SPAM: identify the sender, give a
//! postal address and a working unsubscribe — [`message`](super::message)
//! adds both); it needs recorded consent, and without it the lead goes to
//! another channel (phone, letter); or it is not done at all. A country
//! without a profile is refused: sending is opt-in per jurisdiction, never
//! by default. The defaults ([`default_profiles`]) are a conservative
//! starting point, not legal advice; the configuration overrides them.

use std::{collections::HashMap, fmt};

use serde::{Deserialize, Serialize};

use crate::domain::CountryCode;

/// The legal ground a send rests on (recorded with the send).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LawfulBasis {
    /// Allowed unless the recipient opted out (CAN-SPAM).
    OptOut,
    /// Legitimate interest (GDPR art. 6(1)(f)) with an easy objection.
    LegitimateInterest,
    /// The recipient's recorded consent.
    Consent,
}

impl LawfulBasis {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LawfulBasis::OptOut => "opt_out",
            LawfulBasis::LegitimateInterest => "legitimate_interest",
            LawfulBasis::Consent => "consent",
        }
    }
}

/// Another way to reach a lead (`campaigns.channel` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A phone call.
    Phone,
    /// A letter.
    Letter,
    /// An SMS.
    Sms,
}

impl Channel {
    /// The `campaigns.channel` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Phone => "phone",
            Channel::Letter => "letter",
            Channel::Sms => "sms",
        }
    }
}

/// What a country's rules say about cold e-mail to businesses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cold_email", rename_all = "snake_case", deny_unknown_fields)]
pub enum ComplianceProfile {
    /// Allowed without prior consent, on this basis (with identification,
    /// postal address and opt-out in every message).
    Allowed {
        /// Recorded with the send.
        lawful_basis: LawfulBasis,
    },
    /// Only with recorded consent; otherwise the lead goes to `fallback`.
    ConsentRequired {
        /// The channel used without consent.
        fallback: Channel,
    },
    /// Never.
    Forbidden,
}

/// Whether the lead gave consent we can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// Consent is recorded (when, how: kept by the caller).
    Recorded,
    /// None recorded.
    None,
}

/// Why a lead is not e-mailed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum NotEmailed {
    /// The lead's country is unknown.
    UnknownCountry,
    /// No profile is configured for the country.
    NoProfile {
        /// The country.
        country: String,
    },
    /// The country needs consent and none is recorded.
    ConsentRequired {
        /// The country.
        country: String,
    },
    /// The profile forbids cold e-mail.
    Forbidden {
        /// The country.
        country: String,
    },
}

impl fmt::Display for NotEmailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotEmailed::UnknownCountry => f.write_str("the lead's country is unknown"),
            NotEmailed::NoProfile { country } => write!(f, "no compliance profile for {country}"),
            NotEmailed::ConsentRequired { country } => {
                write!(
                    f,
                    "cold e-mail in {country} needs recorded consent, and none is recorded"
                )
            }
            NotEmailed::Forbidden { country } => write!(f, "cold e-mail is not done in {country}"),
        }
    }
}

/// The outcome for one lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// E-mail them, recording this basis.
    Send {
        /// The basis.
        lawful_basis: LawfulBasis,
    },
    /// Reach them on this channel instead.
    Route(Channel, NotEmailed),
    /// Do not contact them this way at all.
    Refuse(NotEmailed),
}

/// The profiles by country.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ComplianceProfiles(pub HashMap<CountryCode, ComplianceProfile>);

/// US: opt-out (CAN-SPAM); LU, DE, FR: consent required, else phone.
pub fn default_profiles() -> ComplianceProfiles {
    let mut map = HashMap::new();
    let country = |c: &str| CountryCode::parse(c).ok();
    if let Some(us) = country("US") {
        map.insert(
            us,
            ComplianceProfile::Allowed {
                lawful_basis: LawfulBasis::OptOut,
            },
        );
    }
    for code in ["LU", "DE", "FR"] {
        if let Some(c) = country(code) {
            map.insert(
                c,
                ComplianceProfile::ConsentRequired {
                    fallback: Channel::Phone,
                },
            );
        }
    }
    ComplianceProfiles(map)
}

impl ComplianceProfiles {
    /// Decide for a lead in `country` with `consent`.
    pub fn decide(&self, country: Option<CountryCode>, consent: Consent) -> Decision {
        let Some(country) = country else {
            return Decision::Refuse(NotEmailed::UnknownCountry);
        };
        let name = country.as_str().to_owned();
        match self.0.get(&country) {
            None => Decision::Refuse(NotEmailed::NoProfile { country: name }),
            Some(ComplianceProfile::Forbidden) => Decision::Refuse(NotEmailed::Forbidden { country: name }),
            Some(ComplianceProfile::Allowed { lawful_basis }) => Decision::Send {
                lawful_basis: if consent == Consent::Recorded {
                    LawfulBasis::Consent
                } else {
                    *lawful_basis
                },
            },
            Some(ComplianceProfile::ConsentRequired { fallback }) => match consent {
                Consent::Recorded => Decision::Send {
                    lawful_basis: LawfulBasis::Consent,
                },
                Consent::None => Decision::Route(*fallback, NotEmailed::ConsentRequired { country: name }),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(c: &str) -> Option<CountryCode> {
        Some(CountryCode::parse(c).unwrap())
    }

    #[test]
    fn decisions_table() {
        let mut profiles = default_profiles();
        profiles
            .0
            .insert(CountryCode::parse("KP").unwrap(), ComplianceProfile::Forbidden);
        let cases = [
            (
                "US without consent: opt-out",
                cc("US"),
                Consent::None,
                Decision::Send {
                    lawful_basis: LawfulBasis::OptOut,
                },
            ),
            (
                "US with consent: consent",
                cc("US"),
                Consent::Recorded,
                Decision::Send {
                    lawful_basis: LawfulBasis::Consent,
                },
            ),
            (
                "LU without consent: phone",
                cc("LU"),
                Consent::None,
                Decision::Route(
                    Channel::Phone,
                    NotEmailed::ConsentRequired { country: "LU".into() },
                ),
            ),
            (
                "DE with consent: send",
                cc("DE"),
                Consent::Recorded,
                Decision::Send {
                    lawful_basis: LawfulBasis::Consent,
                },
            ),
            (
                "FR without consent: phone",
                cc("FR"),
                Consent::None,
                Decision::Route(
                    Channel::Phone,
                    NotEmailed::ConsentRequired { country: "FR".into() },
                ),
            ),
            (
                "no profile: refused",
                cc("BR"),
                Consent::Recorded,
                Decision::Refuse(NotEmailed::NoProfile { country: "BR".into() }),
            ),
            (
                "forbidden even with consent",
                cc("KP"),
                Consent::Recorded,
                Decision::Refuse(NotEmailed::Forbidden { country: "KP".into() }),
            ),
            (
                "unknown country",
                None,
                Consent::Recorded,
                Decision::Refuse(NotEmailed::UnknownCountry),
            ),
        ];
        for (name, country, consent, expected) in cases {
            assert_eq!(profiles.decide(country, consent), expected, "{name}");
        }
    }

    #[test]
    fn profiles_read_from_config() {
        let profiles: ComplianceProfiles = toml::from_str(
            r#"
            US = { cold_email = "allowed", lawful_basis = "opt_out" }
            gb = { cold_email = "allowed", lawful_basis = "legitimate_interest" }
            DE = { cold_email = "consent_required", fallback = "letter" }
            IT = { cold_email = "forbidden" }
            "#,
        )
        .unwrap();
        assert_eq!(
            profiles.decide(cc("GB"), Consent::None),
            Decision::Send {
                lawful_basis: LawfulBasis::LegitimateInterest
            }
        );
        assert!(matches!(
            profiles.decide(cc("DE"), Consent::None),
            Decision::Route(Channel::Letter, _)
        ));
        assert!(matches!(
            profiles.decide(cc("IT"), Consent::Recorded),
            Decision::Refuse(_)
        ));
        let bad = toml::from_str::<ComplianceProfiles>(r#"USA = { cold_email = "forbidden" }"#);
        assert!(bad.unwrap_err().to_string().contains("USA"));
        let bad = toml::from_str::<ComplianceProfiles>(r#"US = { cold_email = "allowed" }"#);
        assert!(bad.unwrap_err().to_string().contains("lawful_basis"));
        assert_eq!(
            NotEmailed::ConsentRequired { country: "LU".into() }.to_string(),
            "cold e-mail in LU needs recorded consent, and none is recorded"
        );
    }
}
