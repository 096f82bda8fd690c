//! The cost of a GraphQL request, returned in `extensions.cost`: `requested` is the
//! complexity the validator computed from the document (one unit per field asked for, before
//! any list is known), `actual` the number of values the answer holds (what the server really
//! produced), and `budgetLeft` the units left in the bucket of the shop it reached (the
//! smallest when it reached several; absent when it reached none). The actual cost is charged
//! to every shop the request reached ([`crate::budget`]).

use std::sync::{Arc, Mutex};

use async_graphql::{
    Response, ServerError, ValidationResult, Value,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextValidation},
};

use crate::{budget::Budget, context::Touched};

/// The extension factory (added to the schema).
pub struct Cost;

impl ExtensionFactory for Cost {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CostExtension::default())
    }
}

#[derive(Default)]
struct CostExtension {
    requested: Mutex<Option<usize>>,
}

/// The number of values in an answer (every scalar, list item and object field counts one).
pub fn values_in(v: &Value) -> u64 {
    match v {
        Value::List(items) => items.iter().map(values_in).sum::<u64>() + 1,
        Value::Object(fields) => fields.values().map(values_in).sum::<u64>() + 1,
        _ => 1,
    }
}

#[async_trait::async_trait]
impl Extension for CostExtension {
    // `execute` (not `request`): the request's data (`Touched`) is visible from here on.
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let resp = next.run(ctx, operation_name).await;
        let requested = self.requested.lock().ok().and_then(|r| *r).unwrap_or(0);
        let actual = values_in(&resp.data);
        let mut cost = async_graphql::indexmap::IndexMap::new();
        cost.insert(
            async_graphql::Name::new("requested"),
            Value::from(requested as u64),
        );
        cost.insert(async_graphql::Name::new("actual"), Value::from(actual));
        if let (Some(touched), Some(budget)) =
            (ctx.data_opt::<Touched>(), ctx.data_opt::<Arc<Budget>>())
        {
            let left = touched
                .shops()
                .iter()
                .map(|(shop, _)| budget.charge(shop, actual as f64))
                .fold(None, |m: Option<f64>, l| Some(m.map_or(l, |m| m.min(l))));
            if let Some(left) = left {
                cost.insert(
                    async_graphql::Name::new("budgetLeft"),
                    Value::from(left.floor() as i64),
                );
            }
        }
        resp.extension("cost", Value::Object(cost))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let res = next.run(ctx).await?;
        if let Ok(mut r) = self.requested.lock() {
            *r = Some(res.complexity);
        }
        Ok(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_values() {
        let v: Value = Value::from_json(serde_json::json!({
            "shop": { "name": "x", "products": [{ "title": "a" }, { "title": "b" }] }
        }))
        .unwrap_or_default();
        // data object, shop object, name, products list, 2 items, 2 titles
        assert_eq!(values_in(&v), 8);
        assert_eq!(values_in(&Value::Null), 1);
    }
}
