"""The queue engine, one module per concept; `QueueEngine` (core.py) is the entry point.

The controller, the simulator and the tests import from here: QueueEngine and its
decide()/apply(), the Outcome and Reply a command gives, and the state the store loads.
"""

from edge.queue.engine.core import QueueEngine
from edge.queue.engine.state import Counter, EngineState, NewConfig, Outcome, Reply
from edge.queue.policies import Policies

__all__ = ["Counter", "EngineState", "NewConfig", "Outcome", "Policies", "QueueEngine", "Reply"]
