"""The Webhooks API (subscriptions to run-completed events) and the delivery of those events."""
