//! Roles and application permissions, and what each may do (SPEC §1.5).

/// A directory role, identified on the wire by Entra's role template id (`wids`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    GlobalAdministrator,
    BillingAdministrator,
    GlobalReader,
}

impl Role {
    pub const ALL: [Role; 3] = [
        Role::GlobalAdministrator,
        Role::BillingAdministrator,
        Role::GlobalReader,
    ];

    pub fn template_id(self) -> &'static str {
        match self {
            Role::GlobalAdministrator => "62e90394-69f5-4237-9190-012177145e10",
            Role::BillingAdministrator => "b0f54661-2d74-4c50-afa3-1ec803f12efe",
            Role::GlobalReader => "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Role::GlobalAdministrator => "Global Administrator",
            Role::BillingAdministrator => "Billing Administrator",
            Role::GlobalReader => "Global Reader",
        }
    }

    pub fn from_template_id(id: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.template_id().eq_ignore_ascii_case(id))
    }

    /// A role by template id or by name, with or without spaces, case-insensitively.
    pub fn parse(s: &str) -> Option<Role> {
        let squashed: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        Role::from_template_id(s).or_else(|| {
            Role::ALL.into_iter().find(|r| {
                r.display_name()
                    .replace(' ', "")
                    .eq_ignore_ascii_case(&squashed)
            })
        })
    }
}

/// An application permission (the `roles` claim of an app-only token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppPermission {
    PolicyRead,
    PolicyReadWrite,
}

impl AppPermission {
    pub fn as_str(self) -> &'static str {
        match self {
            AppPermission::PolicyRead => "Policy.Read.AllowSelfServicePurchase",
            AppPermission::PolicyReadWrite => "Policy.ReadWrite.AllowSelfServicePurchase",
        }
    }

    pub fn parse(s: &str) -> Option<AppPermission> {
        [AppPermission::PolicyRead, AppPermission::PolicyReadWrite]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
    }
}

/// What a caller may do with the policies of its own tenant: the role table of §1.5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access {
    pub read_policies: bool,
    pub write_policies: bool,
    pub write_default: bool,
}

impl Access {
    pub fn for_roles(roles: &[Role]) -> Access {
        let mut a = Access::default();
        for role in roles {
            match role {
                Role::GlobalAdministrator => {
                    a.read_policies = true;
                    a.write_policies = true;
                    a.write_default = true;
                }
                Role::BillingAdministrator => {
                    a.read_policies = true;
                    a.write_policies = true;
                }
                Role::GlobalReader => a.read_policies = true,
            }
        }
        a
    }

    /// An application with `Policy.ReadWrite…` writes product values and the tenant default: it is
    /// the tenant's automation, granted by an administrator who could do both.
    pub fn for_app_permissions(perms: &[AppPermission]) -> Access {
        let mut a = Access::default();
        for p in perms {
            a.read_policies = true;
            if *p == AppPermission::PolicyReadWrite {
                a.write_policies = true;
                a.write_default = true;
            }
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_table_of_the_spec() {
        let ga = Access::for_roles(&[Role::GlobalAdministrator]);
        assert!(ga.read_policies && ga.write_policies && ga.write_default);
        let billing = Access::for_roles(&[Role::BillingAdministrator]);
        assert!(billing.read_policies && billing.write_policies && !billing.write_default);
        let reader = Access::for_roles(&[Role::GlobalReader]);
        assert!(reader.read_policies && !reader.write_policies && !reader.write_default);
        assert_eq!(Access::for_roles(&[]), Access::default());
    }

    #[test]
    fn roles_combine() {
        let a = Access::for_roles(&[Role::GlobalReader, Role::BillingAdministrator]);
        assert!(a.write_policies && !a.write_default);
    }

    #[test]
    fn roles_parse_by_template_id_or_name() {
        assert_eq!(
            Role::parse("62E90394-69F5-4237-9190-012177145E10"),
            Some(Role::GlobalAdministrator)
        );
        assert_eq!(Role::parse("global reader"), Some(Role::GlobalReader));
        assert_eq!(
            Role::parse("BillingAdministrator"),
            Some(Role::BillingAdministrator)
        );
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn app_permissions() {
        let r = Access::for_app_permissions(&[AppPermission::PolicyRead]);
        assert!(r.read_policies && !r.write_policies);
        let rw = Access::for_app_permissions(&[AppPermission::PolicyReadWrite]);
        assert!(rw.read_policies && rw.write_policies);
        assert_eq!(
            AppPermission::parse("policy.read.allowselfservicepurchase"),
            Some(AppPermission::PolicyRead)
        );
    }
}
