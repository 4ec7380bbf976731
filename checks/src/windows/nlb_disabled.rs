//! TestID 1.1.16 `Network Load Balancing`: the Network Load Balancing feature (NLB) must not be installed.

use crate::meta::Meta;
use crate::windows::feature::{FEATURE_META, FeatureNotInstalled};

/// `nlb-disabled`: `Get-WindowsFeature NLB` is not installed.
pub static NLB_DISABLED: FeatureNotInstalled = FeatureNotInstalled {
    meta: Meta {
        id: "nlb-disabled",
        title: "Network Load Balancing not installed",
        test_id: Some("1.1.16"),
        test_case_name: Some("Network Load Balancing"),
        description: "Network Load Balancing. This server feature isn't yet supported. The application shouldn't be dependent on this feature.",
        rationale: "Test case `Network Load Balancing` of Microsoft's certification test tool (research/cert-cases.md section 3.1, S7); Azure networking does not carry the multicast/MAC tricks NLB relies on. Its TestID was not published (vmcert numbers it 1.1.16) and the feature name `NLB` is vmcert's reading.",
        remediation: "Remove it before capturing the image: `Uninstall-WindowsFeature -Name NLB -Restart`, then generalize again. If the application needs it, ask for a certification exception.",
        ..FEATURE_META
    },
    features: &["NLB"],
    required: "Network Load Balancing feature is disabled",
};
