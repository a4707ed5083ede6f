"""Process mining on journeys: one module per analysis.

``dfg`` (directly-follows graphs), ``variants``, ``loops``, ``paths``,
``decisions`` (decision points), ``flows`` (journey flows for a Sankey) and
``models`` (process-model discovery with pm4py). The functions are imported
from the top-level package (``jl.dfg``, ``jl.variants`` …); this package does
not re-export them, so every module stays reachable by its name.
"""
