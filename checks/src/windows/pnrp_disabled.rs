//! TestID 1.1.17 `Peer Name Resolution Protocol`: the Peer Name Resolution Protocol feature (PNRP) must not be installed.

use crate::meta::Meta;
use crate::windows::feature::{FEATURE_META, FeatureNotInstalled};

/// `pnrp-disabled`: `Get-WindowsFeature PNRP` is not installed.
pub static PNRP_DISABLED: FeatureNotInstalled = FeatureNotInstalled {
    meta: Meta {
        id: "pnrp-disabled",
        title: "Peer Name Resolution Protocol not installed",
        test_id: Some("1.1.17"),
        test_case_name: Some("Peer Name Resolution Protocol"),
        description: "Peer Name Resolution Protocol. This server feature isn't yet supported. The application shouldn't be dependent on this feature.",
        rationale: "Test case `Peer Name Resolution Protocol` of Microsoft's certification test tool (research/cert-cases.md section 3.1, S7). Its TestID was not published (vmcert numbers it 1.1.17) and the feature name `PNRP` is vmcert's reading.",
        remediation: "Remove it before capturing the image: `Uninstall-WindowsFeature -Name PNRP -Restart`, then generalize again. If the application needs it, ask for a certification exception.",
        ..FEATURE_META
    },
    features: &["PNRP"],
    required: "Peer Name Resolution Protocol feature is disabled",
};
