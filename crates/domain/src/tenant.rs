//! Tenants and users (SPEC §1.5): validated at the edge, trusted after.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantType {
    Commercial,
    Education,
    Government,
}

impl TenantType {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantType::Commercial => "commercial",
            TenantType::Education => "education",
            TenantType::Government => "government",
        }
    }
}

impl FromStr for TenantType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "commercial" => Ok(TenantType::Commercial),
            "education" => Ok(TenantType::Education),
            "government" => Ok(TenantType::Government),
            _ => Err(format!(
                "'{s}' is not a tenant type: use commercial, education or government"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserType {
    Member,
    Guest,
}

impl UserType {
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Member => "Member",
            UserType::Guest => "Guest",
        }
    }
}

impl FromStr for UserType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("member") {
            Ok(UserType::Member)
        } else if s.eq_ignore_ascii_case("guest") {
            Ok(UserType::Guest)
        } else {
            Err(format!("'{s}' is not a user type: use Member or Guest"))
        }
    }
}

/// A user principal name, `name@domain`, kept lower-case so that sign-in is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Upn(String);

impl Upn {
    pub fn parse(s: &str) -> Result<Upn, String> {
        let s = s.trim().to_ascii_lowercase();
        let valid = match s.split_once('@') {
            Some((name, domain)) => {
                !name.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && s.chars().all(|c| !c.is_whitespace() && !c.is_control())
            }
            None => false,
        };
        if valid && s.len() <= 256 {
            Ok(Upn(s))
        } else {
            Err(format!(
                "'{s}' is not a user principal name: expected name@domain, for example admin@contoso.example"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.split_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

impl fmt::Display for Upn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A verified domain of a tenant, lower-case: labels of letters, digits and hyphens, at least two.
pub fn parse_domain(s: &str) -> Result<String, String> {
    let d = s.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = d.split('.').collect();
    let ok = labels.len() >= 2
        && d.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(d)
    } else {
        Err(format!(
            "'{s}' is not a domain name: expected something like contoso.example"
        ))
    }
}

/// An ISO 3166-1 alpha-2 country code, upper-case.
pub fn parse_country(s: &str) -> Result<String, String> {
    let c = s.trim().to_ascii_uppercase();
    if c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic()) {
        Ok(c)
    } else {
        Err(format!(
            "'{s}' is not a country code: use two letters (ISO 3166-1), for example US or DE"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upn_is_lowercased_and_validated() {
        let u = Upn::parse(" Admin@Contoso.Example ").unwrap();
        assert_eq!(u.as_str(), "admin@contoso.example");
        assert_eq!(u.domain(), "contoso.example");
        for bad in [
            "admin",
            "@contoso.example",
            "a@b",
            "a@b@c.d",
            "a b@c.d",
            "a@.c",
        ] {
            assert!(Upn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn domains_and_countries_are_validated() {
        assert_eq!(
            parse_domain("Contoso.Example."),
            Ok("contoso.example".into())
        );
        for bad in [
            "contoso",
            "-a.example",
            "a..b",
            "a b.example",
            "a/b.example",
            "",
        ] {
            assert!(parse_domain(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_country("de"), Ok("DE".into()));
        assert!(parse_country("Germany").is_err());
    }

    #[test]
    fn types_parse() {
        assert_eq!("Education".parse(), Ok(TenantType::Education));
        assert!("school".parse::<TenantType>().is_err());
        assert_eq!("guest".parse(), Ok(UserType::Guest));
    }
}
