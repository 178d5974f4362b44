"""Fault injection (twinbridge's own, no upstream counterpart): rules that make matching requests answer an
error, wait, or lose their connection, so a client's handling of failures can be tested."""
