"""Outcomes of journeys: funnels, drop-off points, roadblocks and time to convert.

One topic per module: :mod:`.funnels`, :mod:`.dropoffs`, :mod:`.roadblocks` and
:mod:`.survival` (time to convert). The last three share how each journey ended
(converted, lost, dropped off or censored; :mod:`.common`), computed by the
kernels of :mod:`journeylens.engine.outcomes`.
"""
