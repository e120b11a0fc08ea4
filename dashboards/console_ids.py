"""Component ids of the alert console (`/alerts`), in one place (the page and its tests use them)."""

#: set (client side) from the shell's live tick only when a notice says alerts changed
ALERTS_TICK = "alerts-tick"
#: the fallback refresh, for when a push is missed
ALERTS_SLOW = "alerts-slow"
ALERTS_STATUS = "alerts-status"
ALERTS_MESSAGE = "alerts-message"

FIRING_GRID = "alerts-firing-grid"
INCIDENTS_GRID = "alerts-incidents-grid"
HISTORY_GRID = "alerts-history-grid"
SILENCES_GRID = "alerts-silences-grid"
RECEIVERS_GRID = "alerts-receivers-grid"

#: which alert the evidence panel shows: {"kind": "firing" | "history", "id": row id}
SELECTED = "alerts-selected"
#: a digest of what the evidence panel shows, so that an unchanged alert is not drawn again
SHOWN = "alerts-shown"
EVIDENCE = "alerts-evidence"

ACK_ALERT = "alerts-ack-alert"
RESOLVE_ALERT = "alerts-resolve-alert"
ACK_INCIDENT = "alerts-ack-incident"
RESOLVE_INCIDENT = "alerts-resolve-incident"
SILENCE = "alerts-silence"
EXPIRE_SILENCE = "alerts-expire-silence"
NOTE = "alerts-note"
SILENCE_MATCHERS = "alerts-silence-matchers"
SILENCE_DURATION = "alerts-silence-duration"
SILENCE_REASON = "alerts-silence-reason"

#: the buttons that write an action (disabled in the layout for a viewer)
ACTION_BUTTONS = (ACK_ALERT, RESOLVE_ALERT, ACK_INCIDENT, RESOLVE_INCIDENT, SILENCE, EXPIRE_SILENCE)
