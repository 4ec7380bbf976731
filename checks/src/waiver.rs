//! Waivers: accepted exceptions for a check, with a justification and an expiry date.
