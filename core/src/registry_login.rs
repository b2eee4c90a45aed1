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

impl RegistryLogin {
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
}
