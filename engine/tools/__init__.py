"""Tools over runs and policies: ``verify`` a decisions file, ``diff`` two policies, run policy ``cases``."""
