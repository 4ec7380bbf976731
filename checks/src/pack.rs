//! User-defined checks from TOML check packs (parsed and evaluated purely).
