use std::collections::BTreeSet;

named_enum! {
    /// A role a token may grant within its workspace.
    pub enum Role {
        WorkspaceAdmin => "WORKSPACE_ADMIN",
        Developer => "DEVELOPER",
        Viewer => "VIEWER",
        ReleaseApprover => "RELEASE_APPROVER",
    }
}

/// Who is calling: the subject of a verified token, the one workspace it may
/// see, and the roles it holds there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub workspace_id: String,
    pub roles: BTreeSet<Role>,
}

impl Principal {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Every role of the workspace reads; a token without any known role
    /// reads nothing but itself.
    pub fn may_read(&self) -> bool {
        !self.roles.is_empty()
    }

    pub fn may_create_mini_program(&self) -> bool {
        self.has_role(Role::WorkspaceAdmin)
    }

    pub fn may_change_update_mode(&self) -> bool {
        self.has_role(Role::WorkspaceAdmin)
    }

    pub fn may_create_version(&self) -> bool {
        self.has_role(Role::WorkspaceAdmin) || self.has_role(Role::Developer)
    }

    pub fn may_submit_version(&self) -> bool {
        self.may_create_version()
    }

    pub fn may_decide_release(&self) -> bool {
        self.has_role(Role::ReleaseApprover) || self.has_role(Role::WorkspaceAdmin)
    }

    pub fn may_release(&self) -> bool {
        self.has_role(Role::WorkspaceAdmin)
    }

    pub fn may_manage_integrations(&self) -> bool {
        self.has_role(Role::WorkspaceAdmin)
    }

    pub fn may_read_audit_log(&self) -> bool {
        self.has_role(Role::WorkspaceAdmin)
    }
}

#[cfg(test)]
pub(crate) fn principal_with(roles: &[Role]) -> Principal {
    Principal {
        subject: "alice".into(),
        workspace_id: "acme".into(),
        roles: roles.iter().copied().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip() {
        for &role in Role::ALL {
            assert_eq!(Role::from_name(role.as_str()), Some(role));
        }
        assert_eq!(Role::from_name("workspace_admin"), None);
        assert_eq!(Role::from_name("OWNER"), None);
    }

    #[test]
    fn only_admins_change_update_modes_and_create_programs() {
        assert!(principal_with(&[Role::WorkspaceAdmin]).may_change_update_mode());
        assert!(principal_with(&[Role::WorkspaceAdmin]).may_create_mini_program());
        for role in [Role::Developer, Role::Viewer, Role::ReleaseApprover] {
            assert!(!principal_with(&[role]).may_change_update_mode());
            assert!(!principal_with(&[role]).may_create_mini_program());
        }
    }

    #[test]
    fn admins_and_developers_create_and_submit_versions() {
        for role in [Role::WorkspaceAdmin, Role::Developer] {
            assert!(principal_with(&[role]).may_create_version());
            assert!(principal_with(&[role]).may_submit_version());
        }
        for role in [Role::Viewer, Role::ReleaseApprover] {
            assert!(!principal_with(&[role]).may_create_version());
            assert!(!principal_with(&[role]).may_submit_version());
        }
    }

    #[test]
    fn approvers_and_admins_decide_and_only_admins_release() {
        for role in [Role::ReleaseApprover, Role::WorkspaceAdmin] {
            assert!(principal_with(&[role]).may_decide_release());
        }
        for role in [Role::Developer, Role::Viewer] {
            assert!(!principal_with(&[role]).may_decide_release());
        }
        assert!(principal_with(&[Role::WorkspaceAdmin]).may_release());
        for role in [Role::ReleaseApprover, Role::Developer, Role::Viewer] {
            assert!(!principal_with(&[role]).may_release());
        }
    }

    #[test]
    fn any_known_role_reads_and_none_does_not() {
        for &role in Role::ALL {
            assert!(principal_with(&[role]).may_read());
        }
        assert!(!principal_with(&[]).may_read());
    }
}
