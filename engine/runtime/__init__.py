"""Deciding: the tracer and its events, applying a rule (``firing``), the backends' agendas, statuses held over
time, exclusivity and decision identity (``decisions``), targets, and the streamed pipeline (``stream``)."""
