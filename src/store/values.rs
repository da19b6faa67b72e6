//! The values a statement binds, encoded for each database: sqlx's SQLite
//! and PostgreSQL arguments, and the cells of the group writer's own SQLite
//! connection (`direct.rs`).

use sqlx::error::BoxDynError;
use sqlx::postgres::PgArguments;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, Decode, Type};
use time::OffsetDateTime;

use super::direct::ToCell;
use crate::domain::ids;

/// A value as the group writer's own SQLite connection binds it.
pub type Cell = rusqlite::types::Value;

/// A value both databases can take as a parameter.
pub trait Value<'q>: Send + 'q {
    fn add_sqlite(self: Box<Self>, args: &mut SqliteArguments) -> Result<(), BoxDynError>;
    fn add_pg(self: Box<Self>, args: &mut PgArguments) -> Result<(), BoxDynError>;
    fn add_direct(self: Box<Self>, args: &mut Vec<Cell>);
}

/// Values bound as they are on both databases.
macro_rules! bound_as_is {
    ($($t:ty),* $(,)?) => {$(
        impl<'q> Value<'q> for $t {
            fn add_sqlite(self: Box<Self>, args: &mut SqliteArguments) -> Result<(), BoxDynError> {
                args.add(*self)
            }
            fn add_pg(self: Box<Self>, args: &mut PgArguments) -> Result<(), BoxDynError> {
                args.add(*self)
            }
            fn add_direct(self: Box<Self>, args: &mut Vec<Cell>) {
                args.push(ToCell::to_cell(*self))
            }
        }
    )*};
}

bound_as_is!(
    String,
    &'q str,
    &'q String,
    i64,
    i32,
    bool,
    Vec<u8>,
    &'q [u8],
    &'q Vec<u8>,
    time::Date,
    Option<String>,
    Option<&'q str>,
    Option<&'q String>,
    &'q Option<String>,
    Option<i64>,
    Option<i32>,
    Option<bool>,
    Option<Vec<u8>>,
    Option<time::Date>,
    Option<&'q [u8]>,
    &'q i64,
);

/// Typed ids (`domain::ids`) are `TEXT` on both databases: bound as their
/// text, decoded from it.
macro_rules! id_columns {
    ($($t:ident),* $(,)?) => {$(
        impl<'q> Value<'q> for ids::$t {
            fn add_sqlite(self: Box<Self>, args: &mut SqliteArguments) -> Result<(), BoxDynError> {
                args.add(self.into_string())
            }
            fn add_pg(self: Box<Self>, args: &mut PgArguments) -> Result<(), BoxDynError> {
                args.add(self.into_string())
            }
            fn add_direct(self: Box<Self>, args: &mut Vec<Cell>) {
                args.push(ToCell::to_cell(self.into_string()))
            }
        }
        impl<'q> Value<'q> for &'q ids::$t {
            fn add_sqlite(self: Box<Self>, args: &mut SqliteArguments) -> Result<(), BoxDynError> {
                args.add(self.as_str())
            }
            fn add_pg(self: Box<Self>, args: &mut PgArguments) -> Result<(), BoxDynError> {
                args.add(self.as_str())
            }
            fn add_direct(self: Box<Self>, args: &mut Vec<Cell>) {
                args.push(ToCell::to_cell(self.as_str()))
            }
        }
        impl<'q> Value<'q> for Option<ids::$t> {
            fn add_sqlite(self: Box<Self>, args: &mut SqliteArguments) -> Result<(), BoxDynError> {
                args.add(self.map(ids::$t::into_string))
            }
            fn add_pg(self: Box<Self>, args: &mut PgArguments) -> Result<(), BoxDynError> {
                args.add(self.map(ids::$t::into_string))
            }
            fn add_direct(self: Box<Self>, args: &mut Vec<Cell>) {
                args.push(ToCell::to_cell(self.map(ids::$t::into_string)))
            }
        }
        impl<'q> Value<'q> for Option<&'q ids::$t> {
            fn add_sqlite(self: Box<Self>, args: &mut SqliteArguments) -> Result<(), BoxDynError> {
                args.add(self.map(|id| id.as_str()))
            }
            fn add_pg(self: Box<Self>, args: &mut PgArguments) -> Result<(), BoxDynError> {
                args.add(self.map(|id| id.as_str()))
            }
            fn add_direct(self: Box<Self>, args: &mut Vec<Cell>) {
                args.push(ToCell::to_cell(self.map(|id| id.as_str())))
            }
        }
        impl<'q> Value<'q> for &'q Option<ids::$t> {
            fn add_sqlite(self: Box<Self>, args: &mut SqliteArguments) -> Result<(), BoxDynError> {
                args.add((*self).as_ref().map(|id| id.as_str()))
            }
            fn add_pg(self: Box<Self>, args: &mut PgArguments) -> Result<(), BoxDynError> {
                args.add((*self).as_ref().map(|id| id.as_str()))
            }
            fn add_direct(self: Box<Self>, args: &mut Vec<Cell>) {
                args.push(ToCell::to_cell((*self).as_ref().map(|id| id.as_str())))
            }
        }
        impl<DB: sqlx::Database> Type<DB> for ids::$t
        where
            String: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as Type<DB>>::compatible(ty)
            }
        }
        impl<'r, DB: sqlx::Database> Decode<'r, DB> for ids::$t
        where
            String: Decode<'r, DB>,
        {
            fn decode(value: <DB as sqlx::Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                <String as Decode<'r, DB>>::decode(value).map(ids::$t::from)
            }
        }
    )*};
}

