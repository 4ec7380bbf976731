//! TestID 1.1.9 `Hyper-V`: the Hyper-V feature (Hyper-V) must not be installed.

use crate::meta::Meta;
use crate::windows::feature::{FEATURE_META, FeatureNotInstalled};

/// `hyper-v-disabled`: `Get-WindowsFeature Hyper-V` is not installed.
pub static HYPER_V_DISABLED: FeatureNotInstalled = FeatureNotInstalled {
    meta: Meta {
        id: "hyper-v-disabled",
        title: "Hyper-V role not installed",
        test_id: Some("1.1.9"),
        test_case_name: Some("Hyper-V"),
        description: "Hyper-V Server role isn't yet supported. The application shouldn't be dependent on this feature.",
        rationale: "Test case `Hyper-V` of Microsoft's certification test tool (research/cert-cases.md section 3.1, S7 and S9; absent from the 2021 list S8). Its TestID was not published (vmcert numbers it 1.1.9) and the feature name `Hyper-V` is vmcert's reading.",
        remediation: "Remove it before capturing the image: `Uninstall-WindowsFeature -Name Hyper-V -Restart`, then generalize again. If the application needs it, ask for a certification exception.",
        ..FEATURE_META
    },
    features: &["Hyper-V"],
    required: "Hyper-V feature is disabled",
};
