//! The login a build host and the API give the image registry.

/// A registry's user name and password. Its `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryLogin {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLogin")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// Which half of a login was given without the other.
#[derive(Debug, PartialEq, Eq)]
pub enum HalfALogin {
    NoPassword,
    NoUsername,
}

/// The variables a binary reads its login from.
pub const USERNAME_VAR: &str = "SLIPWAY_REGISTRY_USERNAME";
pub const PASSWORD_VAR: &str = "SLIPWAY_REGISTRY_PASSWORD";

impl RegistryLogin {
    /// The login from [`USERNAME_VAR`] and [`PASSWORD_VAR`] as `var` reads
    /// them; an error names the variable missing beside the other.
    pub fn from_vars(
        var: impl Fn(&'static str) -> Option<String>,
    ) -> Result<Option<Self>, &'static str> {
        Self::from_parts(var(USERNAME_VAR), var(PASSWORD_VAR)).map_err(|half| match half {
            HalfALogin::NoPassword => PASSWORD_VAR,
            HalfALogin::NoUsername => USERNAME_VAR,
        })
    }

    /// Both halves or neither: one alone is a mistake worth refusing at
    /// start rather than a registry refusing every push later.
    pub fn from_parts(
        username: Option<String>,
        password: Option<String>,
    ) -> Result<Option<Self>, HalfALogin> {
        match (username, password) {
            (Some(username), Some(password)) => Ok(Some(Self { username, password })),
            (None, None) => Ok(None),
            (Some(_), None) => Err(HalfALogin::NoPassword),
            (None, Some(_)) => Err(HalfALogin::NoUsername),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_never_shows_its_password() {
        let login = RegistryLogin {
            username: "runner".into(),
            password: "hunter2".into(),
        };
        let shown = format!("{login:?}");
        assert!(
            shown.contains("runner") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn a_login_is_both_halves_or_none() {
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            RegistryLogin::from_parts(some("u"), some("p")),
            Ok(Some(RegistryLogin {
                username: "u".into(),
                password: "p".into()
            }))
        );
        assert_eq!(RegistryLogin::from_parts(None, None), Ok(None));
        assert_eq!(
            RegistryLogin::from_parts(some("u"), None),
            Err(HalfALogin::NoPassword)
        );
        assert_eq!(
            RegistryLogin::from_parts(None, some("p")),
            Err(HalfALogin::NoUsername)
        );
    }

    #[test]
    fn a_half_login_names_the_variable_missing() {
        let only = |name: &'static str| move |v: &'static str| (v == name).then(|| "x".to_owned());
        assert_eq!(
            RegistryLogin::from_vars(only(USERNAME_VAR)),
            Err(PASSWORD_VAR)
        );
        assert_eq!(
            RegistryLogin::from_vars(only(PASSWORD_VAR)),
            Err(USERNAME_VAR)
        );
        assert_eq!(RegistryLogin::from_vars(|_| None), Ok(None));
        let both = RegistryLogin::from_vars(|v| Some(v.to_lowercase()))
            .unwrap()
            .unwrap();
        assert_eq!(both.username, "slipway_registry_username");
        assert_eq!(both.password, "slipway_registry_password");
    }
}
