//! Azure's rules for a VHD before it is submitted, on facts read from the disk: the footer
//! ([`footer`]), the partition table ([`partition`]) and the rules themselves ([`rules`]). Pure:
//! the agent reads the bytes (a local file or ranged GETs of a SAS URL) and hands them here, so
//! the same rules serve `vmcert vhd inspect` and any other reader of a disk.

pub mod build;
pub mod footer;
pub mod partition;
#[cfg(test)]
mod props;
pub mod rules;
