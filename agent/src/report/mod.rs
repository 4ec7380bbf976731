//! The report: the `results.json` model and everything rendered from it into the zip.

pub(crate) mod model;
