//! TestID 1.1.15 `Multipath I/O`: the Multipath I/O feature (Multipath-IO) must not be installed.

use crate::meta::Meta;
use crate::windows::feature::{FEATURE_META, FeatureNotInstalled};

/// `multipath-io-disabled`: `Get-WindowsFeature Multipath-IO` is not installed.
pub static MULTIPATH_IO_DISABLED: FeatureNotInstalled = FeatureNotInstalled {
    meta: Meta {
        id: "multipath-io-disabled",
        title: "Multipath I/O not installed",
        test_id: Some("1.1.15"),
        test_case_name: Some("Multipath I/O"),
        description: "Multipath I/O. This server feature isn't yet supported. The application shouldn't be dependent on this feature.",
        rationale: "Test case `Multipath I/O` of Microsoft's certification test tool (research/cert-cases.md section 3.1, S7); Azure disks have one path. Its TestID was not published (vmcert numbers it 1.1.15) and the feature name `Multipath-IO` is vmcert's reading.",
        remediation: "Remove it before capturing the image: `Uninstall-WindowsFeature -Name Multipath-IO -Restart`, then generalize again. If the application needs it, ask for a certification exception.",
        ..FEATURE_META
    },
    features: &["Multipath-IO"],
    required: "Multipath I/O feature is disabled",
};
