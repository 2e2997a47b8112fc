"""Local workaround (reported to the lead): with pytest-asyncio 1.x and looptime 0.9 on Python 3.11, the
first async test after a sync one makes looptime call `policy.get_event_loop()`, which creates an event
loop nobody closes; the ResourceWarning then fails the run. Marking "no current loop" once, at collection,
makes that call raise instead (looptime handles it)."""

import asyncio

asyncio.set_event_loop(None)
