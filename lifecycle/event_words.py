"""Journal events in words, one line each: what the events pane shows in its columns
and what a webhook's ``text`` says (chat tools show that field). Plain strings; the
pane adds its colours (widgets/ops/text.py)."""

from __future__ import annotations

from shipdeck.lifecycle import events as ev
from shipdeck.lifecycle.events import Event
from shipdeck.lifecycle.text import escape_controls
from shipdeck.lifecycle.units import duration

_SHORT = 160


def clean(text: object, limit: int = _SHORT) -> str:
    """One printable line: control characters shown escaped (never obeyed), cut to ``limit``."""
    raw = str(text)
    first, _, rest = raw.partition("\n")
    out = escape_controls(first)
    if rest.strip():
        out += " …"
    return out if len(out) <= limit else out[: limit - 1] + "…"


# type -> (icon, label)
_WORDS: dict[str, tuple[str, str]] = {
    ev.ITEM_CREATED: ("+", "created"),
    ev.ITEM_MOVED: ("→", "moved"),
    ev.ITEM_EDITED: ("✎", "edited"),
    ev.ITEM_ARCHIVED: ("▣", "archived"),
    ev.STAGE_STARTED: ("▶", "stage"),
    ev.STAGE_FINISHED: ("✔", "stage"),
    ev.RELEASE_CUT: ("◆", "release"),
    ev.DEPLOY_STARTED: ("▶", "deploying"),
    ev.DEPLOYED: ("✔", "deployed"),
    ev.DEPLOY_FAILED: ("✘", "deploy failed"),
    ev.DEPLOY_UNKNOWN: ("?", "deploy unknown"),
    ev.DEPLOY_CANCELLED: ("⊘", "deploy cancelled"),
    ev.ROLLED_BACK: ("↶", "rolled back"),
    ev.RESTARTED: ("↻", "restarted"),
    ev.SCALED: ("⇅", "scaled"),
    ev.AUTOSCALED: ("⇅", "autoscaled"),
    ev.AUTOSCALE_PAUSED: ("‖", "autoscaling"),
    ev.STOPPED: ("■", "stopped"),
    ev.ALERT_RAISED: ("⚠", "alert"),
    ev.ALERT_CLEARED: ("✓", "alert cleared"),
}
_STAGE_ICONS = {"passed": "✔", "failed": "✘", "cancelled": "■"}


def event_label(event: Event) -> str:
    """``✔ deployed``: an icon and a word or two; an unknown type by its own name."""
    icon, label = _WORDS.get(event.type, ("·", clean(event.type, 30)))
    if event.type == ev.STAGE_FINISHED:
        icon = _STAGE_ICONS.get(str(event.get("status")), "·")
    return f"{icon} {label}"


def event_where(event: Event) -> str:
    """``SD-4 · prod``: the item and the environment the event is about, as it has them."""
    parts = [clean(p, 40) for p in (event.item, event.get("env")) if p]
    return " · ".join(parts)


def _seconds(value: object) -> str:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    return f" in {seconds:.1f}s" if seconds < 60 else f" in {duration(seconds)}"


def event_summary(event: Event) -> str:
    """What happened, short (``1.0.0 on prod``); any other event's fields as ``k=v``."""
    g = event.get
    t = event.type
    if t == ev.ITEM_CREATED:
        return f"{g('kind') or 'item'}: {clean(g('title', ''))}"
    if t == ev.ITEM_MOVED:
        text = f"{g('from')} → {g('to')}"
        if g("forced"):
            text += f" (forced: {clean(g('reason') or 'no reason')})"
        return text
    if t == ev.ITEM_EDITED:
        return ", ".join(str(f) for f in g("fields") or []) or "edited"
    if t == ev.ITEM_ARCHIVED:
        return "archived"
    if t == ev.STAGE_STARTED:
        return f"{g('stage')} started"
    if t == ev.STAGE_FINISHED:
        text = f"{g('stage')} {g('status')}{_seconds(g('duration'))}"
        if g("status") != "passed" and g("message"):
            text += f": {clean(g('message'))}"
        return text
    if t == ev.RELEASE_CUT:
        sha = str(g("sha") or "")[:7]
        return f"{g('tag') or g('version')}" + (f" at {sha}" if sha else "")
    if t == ev.DEPLOY_STARTED:
        return f"{g('version')} to {g('env')}"
    if t == ev.DEPLOYED:
        return f"{g('version')} on {g('env')}"
    if t in (ev.DEPLOY_FAILED, ev.DEPLOY_UNKNOWN, ev.DEPLOY_CANCELLED):
        return f"{g('version')} to {g('env')}: {clean(g('reason') or 'failed')}"
    if t == ev.ROLLED_BACK:
        text = f"{g('from_version') or '?'} → {g('to_version') or '?'}"
        return text + (f": {clean(g('reason'))}" if g("reason") else "")
    if t == ev.RESTARTED:
        return f"{g('env')} {g('version') or ''}".strip()
    if t == ev.SCALED:
        return f"{g('env')} to {g('replicas')} replicas"
    if t == ev.AUTOSCALED:
        return f"{g('from')} → {g('to')} replicas: {clean(g('reason', ''))}"
    if t == ev.AUTOSCALE_PAUSED:
        return f"{g('env')} {'paused' if g('paused') else 'resumed'}"
    if t == ev.STOPPED:
        return f"{g('env')} stopped"
    if t in (ev.ALERT_RAISED, ev.ALERT_CLEARED):
        return f"{g('alert_id', '')} {clean(g('message', ''))}".strip()
    return clean(" ".join(f"{k}={v}" for k, v in event.data.items()))


def event_line(event: Event) -> str:
    """The event as one line of words: ``✔ deployed  SD-4 · staging  0.26 on staging``."""
    parts = (event_label(event), event_where(event), clean(event_summary(event)))
    return "  ".join(p for p in parts if p)
