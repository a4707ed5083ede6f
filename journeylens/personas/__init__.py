"""Data-driven personas: ``features`` (per-user features), ``model`` (the PersonaModel estimator),
``markov`` (the mixture of Markov chains) and ``profiles``. The public names are imported from the
top-level package (``jl.PersonaModel``, ``jl.profile``, ``jl.user_features``)."""
