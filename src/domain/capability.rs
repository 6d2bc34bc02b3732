//! What a principal may do in its workspace, as one list that clients read
//! instead of copying the role rules: each capability is exactly one of the
//! `Principal::may_*` rules that the services authorize with.

use super::Principal;

named_enum! {
    /// A kind of request that the principal's roles allow.
    pub enum Capability {
        /// Read the workspace: its programs, versions, history, launch answers.
        Read => "READ",
        CreateMiniProgram => "CREATE_MINI_PROGRAM",
        /// Change a program's update mode and update timers (where the
        /// program itself allows it: see its `updateModeLocks`).
        ChangeUpdateMode => "CHANGE_UPDATE_MODE",
        CreateVersion => "CREATE_VERSION",
        SubmitVersion => "SUBMIT_VERSION",
        /// Approve or reject a version that waits for approval.
        DecideRelease => "DECIDE_RELEASE",
        /// Release versions (gray, full, or by a rollout plan), roll releases
        /// back, and take versions offline.
        Release => "RELEASE",
        /// Release integrations and their deliveries, release gates, and
        /// client keys.
        ManageIntegrations => "MANAGE_INTEGRATIONS",
        ReadAuditLog => "READ_AUDIT_LOG",
    }
}

impl Capability {
    /// The rule the services check for this kind of request.
    fn granted_to(self, principal: &Principal) -> bool {
        match self {
            Capability::Read => principal.may_read(),
            Capability::CreateMiniProgram => principal.may_create_mini_program(),
            Capability::ChangeUpdateMode => principal.may_change_update_mode(),
            Capability::CreateVersion => principal.may_create_version(),
            Capability::SubmitVersion => principal.may_submit_version(),
            Capability::DecideRelease => principal.may_decide_release(),
            Capability::Release => principal.may_release(),
            Capability::ManageIntegrations => principal.may_manage_integrations(),
            Capability::ReadAuditLog => principal.may_read_audit_log(),
        }
    }
}

impl Principal {
    /// Everything the principal may do, in a stable order.
    pub fn capabilities(&self) -> Vec<Capability> {
        Capability::ALL
            .iter()
            .copied()
            .filter(|capability| capability.granted_to(self))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;
    use crate::domain::principal::principal_with;

    #[test]
    fn each_role_has_the_capabilities_of_its_rules() {
        use Capability::*;
        let cases: [(&[Role], &[Capability]); 6] = [
            (
                &[Role::WorkspaceAdmin],
                &[
                    Read,
                    CreateMiniProgram,
                    ChangeUpdateMode,
                    CreateVersion,
                    SubmitVersion,
                    DecideRelease,
                    Release,
                    ManageIntegrations,
                    ReadAuditLog,
                ],
            ),
            (&[Role::Developer], &[Read, CreateVersion, SubmitVersion]),
            (&[Role::ReleaseApprover], &[Read, DecideRelease]),
            (&[Role::Viewer], &[Read]),
            (
                &[Role::Developer, Role::ReleaseApprover],
                &[Read, CreateVersion, SubmitVersion, DecideRelease],
            ),
            (&[], &[]),
        ];
        for (roles, expected) in cases {
            assert_eq!(principal_with(roles).capabilities(), expected, "{roles:?}");
        }
    }

    #[test]
    fn names_round_trip() {
        for &capability in Capability::ALL {
            assert_eq!(Capability::from_name(capability.as_str()), Some(capability));
        }
    }
}
