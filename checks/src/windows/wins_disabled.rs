//! TestID 1.1.19 `Windows Internet Name Service`: the WINS Server feature (WINS) must not be installed.

use crate::meta::Meta;
use crate::windows::feature::{FEATURE_META, FeatureNotInstalled};

/// `wins-disabled`: `Get-WindowsFeature WINS` is not installed.
pub static WINS_DISABLED: FeatureNotInstalled = FeatureNotInstalled {
    meta: Meta {
        id: "wins-disabled",
        title: "WINS Server not installed",
        test_id: Some("1.1.19"),
        test_case_name: Some("Windows Internet Name Service"),
        description: "Windows Internet Name Service. This server feature isn't yet supported. The application shouldn't be dependent on this feature.",
        rationale: "Test case `Windows Internet Name Service` of Microsoft's certification test tool (research/cert-cases.md section 3.1, S7). Its TestID was not published (vmcert numbers it 1.1.19) and the feature name `WINS` is vmcert's reading.",
        remediation: "Remove it before capturing the image: `Uninstall-WindowsFeature -Name WINS -Restart`, then generalize again. If the application needs it, ask for a certification exception.",
        ..FEATURE_META
    },
    features: &["WINS"],
    required: "WINS Server feature is disabled",
};
