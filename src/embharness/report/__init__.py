"""Reports, the regression gate and results export.

``embharness``'s package import points mteb's caches into the project before any of these
modules imports mteb.
"""