crate::domain::ids::for_each_id!(id_columns);

/// Instants: PostgreSQL takes them as `timestamptz`; SQLite keeps text and
/// compares it as text, so every instant is written in one width, UTC, to
/// the microsecond (`2026-12-06T17:09:30.410000Z`): text order is then time
/// order. (sqlx's own encoding drops trailing zeros of the fraction, and
/// `…:30.4Z` would sort after `…:30.41Z`.)
pub fn sqlite_instant(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let Ok(year @ 0..=9999) = u32::try_from(at.year()) else {
        return format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.microsecond()
        );
    };
    // Digit by digit: `format!` with seven padded fields cost about 2,900
    // instructions an instant, and a payment binds about nine.
    let mut out = String::with_capacity(27);
    push_digits(&mut out, year, 4);
    out.push('-');
    push_digits(&mut out, u8::from(at.month()).into(), 2);
    out.push('-');
    push_digits(&mut out, at.day().into(), 2);
    out.push('T');
    push_digits(&mut out, at.hour().into(), 2);
    out.push(':');
    push_digits(&mut out, at.minute().into(), 2);
    out.push(':');
    push_digits(&mut out, at.second().into(), 2);
    out.push('.');
    push_digits(&mut out, at.microsecond(), 6);
    out.push('Z');
    out
}

/// The lowest `width` decimal digits of `value`, zero-padded.
fn push_digits(out: &mut String, value: u32, width: u32) {
    for place in (0..width).rev() {
        out.push(char::from(b'0' + (value / 10u32.pow(place) % 10) as u8));
    }
}

impl<'q> Value<'q> for OffsetDateTime {
    fn add_sqlite(self: Box<Self>, args: &mut SqliteArguments) -> Result<(), BoxDynError> {
        args.add(sqlite_instant(*self))
    }
    fn add_direct(self: Box<Self>, args: &mut Vec<Cell>) {
        args.push(ToCell::to_cell(sqlite_instant(*self)))
    }
    fn add_pg(self: Box<Self>, args: &mut PgArguments) -> Result<(), BoxDynError> {
        args.add(*self)
    }
}

impl<'q> Value<'q> for Option<OffsetDateTime> {
    fn add_sqlite(self: Box<Self>, args: &mut SqliteArguments) -> Result<(), BoxDynError> {
        args.add(self.map(sqlite_instant))
    }
    fn add_direct(self: Box<Self>, args: &mut Vec<Cell>) {
        args.push(ToCell::to_cell(self.map(sqlite_instant)))
    }
    fn add_pg(self: Box<Self>, args: &mut PgArguments) -> Result<(), BoxDynError> {
        args.add(*self)
    }
}

impl<'q> Value<'q> for &'q OffsetDateTime {
    fn add_sqlite(self: Box<Self>, args: &mut SqliteArguments) -> Result<(), BoxDynError> {
        args.add(sqlite_instant(**self))
    }
    fn add_direct(self: Box<Self>, args: &mut Vec<Cell>) {
        args.push(ToCell::to_cell(sqlite_instant(**self)))
    }
    fn add_pg(self: Box<Self>, args: &mut PgArguments) -> Result<(), BoxDynError> {
        args.add(**self)
    }
}

impl<'q> Value<'q> for &'q Option<OffsetDateTime> {
    fn add_sqlite(self: Box<Self>, args: &mut SqliteArguments) -> Result<(), BoxDynError> {
        args.add(self.map(sqlite_instant))
    }
    fn add_direct(self: Box<Self>, args: &mut Vec<Cell>) {
        args.push(ToCell::to_cell(self.map(sqlite_instant)))
    }
    fn add_pg(self: Box<Self>, args: &mut PgArguments) -> Result<(), BoxDynError> {
        args.add(*self)
    }
}
