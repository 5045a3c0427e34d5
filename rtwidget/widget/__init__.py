"""Floor 4: the notebook widget. ``RealtimeWidget`` (an anywidget) and what it needs: the bridge between session
events and ``kind`` messages, the barge-in playhead, event-log rows, panel views, the joined front-end bundle, and
``static/`` (the front end itself). Importing this loads anywidget and ipywidgets; ``import rtwidget`` does not.
"""

from __future__ import annotations

from .realtime_widget import RealtimeWidget

__all__ = ["RealtimeWidget"]
