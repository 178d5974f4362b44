"""All SQL of scripted-run rules and of the script each run follows."""

from __future__ import annotations

from twinbridge.db.database import Transaction
from twinbridge.db.models import ScriptedRun, ScriptedRunRule
from twinbridge.db.tables import Table

RULES = Table("scripted_run_rules", ScriptedRunRule)
SCRIPTED_RUNS = Table("scripted_runs", ScriptedRun, key=("run_id",))
_NEWEST_FIRST = "ORDER BY created_at DESC, id DESC"


class ScriptRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def add_rule(self, rule: ScriptedRunRule) -> ScriptedRunRule:
        await self.transaction.execute(RULES.insert_sql, RULES.values(rule))
        return rule

    async def rules(self) -> list[ScriptedRunRule]:
        """Every rule, newest (the one that wins) first."""
        return RULES.rows(
            await self.transaction.all(f"SELECT {RULES.select()} FROM scripted_run_rules {_NEWEST_FIRST}")
        )

    async def delete_rule(self, rule_id: str) -> bool:
        return await self.transaction.execute(RULES.delete_sql, {"id": rule_id}) > 0

    async def delete_rules(self) -> None:
        await self.transaction.execute("DELETE FROM scripted_run_rules")

    async def matching_rule(self, connection_id: str, imodel_id: str) -> ScriptedRunRule | None:
        """The newest rule for the connection, its iModel, or every run, that has runs left."""
        row = await self.transaction.one(
            f"SELECT {RULES.select()} FROM scripted_run_rules"
            " WHERE (connection_id = :connection_id OR imodel_id = :imodel_id"
            " OR (connection_id IS NULL AND imodel_id IS NULL))"
            f" AND (remaining IS NULL OR remaining > 0) {_NEWEST_FIRST} LIMIT 1",
            {"connection_id": connection_id, "imodel_id": imodel_id},
        )
        return RULES.row(row) if row else None

    async def use(self, rule: ScriptedRunRule) -> bool:
        """Counts a run against the rule (deleting it after its last); False when another worker took the
        last one first."""
        if rule.remaining is None:
            return True
        if not await self.transaction.execute(
            "UPDATE scripted_run_rules SET remaining = remaining - 1 WHERE id = :id AND remaining > 0",
            {"id": rule.id},
        ):
            return False
        await self.transaction.execute(
            "DELETE FROM scripted_run_rules WHERE id = :id AND remaining = 0", {"id": rule.id}
        )
        return True

    async def scripted_run(self, run_id: str) -> ScriptedRun | None:
        row = await self.transaction.one(
            f"SELECT {SCRIPTED_RUNS.select()} FROM scripted_runs WHERE run_id = :run_id", {"run_id": run_id}
        )
        return SCRIPTED_RUNS.row(row) if row else None

    async def add_scripted_run(self, scripted: ScriptedRun) -> ScriptedRun:
        await self.transaction.execute(SCRIPTED_RUNS.insert_sql, SCRIPTED_RUNS.values(scripted))
        return scripted

    async def hold(self, run_id: str, state: str | None) -> None:
        """Holds the run in `state` (None: not held)."""
        await self.transaction.execute(
            "UPDATE scripted_runs SET held_state = :state WHERE run_id = :run_id",
            {"state": state, "run_id": run_id},
        )

    async def release(self, run_id: str) -> bool:
        """Releases a held run; False when it is not held."""
        changed = await self.transaction.execute(
            "UPDATE scripted_runs SET held_state = NULL WHERE run_id = :run_id AND held_state IS NOT NULL",
            {"run_id": run_id},
        )
        return changed > 0

    async def held_state(self, run_id: str) -> str | None:
        state: str | None = await self.transaction.value(
            "SELECT held_state FROM scripted_runs WHERE run_id = :run_id", {"run_id": run_id}
        )
        return state

    async def held(self) -> list[ScriptedRun]:
        """Every run held now, oldest first."""
        rows = await self.transaction.all(
            f"SELECT {SCRIPTED_RUNS.select()} FROM scripted_runs WHERE held_state IS NOT NULL"
            " ORDER BY created_at, run_id"
        )
        return SCRIPTED_RUNS.rows(rows)
