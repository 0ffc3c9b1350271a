//! An outbox event in TMF's event format: `eventId`, `eventTime`, `eventType`,
//! `correlationId` (the order id), `domain`, `title`, `description`, `timeOcurred` (TMF's
//! spelling) and `event.productOrder`, the order as `GET .../productOrder/{id}` renders it,
//! with `state` set to the state the event announces (the order may have moved on since).

use crate::http::tmf::{product_order, BASE};
use chrono::{DateTime, Utc};
use l2c_engine::clock::from_ms;
use l2c_orders::hub::outbox::OutboxEvent;
use l2c_orders::hub::EventType;
use l2c_orders::model::OrderView;
use serde_json::{json, Value};

fn title(event_type: EventType) -> &'static str {
    match event_type {
        EventType::Create => "Product order created",
        EventType::StateChange => "Product order state changed",
        EventType::AttributeValueChange => "Product order attribute changed",
        EventType::InformationRequired => "Product order waits for information",
        EventType::CancelStateChange => "Product order cancellation changed",
    }
}

fn description(event: &OutboxEvent) -> String {
    let id = &event.order_id;
    let detail = &event.detail;
    match event.event_type {
        EventType::Create => format!("order {id} was placed ({})", event.state),
        EventType::StateChange | EventType::InformationRequired => {
            let from = detail["from"].as_str().unwrap_or("none");
            format!("order {id} moved from {from} to {}", event.state)
        }
        EventType::AttributeValueChange => format!(
            "item {} of order {id} is now {}",
            detail["item"].as_str().unwrap_or("?"),
            detail["itemState"].as_str().unwrap_or("?")
        ),
        EventType::CancelStateChange => format!(
            "the cancellation of order {id} is {}",
            detail["cancellationState"].as_str().unwrap_or("?")
        ),
    }
}

/// The event's body; `now` is its `eventTime` (when it is sent).
pub fn render(event: &OutboxEvent, order: &OrderView, now: DateTime<Utc>) -> Value {
    let mut order_json = product_order(order);
    order_json["state"] = json!(event.state);
    let mut body = json!({ "productOrder": order_json });
    match event.event_type {
        EventType::CancelStateChange => {
            body["cancelProductOrder"] = json!({
                "state": event.detail["cancellationState"],
                "cancellationReason": event.detail["reason"],
                "productOrder": {
                    "id": event.order_id,
                    "href": format!("{BASE}/productOrder/{}", event.order_id),
                },
            });
        }
        EventType::AttributeValueChange => {
            body["changedAttributes"] = event.detail["changed"].clone();
        }
        _ => {}
    }
    json!({
        "eventId": event.id,
        "eventTime": now,
        "eventType": event.event_type,
        "correlationId": event.order_id,
        "domain": "productOrderingManagement",
        "title": title(event.event_type),
        "description": description(event),
        "timeOcurred": from_ms(event.at),
        "event": body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use l2c_orders::state::OrderState;

    fn order() -> OrderView {
        let at = from_ms(1_800_000_000_000);
        OrderView {
            id: "ord-1".into(),
            requester: "rita".into(),
            customer_account: "ACME".into(),
            billing_account: "ACME-EUR".into(),
            external_id: Some("PO-7".into()),
            requested_completion_date: None,
            notes: None,
            state: OrderState::Completed,
            reason: None,
            currency: "EUR".into(),
            one_time_total: "0.00".into(),
            monthly_total: "0.00".into(),
            items: Vec::new(),
            created_at: at,
            updated_at: at,
            completed_at: Some(at),
        }
    }

    fn event(event_type: EventType, state: OrderState, detail: Value) -> OutboxEvent {
        OutboxEvent {
            seq: 1,
            id: "evt-1".into(),
            order_id: "ord-1".into(),
            event_type,
            state,
            detail,
            at: 1_800_000_000_000,
        }
    }

    #[test]
    fn a_state_change_carries_the_order_in_the_state_it_announces() {
        let e = event(
            EventType::StateChange,
            OrderState::InProgress,
            json!({"from": "acknowledged", "reason": null}),
        );
        let now = from_ms(1_800_000_001_000);
        let body = render(&e, &order(), now);
        assert_eq!(body["eventId"], "evt-1");
        assert_eq!(body["eventType"], "ProductOrderStateChangeEvent");
        assert_eq!(body["correlationId"], "ord-1");
        assert_eq!(body["domain"], "productOrderingManagement");
        assert_eq!(body["timeOcurred"], "2027-01-15T08:00:00Z");
        assert_eq!(body["eventTime"], "2027-01-15T08:00:01Z");
        assert_eq!(
            body["description"],
            "order ord-1 moved from acknowledged to inProgress"
        );
        let po = &body["event"]["productOrder"];
        assert_eq!(
            po["state"], "inProgress",
            "the announced state, not today's"
        );
        assert_eq!(po["id"], "ord-1");
        assert_eq!(po["externalId"], "PO-7");
        assert_eq!(po["href"], format!("{BASE}/productOrder/ord-1"));
    }

    #[test]
    fn a_cancellation_names_its_request() {
        let e = event(
            EventType::CancelStateChange,
            OrderState::PendingCancellation,
            json!({"from": "assessingCancellation", "reason": "no budget", "cancellationState": "inProgress"}),
        );
        let body = render(&e, &order(), from_ms(0));
        let cancel = &body["event"]["cancelProductOrder"];
        assert_eq!(cancel["state"], "inProgress");
        assert_eq!(cancel["cancellationReason"], "no budget");
        assert_eq!(cancel["productOrder"]["id"], "ord-1");
        assert_eq!(
            body["event"]["productOrder"]["state"],
            "pendingCancellation"
        );
    }

    #[test]
    fn an_attribute_change_names_the_item() {
        let e = event(
            EventType::AttributeValueChange,
            OrderState::InProgress,
            json!({"item": "1", "itemState": "completed", "changed": ["productOrderItem.state"]}),
        );
        let body = render(&e, &order(), from_ms(0));
        assert_eq!(
            body["description"],
            "item 1 of order ord-1 is now completed"
        );
        assert_eq!(
            body["event"]["changedAttributes"][0],
            "productOrderItem.state"
        );
    }
}
