//! Partner Center's rules for the SAS URL of a submitted VHD ([`rules`]), and the parsing and
//! redaction of such URLs ([`url`]): pure, so every part of vmcert that prints a URL can redact
//! its signature the same way.

pub mod rules;
pub mod url;
