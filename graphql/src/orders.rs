//! Orders in GraphQL: payment methods, placing orders, the order lifecycle.

use async_graphql::Enum;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum PaymentMethod {
    Cod,
    BankTransfer,
    Card,
}
