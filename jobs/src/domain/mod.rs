//! Domain types: parsed once at the edge, trusted everywhere after.

mod country;
mod domain_name;
mod email;
mod prospect;
mod score;

pub use country::{CountryCode, InvalidCountry};
pub use domain_name::{Domain, DomainError};
pub use email::{EmailAddress, EmailError};
pub use prospect::{ProspectId, ProspectStatus, UnknownProspectStatus};
pub use score::{InvalidScore, Score};
