//! TestID 1.1.6 `Failover Cluster`: the Failover Clustering feature (Failover-Clustering) must not be installed.

use crate::meta::Meta;
use crate::windows::feature::{FEATURE_META, FeatureNotInstalled};

/// `failover-clustering-disabled`: `Get-WindowsFeature Failover-Clustering` is not installed.
pub static FAILOVER_CLUSTERING_DISABLED: FeatureNotInstalled = FeatureNotInstalled {
    meta: Meta {
        id: "failover-clustering-disabled",
        title: "Failover Clustering not installed",
        test_id: Some("1.1.6"),
        test_case_name: Some("Failover Cluster"),
        description: "The Windows Server failover clustering feature isn't yet supported. The application shouldn't be dependent on this feature.",
        rationale: "TestID 1.1.6 `Failover Cluster` of Microsoft's certification test tool and self-test API (research/cert-cases.md section 3.1; actual `Disabled`, required `Failover Clustering feature is disabled` from the self-test API sample, S4). The feature name `Failover-Clustering` is vmcert's reading; the tool's command was not published.",
        remediation: "Remove it before capturing the image: `Uninstall-WindowsFeature -Name Failover-Clustering -Restart`, then generalize again. If the application needs it, ask for a certification exception.",
        ..FEATURE_META
    },
    features: &["Failover-Clustering"],
    required: "Failover Clustering feature is disabled",
};
