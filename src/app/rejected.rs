//! What a use case that takes a form's worth of input answers when it cannot
//! use it: every field to fix at once (a form shows each beside its field,
//! the API the first), or a `Refusal` (not found, forbidden, a conflict).

use std::collections::BTreeMap;
use std::fmt;

use crate::app::Refusal;
use crate::domain::FieldError;
use crate::store::StoreError;

/// One field to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: &'static str,
    /// A stable code: `invalid_field`, a template check's own code
    /// (`template_syntax`, `unknown_variable`, …), or `customer_not_found`
    /// when the field names no customer of the company.
    pub code: &'static str,
    /// What to fix, in words a person can act on.
    pub message: String,
}

impl From<FieldError> for Problem {
    fn from(e: FieldError) -> Problem {
        Problem {
            field: e.field,
            code: "invalid_field",
            message: e.message,
        }
    }
}

impl From<crate::messaging::template::FieldError> for Problem {
    fn from(e: crate::messaging::template::FieldError) -> Problem {
        Problem {
            field: e.field,
            code: e.code,
            message: e.message,
        }
    }
}

#[derive(Debug)]
pub enum Rejected {
    /// The fields to fix, in the order of the form.
    Fields(Vec<Problem>),
    Refused(Refusal),
}

impl Rejected {
    pub fn field(field: &'static str, message: impl Into<String>) -> Rejected {
        Rejected::coded(field, "invalid_field", message)
    }

    pub fn coded(field: &'static str, code: &'static str, message: impl Into<String>) -> Rejected {
        Rejected::Fields(vec![Problem {
            field,
            code,
            message: message.into(),
        }])
    }

    /// The problems by field (the first for each), as a form shows them;
    /// `None` when it is a refusal.
    pub fn by_field(&self) -> Option<BTreeMap<&'static str, String>> {
        match self {
            Rejected::Fields(problems) => {
                let mut out = BTreeMap::new();
                for p in problems {
                    out.entry(p.field).or_insert_with(|| p.message.clone());
                }
                Some(out)
            }
            Rejected::Refused(_) => None,
        }
    }
}

impl From<Refusal> for Rejected {
    fn from(r: Refusal) -> Rejected {
        match r {
            Refusal::Invalid { field, message } => Rejected::field(field, message),
            other => Rejected::Refused(other),
        }
    }
}

impl From<StoreError> for Rejected {
    fn from(e: StoreError) -> Rejected {
        Rejected::Refused(Refusal::Store(e))
    }
}

impl From<sqlx::Error> for Rejected {
    fn from(e: sqlx::Error) -> Rejected {
        Rejected::Refused(e.into())
    }
}

impl From<FieldError> for Rejected {
    fn from(e: FieldError) -> Rejected {
        Rejected::Fields(vec![e.into()])
    }
}

impl From<Vec<FieldError>> for Rejected {
    fn from(errors: Vec<FieldError>) -> Rejected {
        Rejected::Fields(errors.into_iter().map(Problem::from).collect())
    }
}

impl From<crate::messaging::template::FieldError> for Rejected {
    fn from(e: crate::messaging::template::FieldError) -> Rejected {
        Rejected::Fields(vec![e.into()])
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejected::Fields(problems) => {
                let words: Vec<String> = problems
                    .iter()
                    .map(|p| format!("{}: {}", p.field, p.message))
                    .collect();
                f.write_str(&words.join("; "))
            }
            Rejected::Refused(r) => write!(f, "{r}"),
        }
    }
}

impl std::error::Error for Rejected {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_their_order_and_refusals_stay_refusals() {
        let r = Rejected::from(vec![
            FieldError::new("name", "Enter the customer's name."),
            FieldError::new("email", "Enter an email address."),
        ]);
        let Rejected::Fields(p) = &r else {
            panic!("{r:?}")
        };
        assert_eq!(p[0].field, "name");
        assert_eq!(r.by_field().unwrap()["email"], "Enter an email address.");
        assert!(matches!(
            Rejected::from(Refusal::NotFound),
            Rejected::Refused(Refusal::NotFound)
        ));
        let invalid = Rejected::from(Refusal::invalid("method_id", "Choose a card."));
        assert_eq!(invalid.by_field().unwrap()["method_id"], "Choose a card.");
    }
}
