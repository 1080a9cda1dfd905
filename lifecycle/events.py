"""Journal events: what happened, when, to which item.

One event is one JSON line in ``.shipdeck/journal.jsonl``. ``type`` is one of
the constants below; ``data`` holds the type's own fields (listed beside each).
DORA metrics, the item history and the board's events pane read these.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shipdeck.lifecycle.items import format_time, parse_time, utcnow

ITEM_CREATED = "item.created"  # title, kind, links
ITEM_MOVED = "item.moved"  # from, to, forced (bool), reason (when forced)
ITEM_EDITED = "item.edited"  # fields (list of names)
ITEM_ARCHIVED = "item.archived"
STAGE_STARTED = "stage.started"  # stage, run_id, sha
STAGE_FINISHED = "stage.finished"  # stage, run_id, status, duration, sha, message
RELEASE_CUT = "release.cut"  # version, tag, sha, image
DEPLOY_STARTED = "deploy.started"  # env, version, run_id
DEPLOYED = "deployed"  # env, version, sha, lead_time (seconds, may be null)
DEPLOY_FAILED = "deploy.failed"  # env, version, reason
DEPLOY_UNKNOWN = "deploy.unknown"  # env, version, reason: the target lost track mid-switch
# env, version, reason: stopped by its user (Ctrl-C, x): not a failed change, not in DORA
DEPLOY_CANCELLED = "deploy.cancelled"
ROLLED_BACK = "rolled_back"  # env, from_version, to_version, reason
DEPLOY_RECOVERED = "deploy.recovered"  # env, version (what runs), outcome, message
RESTARTED = "restarted"  # env, version
SCALED = "scaled"  # env, replicas
AUTOSCALED = "autoscaled"  # env, from, to, reason, cpu, latency_ms
AUTOSCALE_PAUSED = "autoscale.paused"  # env, paused (bool): a person paused or resumed it
STOPPED = "stopped"  # env
ALERT_RAISED = "alert.raised"  # alert_id, env, metric, value, threshold, message, version
ALERT_CLEARED = "alert.cleared"  # alert_id
WEBHOOK_FAILED = "webhook.failed"  # event, env, version, alert_id, error, attempts, webhook

ALL_TYPES = frozenset(
    {
        ITEM_CREATED,
        ITEM_MOVED,
        ITEM_EDITED,
        ITEM_ARCHIVED,
        STAGE_STARTED,
        STAGE_FINISHED,
        RELEASE_CUT,
        DEPLOY_STARTED,
        DEPLOYED,
        DEPLOY_FAILED,
        DEPLOY_UNKNOWN,
        DEPLOY_CANCELLED,
        ROLLED_BACK,
        DEPLOY_RECOVERED,
        RESTARTED,
        SCALED,
        AUTOSCALED,
        AUTOSCALE_PAUSED,
        STOPPED,
        ALERT_RAISED,
        ALERT_CLEARED,
        WEBHOOK_FAILED,
    }
)


@dataclass(frozen=True)
class Event:
    type: str
    item: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    ts: datetime = field(default_factory=utcnow)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ts": format_time(self.ts), "type": self.type}
        if self.item is not None:
            out["item"] = self.item
        out.update(self.data)
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Event:
        data = {k: v for k, v in raw.items() if k not in ("ts", "type", "item")}
        ts = parse_time(raw.get("ts")) or utcnow()
        return cls(type=str(raw["type"]), item=raw.get("item"), data=data, ts=ts)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


# The events that say which release an environment runs now (cards, restart's hint)
ENV_EVENTS = {DEPLOYED, ROLLED_BACK, DEPLOY_RECOVERED, STOPPED}


def env_versions(events: Iterable[Event]) -> dict[str, tuple[str, str]]:
    """Each environment's (version running now, how it got there), from the journal."""
    now: dict[str, tuple[str, str]] = {}
    for event in events:
        env = event.data.get("env")
        if not isinstance(env, str):
            continue
        if event.type == DEPLOYED and event.data.get("version"):
            now[env] = (str(event.data["version"]), "deployed")
        elif event.type == ROLLED_BACK and event.data.get("to_version"):
            now[env] = (str(event.data["to_version"]), "rolled back")
        elif event.type == DEPLOY_RECOVERED and event.data.get("version"):
            now[env] = (str(event.data["version"]), "recovered")
        elif event.type == STOPPED:
            now[env] = ("", "stopped")
    return now
