//! Who asks a use case for a change, and how a use case says no.
//!
//! Every use case takes an `Actor`: it decides what the actor may do (an
//! office user of another company, a customer asking about another customer,
//! a clerk changing owner-only settings: all refused) and is what the audit
//! log names. Faces build it from what authenticated the request: the office
//! session, the API key, the payment link, the portal session; jobs, CSV
//! import and `demo` name themselves.

use std::fmt;

use crate::domain::ids::{CompanyId, CustomerId, UserId};
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// Someone signed in to the office.
    Office {
        company_id: CompanyId,
        user_id: UserId,
        owner: bool,
    },
    /// An integrator with the company's API key.
    Api { company_id: CompanyId },
    /// A customer on their payment link's page.
    PayLink {
        company_id: CompanyId,
        customer_id: CustomerId,
    },
    /// A customer signed in to the portal.
    Portal {
        company_id: CompanyId,
        customer_id: CustomerId,
    },
    /// A job of fieldpay's own (`reconciler`, `autopay`, `stripe`, …), or a
    /// command run by the operator (`cli:import`, `demo`).
    System { company_id: CompanyId, name: String },
}

impl Actor {
    pub fn system(company_id: &CompanyId, name: &str) -> Actor {
        Actor::System {
            company_id: company_id.clone(),
            name: name.to_string(),
        }
    }

    /// The company the actor acts for: every use case works inside it.
    pub fn company_id(&self) -> &CompanyId {
        match self {
            Actor::Office { company_id, .. }
            | Actor::Api { company_id }
            | Actor::PayLink { company_id, .. }
            | Actor::Portal { company_id, .. }
            | Actor::System { company_id, .. } => company_id,
        }
    }

    /// The customer acting for themselves, if it is one.
    pub fn customer_id(&self) -> Option<&CustomerId> {
        match self {
            Actor::PayLink { customer_id, .. } | Actor::Portal { customer_id, .. } => {
                Some(customer_id)
            }
            _ => None,
        }
    }

    /// What the audit log names the actor: `office:usr_…`, `api`,
    /// `customer`, `portal:cus_…`, or the job's name.
    pub fn audit_name(&self) -> String {
        match self {
            Actor::Office { user_id, .. } => format!("office:{user_id}"),
            Actor::Api { .. } => "api".into(),
            Actor::PayLink { .. } => "customer".into(),
            Actor::Portal { customer_id, .. } => format!("portal:{customer_id}"),
            Actor::System { name, .. } => name.clone(),
        }
    }

    /// The company's own staff or systems: the office, its API key, its jobs.
    pub fn is_company(&self) -> bool {
        matches!(
            self,
            Actor::Office { .. } | Actor::Api { .. } | Actor::System { .. }
        )
    }

    /// Refuses a customer acting on another customer, and anyone but the
    /// company on what only the company may do.
    pub fn may_act_for(&self, customer_id: &CustomerId) -> Result<(), Refusal> {
        match self.customer_id() {
            Some(own) if own != customer_id => Err(Refusal::NotFound),
            _ => Ok(()),
        }
    }

    /// Only the company (office, API, its jobs) may do this.
    pub fn must_be_company(&self) -> Result<(), Refusal> {
        if self.is_company() {
            Ok(())
        } else {
            Err(Refusal::Forbidden(
                "Only the company's office can do this.".into(),
            ))
        }
    }

    /// Only an owner (or the API key, or the company's own jobs) may do this.
    pub fn must_be_owner(&self) -> Result<(), Refusal> {
        match self {
            Actor::Office { owner: false, .. } => Err(Refusal::Forbidden(
                "Only an owner of the company can change this.".into(),
            )),
            other => other.must_be_company(),
        }
    }
}

/// Why a use case did not do what it was asked: the faces turn it into a
/// 404, 403, 409 or 422 with these words, or a 503 when the database is
/// briefly away.
#[derive(Debug)]
pub enum Refusal {
    /// No such record for this actor (another company's ids included).
    NotFound,
    Forbidden(String),
    /// A field's value cannot be used: which field, and what to fix.
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The record's state does not allow it now: a stable code and words.
    Conflict {
        code: &'static str,
        message: String,
    },
    Store(StoreError),
}

impl Refusal {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Refusal {
        Refusal::Invalid {
            field,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal::Conflict {
            code,
            message: message.into(),
        }
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        Refusal::Store(e)
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Refusal {
        Refusal::Store(e.into())
    }
}

impl From<crate::domain::FieldError> for Refusal {
    fn from(e: crate::domain::FieldError) -> Refusal {
        Refusal::Invalid {
            field: e.field,
            message: e.message,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotFound => f.write_str("not found"),
            Refusal::Forbidden(m) => f.write_str(m),
            Refusal::Invalid { field, message } => write!(f, "{field}: {message}"),
            Refusal::Conflict { message, .. } => f.write_str(message),
            Refusal::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Refusal {}

#[cfg(test)]
mod tests {
    use super::*;

    fn office(owner: bool) -> Actor {
        Actor::Office {
            company_id: "co_1".into(),
            user_id: "usr_1".into(),
            owner,
        }
    }

    #[test]
    fn actors_are_named_as_the_audit_log_always_named_them() {
        assert_eq!(office(true).audit_name(), "office:usr_1");
        assert_eq!(
            Actor::Api {
                company_id: "co_1".into()
            }
            .audit_name(),
            "api"
        );
        let portal = Actor::Portal {
            company_id: "co_1".into(),
            customer_id: "cus_1".into(),
        };
        assert_eq!(portal.audit_name(), "portal:cus_1");
        assert_eq!(
            Actor::system(&"co_1".into(), "reconciler").audit_name(),
            "reconciler"
        );
    }

    #[test]
    fn what_each_actor_may_do() {
        let customer = Actor::PayLink {
            company_id: "co_1".into(),
            customer_id: "cus_1".into(),
        };
        assert!(customer.may_act_for(&"cus_1".into()).is_ok());
        assert!(matches!(
            customer.may_act_for(&"cus_2".into()),
            Err(Refusal::NotFound)
        ));
        assert!(customer.must_be_company().is_err());
        assert!(office(false).may_act_for(&"cus_2".into()).is_ok());
        assert!(office(false).must_be_owner().is_err());
        assert!(office(true).must_be_owner().is_ok());
        assert_eq!(customer.company_id(), "co_1");
    }
}
