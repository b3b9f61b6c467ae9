"""/ws/sweeps/<id>/: the sweep as GET /api/sweeps/<id>/ answers it, sent on connect and again each
time it changes (the controller's `sweep` message) or one of its trials changes status or progress
(its project's group). The answer is read from the database each time: the row is the truth."""
from __future__ import annotations

from channels.db import database_sync_to_async

from ..consumers import GroupsConsumer
from ..events import project_group
from .control import sweeps_for
from .controller import sweep_group


class SweepConsumer(GroupsConsumer):
    async def connect(self):
        self.groups_joined = []
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        try:
            sweep_id = int(self.scope["url_route"]["kwargs"]["sweep_id"])
        except (KeyError, ValueError):
            await self.close(code=4400)
            return
        answer = await self._answer(user, sweep_id)
        if answer is None:
            await self.close(code=4404)
            return
        self.user, self.sweep_id, self.trials = user, sweep_id, set(answer["trials"])
        for group in (sweep_group(sweep_id), project_group(answer["project"])):
            await self.join(group)
        await self.send_json({"type": "sweep", "sweep": answer})

    async def job_events(self, message):
        ours = any(e.get("type") == "sweep" or e.get("job") in self.trials for e in message["events"])
        if not ours:
            return
        answer = await self._answer(self.user, self.sweep_id)
        if answer is not None:
            self.trials = set(answer["trials"])
            await self.send_json({"type": "sweep", "sweep": answer})

    @database_sync_to_async
    def _answer(self, user, sweep_id):
        from .api import sweep_answer

        sweep = sweeps_for(user).select_related("owner").filter(pk=sweep_id).first()
        return sweep_answer(sweep) if sweep is not None else None
