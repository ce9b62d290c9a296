"""DataLoader exercises: the learner writes `async def batch(keys, conn)`, the batch function of a DataLoader.

It must return one value per key, in the keys' order (None where a key has nothing), and a DataLoader using
it must turn loads gathered in one tick into a single statement. The checker calls it once directly (shape and
order of the result), then through aiodataloader with every load gathered.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection, Engine

from .base import Exercise, NotAttempted, Trial, Verdict
from .guard import Watch, escape_problem, guarded
from .learner_sql import is_blank, rolled_back
from .statements import compile_answer


async def _unwritten_batch(keys: list[Any], conn: Connection) -> list[Any]:
    raise NotImplementedError  # your code here


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


class BatchFunctionExercise(Exercise):
    kind = "dataloader"
    kind_label = "a DataLoader batch function: the checker calls it directly, then through a DataLoader"
    answer_name = "batch"
    language = "python"
    blank_answer = staticmethod(_unwritten_batch)

    def __init__(self, lesson: str, name: str, *, keys_sql: str,
                 expected: Callable[[Connection, list[Any]], list[Any]],
                 normalise: Callable[[Any], Any] = lambda value: value, **kwargs: Any) -> None:
        super().__init__(lesson, name, **kwargs)
        self.keys_sql = keys_sql
        self.expected = expected
        self.normalise = normalise

    def is_blank(self, answer: Any) -> bool:
        return answer is None or answer is ... or (isinstance(answer, str) and is_blank(answer))

    def judge(self, engine: Engine, answer: Any) -> Verdict:
        if isinstance(answer, str):
            answer = compile_answer(answer, self.answer_name)
        if not callable(answer):
            return Verdict("pass your batch function itself (its name, without calling it).")
        if not inspect.iscoroutinefunction(answer):
            return Verdict("a DataLoader awaits its batch function: define it with `async def`.")
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:  # the notebook's loop is already running
            return pool.submit(lambda: asyncio.run(self._check(engine, answer))).result()

    @staticmethod
    async def _guarded(conn: Connection, call: Callable[[], Any]) -> tuple[Any, str | None, Watch]:
        """Await the learner's call on the checker's guarded connection: (its value or None, the sentence for an
        attempt to leave the transaction or None, and what it sent)."""
        watch, value = Watch(), None
        try:
            with guarded(conn, watch):
                value = await call()
        except NotImplementedError as error:
            raise NotAttempted from error
        except Exception:
            if not watch.refused:
                raise
        return value, escape_problem(conn, watch), watch

    async def _check(self, engine: Engine, batch: Callable[..., Any]) -> Verdict:
        from aiodataloader import DataLoader

        with rolled_back(engine) as conn:
            keys = [row[0] for row in conn.exec_driver_sql(self.keys_sql)]
            expected = [self.normalise(value) for value in self.expected(conn, keys)]
            direct, problem, _ = await self._guarded(conn, lambda: batch(keys, conn))
            if problem:
                return Verdict(problem)
            if not isinstance(direct, (list, tuple)):
                return Verdict(
                    f"your batch function returned a {type(direct).__name__}; a DataLoader needs a list with one "
                    "value per key, in the keys' order (build a dictionary, then [found.get(k) for k in keys]).")
            if len(direct) != len(keys):
                return Verdict(
                    f"your batch function returned {len(direct)} values for {len(keys)} keys: a batch function "
                    "returns one value per key, in the keys' order (None, or an empty list, where a key has "
                    "nothing), so that the DataLoader can hand each caller its own.")
            got = [self.normalise(value) for value in direct]
            for position, (mine, theirs) in enumerate(zip(got, expected), start=1):
                if mine != theirs:
                    problem = (f"the value for key {position} (user {keys[position - 1]}) is {_short(mine)}, expected "
                               f"{_short(theirs)}. Values must come in the order of the keys, not the rows'.")
                    return Verdict(self.diagnose(Trial(conn, batch, value=got, expected_value=expected), problem))

            # Called again with other keys (half of them in reverse order, users outside the first list, and a key
            # with no user): a function that ignores its keys, or answers for one list only, fails here.
            others = [row[0] for row in conn.exec_driver_sql(
                "SELECT id FROM users WHERE id <> ALL(%(keys)s) AND deleted_at IS NULL ORDER BY email LIMIT 3",
                {"keys": list(keys)})]
            missing = type(keys[0])("00000000-0000-0000-0000-000000000000") if keys else None
            other_keys = list(reversed(keys[: max(1, len(keys) // 2)])) + others + ([missing] if keys else [])
            other_expected = [self.normalise(value) for value in self.expected(conn, other_keys)]
            again, problem, _ = await self._guarded(conn, lambda: batch(list(other_keys), conn))
            if problem:
                return Verdict(problem)
            again_values = [self.normalise(value) for value in again] if isinstance(again, (list, tuple)) else again
            if again_values != other_expected:
                return Verdict(
                    "your batch function was right for the first keys, but not when called again with other keys "
                    "(some of the same in another order, other users, and an id no user has): it must look up "
                    "exactly the keys it is given and return one value for each, in their order (None for the id "
                    "with no user).")

            async def through_loader() -> list[Any]:
                async def load_batch(batch_keys: list[Any]) -> Any:
                    return await batch(list(batch_keys), conn)

                loader = DataLoader(load_batch)
                return list(await asyncio.gather(*(loader.load(key) for key in keys)))

            loaded, problem, watch = await self._guarded(conn, through_loader)
            log = watch.log
            if problem:
                return Verdict(problem)
            if [self.normalise(value) for value in loaded] != expected:
                return Verdict("called through a DataLoader, your function gave other values than when called directly.")
            if log.count > 1:
                return Verdict(
                    f"a DataLoader with your batch function sent {log.count} statements for {len(keys)} gathered loads "
                    f"({len(set(keys))} different keys); one is enough (WHERE id = ANY(...) or IN (...)):",
                    detail=log.summary())
            return Verdict(None)


__all__ = ["BatchFunctionExercise"]
