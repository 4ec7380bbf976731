//! TestID 1.1.14 `Internet Storage Name Server`: the iSNS Server service feature (ISNS) must not be installed.

use crate::meta::Meta;
use crate::windows::feature::{FEATURE_META, FeatureNotInstalled};

/// `isns-disabled`: `Get-WindowsFeature ISNS` is not installed.
pub static ISNS_DISABLED: FeatureNotInstalled = FeatureNotInstalled {
    meta: Meta {
        id: "isns-disabled",
        title: "iSNS Server service not installed",
        test_id: Some("1.1.14"),
        test_case_name: Some("Internet Storage Name Server"),
        description: "The Internet Storage Name Server feature isn't yet supported. The application shouldn't be dependent on this feature.",
        rationale: "Test case `Internet Storage Name Server` of Microsoft's certification test tool (research/cert-cases.md section 3.1, S7). Its TestID was not published (vmcert numbers it 1.1.14) and the feature name `ISNS` is vmcert's reading.",
        remediation: "Remove it before capturing the image: `Uninstall-WindowsFeature -Name ISNS -Restart`, then generalize again. If the application needs it, ask for a certification exception.",
        ..FEATURE_META
    },
    features: &["ISNS"],
    required: "iSNS Server service feature is disabled",
};
