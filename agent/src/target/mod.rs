//! Kinds of target a run can certify besides the transports of [`crate::transport`]: a disk
//! image read offline ([`image`]).

pub(crate) mod image;
