"""What else happens in the transaction that completes a run: hooks that features register.

The run machinery never imports a feature; a feature that must act when a run completes (webhooks write
their deliveries, an outbox) registers a hook here through `twinbridge.features`. `RunRepository.save`
calls the hooks once per run, in the same transaction as the write that makes the run Completed, so that
what they write commits or rolls back with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from twinbridge.db.database import Transaction
from twinbridge.db.models import Run

CompletionHook = Callable[[Transaction, Run], Awaitable[None]]

_hooks: list[CompletionHook] = []


def on_run_completed(hook: CompletionHook) -> None:
    """Registers `hook` for this process (registering it again changes nothing)."""
    if hook not in _hooks:
        _hooks.append(hook)


def has_completion_hooks() -> bool:
    return bool(_hooks)


async def run_completed(transaction: Transaction, run: Run) -> None:
    for hook in _hooks:
        await hook(transaction, run)
